/**
 * Real Redis and PostgreSQL servers from Debian's packages, started the usual way on a free loopback port in a
 * temporary directory, for the multi-hub tests and `npm run cluster`. Each is one child process whose pid we hold
 * (postgres itself, not pg_ctl), stopped by that pid; nothing listens beyond 127.0.0.1 and every wait is bounded.
 * PostgreSQL's initdb refuses root: as root, the server runs as the `postgres` user (the package creates it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import pg from 'pg';

/** Where Debian's packages put the servers; the same variables point elsewhere (see scripts/system-requirements.mjs). */
export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';
export const INITDB = process.env.TABULA_INITDB ?? '/usr/lib/postgresql/15/bin/initdb';

export interface LocalService {
  /** redis://127.0.0.1:P or postgres://postgres@127.0.0.1:P/postgres */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`) and removes its directory. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Whether a process with this pid exists (signal 0 tests without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A port nobody listens on now (another process may still take it before we do: callers start at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port; rejects after `timeoutMs` or when `child` exits. */
async function waitForPort(port: number, child: ChildProcess, what: string, timeoutMs: number, output: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it listened: ${output().slice(-600)}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms: ${output().slice(-600)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function service(child: ChildProcess, url: string, port: number, dir: string, signal: NodeJS.Signals): LocalService {
  let stopped: Promise<void> | null = null;
  return {
    url,
    port,
    pid: child.pid!,
    stop(graceMs = 5000) {
      stopped ??= new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.kill(signal);
      });
      return stopped;
    },
  };
}

/** Collects a child's output, so a failure to start can say why. */
function captured(child: ChildProcess): () => string {
  let text = '';
  const keep = (chunk: Buffer) => (text = (text + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text;
}

/** A Redis server without persistence (`--save '' --appendonly no`), for one test or one local cluster. */
export async function startRedis(options: { timeoutMs?: number; port?: number } = {}): Promise<LocalService> {
  const dir = mkdtempSync(join(tmpdir(), 'tabula-redis-'));
  // A given port: a Redis restarted where its clients expect it.
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = await listeningServer(REDIS_SERVER, args, {}, port, dir, options.timeoutMs ?? 10_000);
  return service(child, `redis://127.0.0.1:${port}`, port, dir, 'SIGTERM');
}

/** Spawns a server and waits until it listens on `port`; on failure, kills it and removes `dir`. */
async function listeningServer(
  command: string,
  args: string[],
  identity: { uid?: number; gid?: number },
  port: number,
  dir: string,
  timeoutMs: number,
): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...identity });
  const output = captured(child);
  try {
    await waitForPort(port, child, basename(command), timeoutMs, output);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return child;
}

/** The postgres user's uid and gid when we are root (initdb refuses root); undefined otherwise. */
function postgresIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root, and there is no postgres user to run PostgreSQL as');
  return { uid, gid };
}

/**
 * A throwaway PostgreSQL cluster: initdb with trust authentication for loopback connections and no fsync (a test
 * database: fast, not durable across a power cut), then the server itself on a free port, its socket in the same
 * temporary directory. Connect as `postgres` to the `postgres` database.
 */
export async function startPostgres(
  options: { timeoutMs?: number } = {},
): Promise<LocalService & { restart(downMs?: number): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tabula-pg-'));
  const identity = postgresIdentity();
  if (identity) chownSync(dir, identity.uid, identity.gid);
  const data = join(dir, 'data');
  const asPostgres = identity ? { uid: identity.uid, gid: identity.gid } : {};
  const init = spawnSync(INITDB, ['-D', data, '-A', 'trust', '--no-sync', '-U', 'postgres', '-E', 'UTF8'], {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    ...asPostgres,
  });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status ?? init.error?.message}): ${(init.stderr || init.stdout || '').slice(-600)}`);
  }
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const launch = () => startPostgresServer(data, port, dir, asPostgres, timeoutMs);
  let current = service(await launch(), url, port, dir, 'SIGINT');
  return {
    url,
    port,
    get pid() {
      return current.pid;
    },
    stop: (graceMs) => current.stop(graceMs),
    async restart(downMs = 0) {
      // The same data and port: what its clients see is a database that went away and came back.
      await stopKeepingData(current.pid);
      await new Promise((r) => setTimeout(r, downMs));
      current = service(await launch(), url, port, dir, 'SIGINT');
    },
  };
}

/** SIGINT (PostgreSQL's fast shutdown) to `pid`, then waits until it is gone (at most 10 s). */
async function stopKeepingData(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const until = Date.now() + 10_000;
  for (;;) {
    if (!processAlive(pid)) return;
    if (Date.now() > until) {
      process.kill(pid, 'SIGKILL');
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The postgres server on `data`, listening on `port`, once it accepts sessions. */
async function startPostgresServer(
  data: string,
  port: number,
  dir: string,
  asPostgres: { uid?: number; gid?: number },
  timeoutMs: number,
): Promise<ChildProcess> {
  const args = [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'full_page_writes=off',
  ];
  const child = await listeningServer(join(dirname(INITDB), 'postgres'), args, asPostgres, port, dir, timeoutMs);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  // Listening is not ready: until recovery ends the server refuses sessions ("the database system is starting up").
  const until = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return child;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > until) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`postgres on port ${port} accepted no session in time: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
