// Playwright's webServer: the built hub on the e2e port with a fresh temporary data directory and the known token.
import { startHubProcess } from './hub-process.js';

const hub = await startHubProcess(Number(process.env.TABULA_E2E_PORT ?? 18_765));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void hub.stop().then(() => process.exit(0)));
