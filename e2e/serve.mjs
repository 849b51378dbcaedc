// Playwright's webServer: the built hub on the e2e port, a fresh temporary data directory, a known token.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const child = spawn(join(root, 'apps/server/node_modules/.bin/tsx'), [join(root, 'apps/server/src/main.ts')], {
  env: {
    ...process.env,
    PORT: process.env.TABULA_E2E_PORT ?? '18765',
    TABULA_HOST: '127.0.0.1',
    TABULA_DATA_DIR: mkdtempSync(join(tmpdir(), 'tabula-e2e-')),
    TABULA_ADMIN_TOKEN: 'e2e-admin-token-0001',
  },
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
