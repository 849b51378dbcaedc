import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    // one fork per file: the hub's native modules (better-sqlite3) and TF.js keep per-process state
    pool: 'forks',
  },
});
