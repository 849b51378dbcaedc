import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    // TF.js keeps global engine state per process; files run isolated anyway, but one fork at a time
    // keeps the 2-core machine responsive.
    pool: 'forks',
  },
});
