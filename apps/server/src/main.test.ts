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

  it('refuses an allowed origin that is not an origin, naming it', () => {
    const result = start({ PORT: '0', TABULA_ALLOWED_ORIGINS: 'https://lab.example,lab.example:8080' });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe('tabula: invalid environment: TABULA_ALLOWED_ORIGINS: "lab.example:8080" is not an origin: an origin is scheme://host[:port], with :* for any port, or * for any origin');
  });

  it('refuses a trusted proxy that is not an address or subnet', () => {
    const result = start({ PORT: '0', TABULA_TRUST_PROXY: 'loopback,proxy.example' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('tabula: invalid environment: TABULA_TRUST_PROXY: invalid IP address: proxy.example');
  });
});
