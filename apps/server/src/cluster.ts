/**
 * `npm run cluster -- --hubs 3`: several hubs on this machine, for a person to try multi-hub mode (design/scale-out.md):
 * a local Redis and a local PostgreSQL from Debian's packages (temporary directories, free loopback ports) and N hub
 * processes on consecutive ports, each printing its lines with its name. Ctrl-C stops the hubs, then the servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startPostgres, startRedis, type LocalService } from './local-services.js';

const USAGE = 'usage: npm run cluster -- [--hubs N (1-9, default 3)] [--port FIRST (default 8080)]';

function options(): { hubs: number; port: number } {
  try {
    const { values } = parseArgs({ options: { hubs: { type: 'string', default: '3' }, port: { type: 'string', default: '8080' } } });
    const hubs = Number(values.hubs);
    const port = Number(values.port);
    if (!Number.isInteger(hubs) || hubs < 1 || hubs > 9) throw new Error(`--hubs must be 1-9, got ${values.hubs}`);
    if (!Number.isInteger(port) || port < 0 || port + hubs > 65_535) throw new Error(`--port must be a port, got ${values.port}`);
    return { hubs, port };
  } catch (error) {
    console.error(`tabula cluster: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    process.exit(2);
  }
}

const { hubs: count, port: firstPort } = options();
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const adminToken = process.env.TABULA_ADMIN_TOKEN ?? randomBytes(18).toString('base64url');
const services: LocalService[] = [];
const hubs: { name: string; child: ChildProcess; port: number }[] = [];
let stopping = false;

/** Hubs first (they close their runs cleanly), then the servers; each wait is bounded. */
async function stopAll(code: number): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  const exits = hubs.map(
    ({ child }) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 12_000).unref();
      }),
  );
  await Promise.all(exits);
  for (const service of services.reverse()) await service.stop().catch(() => undefined);
  console.log('tabula cluster: stopped');
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stopAll(0));

try {
  console.log('tabula cluster: starting Redis and PostgreSQL...');
  const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  services.push(redis, postgres);
  console.log(`  redis:      ${redis.url} (pid ${redis.pid})`);
  console.log(`  postgresql: ${postgres.url} (pid ${postgres.pid})`);
  for (let i = 0; i < count; i++) {
    const name = `hub-${i + 1}`;
    const port = firstPort === 0 ? 0 : firstPort + i;
    const child = spawn(tsx, [main], {
      env: {
        ...process.env,
        PORT: String(port),
        TABULA_HUB_ID: name,
        TABULA_REDIS_URL: redis.url,
        TABULA_DATABASE_URL: postgres.url,
        TABULA_ADMIN_TOKEN: adminToken,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const hub = { name, child, port };
    hubs.push(hub);
    // Each hub's lines, named; its own "running" banner tells the port it took (port 0: any free one).
    const ready = new Promise<void>((resolve, reject) => {
      let pending = '';
      const onData = (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const taken = /participant page: http:\/\/localhost:(\d+)\//.exec(line)?.[1];
          if (taken) {
            hub.port = Number(taken);
            resolve();
          }
          if (!/^ {2}(participant page|dashboard|admin token):/.test(line) && !line.startsWith('Tabula hub is running'))
            console.log(`[${name}] ${line}`);
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code, signal) => {
        if (!stopping) {
          console.error(`[${name}] exited (${code ?? signal})`);
          reject(new Error(`${name} exited (${code ?? signal}) before it listened`));
        }
      });
    });
    await ready;
  }
  console.log(`\nTabula cluster is running: ${count} hub${count === 1 ? '' : 's'} on one Redis and one PostgreSQL`);
  for (const { name, port } of hubs) console.log(`  ${name}: participant page http://localhost:${port}/`);
  console.log(`  dashboard (any hub's shows them all): http://localhost:${hubs[0]!.port}/admin/`);
  console.log(`  admin token: ${adminToken}`);
  console.log('  Ctrl-C stops the hubs, Redis and PostgreSQL.');
} catch (error) {
  console.error(`tabula cluster: cannot start: ${error instanceof Error ? error.message : String(error)}`);
  await stopAll(1);
}
