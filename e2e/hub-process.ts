import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A port nothing listens on right now (for a hub of its own). */
export { freePort } from '../apps/server/src/local-services.js';

export const ADMIN_TOKEN = 'e2e-admin-token-0001';
const root = fileURLToPath(new URL('..', import.meta.url));

export interface HubProcess {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Everything the hub printed, for assertions and failure reports. */
  readonly output: () => string;
  /** SIGTERM: the hub closes; a running run stays running in the store. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  restart(): Promise<void>;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The built hub as `npm start` runs it, on its own port and temporary data directory. */
export async function startHubProcess(
  port: number,
  dataDir = mkdtempSync(join(tmpdir(), 'tabula-e2e-')),
  /** More environment: TABULA_DATABASE_URL and TABULA_REDIS_URL make it one of several hubs. */
  env: Record<string, string> = {},
): Promise<HubProcess> {
  let child: ChildProcess | null = null;
  let output = '';
  const url = `http://127.0.0.1:${port}`;
  const launch = async () => {
    child = spawn(join(root, 'apps/server/node_modules/.bin/tsx'), [join(root, 'apps/server/src/main.ts')], {
      env: {
        ...process.env,
        PORT: String(port),
        TABULA_HOST: '127.0.0.1',
        TABULA_DATA_DIR: dataDir,
        TABULA_ADMIN_TOKEN: ADMIN_TOKEN,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/api/health`)).ok) return;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null) throw new Error(`hub exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > until) throw new Error(`hub did not start within 60 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const stop = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGTERM');
    await exited;
    // tsx runs the hub in a child process of its own: wait until nothing listens on the port any more, so a
    // restart cannot be answered by the old hub still closing (and then find the port taken).
    const until = Date.now() + 20_000;
    while (await listening(port)) {
      if (Date.now() > until) throw new Error(`port ${port} is still in use 20 s after the hub was stopped:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await launch();
  return { url, port, dataDir, output: () => output, stop, restart: async () => (await stop(), await launch()) };
}
