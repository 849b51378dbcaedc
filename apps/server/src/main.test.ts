import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

function start(env: Record<string, string>) {
  return spawnSync(tsx, [main], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
}

describe('hub start-up', () => {
  it('fails at once with a clear message on an invalid PORT', () => {
    const result = start({ PORT: 'eighty' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('tabula: invalid environment: PORT: PORT must be a number');
  });

  it('refuses a short admin token', () => {
    const result = start({ PORT: '0', TABULA_ADMIN_TOKEN: 'short' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('TABULA_ADMIN_TOKEN must be at least 12 characters');
  });
});
