import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

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
    expect(result.stderr.trim()).toBe(
      'tabula: invalid environment: TABULA_ALLOWED_ORIGINS: "lab.example:8080" is not an origin: an origin is scheme://host[:port], with :* for any port, or * for any origin',
    );
  });

  it('refuses a trusted proxy that is not an address or subnet', () => {
    const result = start({ PORT: '0', TABULA_TRUST_PROXY: 'loopback,proxy.example' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('tabula: invalid environment: TABULA_TRUST_PROXY: invalid IP address: proxy.example');
  });
});

const TOKEN = 'main-test-token-0123';
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tabula-main-'));
  cleanups.unshift(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface HubProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
}

/**
 * main.ts as `npm start` runs it, on port 0. tsx runs it in a child process of its own (whose pid is in
 * owner.json), so each hub gets a process group of its own, and cleaning up kills the group.
 */
function launch(dataDir: string): HubProcess {
  const child = spawn(tsx, [main], {
    env: { ...process.env, PORT: '0', TABULA_HOST: '127.0.0.1', TABULA_DATA_DIR: dataDir, TABULA_ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  cleanups.push(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  });
  return { child, output: () => output, exited };
}

/** Waits (at most 60 s) until the hub says it is running; returns its port. */
async function running(hub: HubProcess): Promise<number> {
  const until = Date.now() + 60_000;
  for (;;) {
    const port = /Tabula hub is running[\s\S]*?http:\/\/localhost:(\d+)\//.exec(hub.output())?.[1];
    if (port) return Number(port);
    if (hub.child.exitCode !== null) throw new Error(`the hub exited with ${hub.child.exitCode}:\n${hub.output()}`);
    if (Date.now() > until) throw new Error(`the hub did not start within 60 s:\n${hub.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves with the exit code, or fails after 60 s. */
function exitOf(hub: HubProcess): Promise<number | string> {
  return Promise.race([
    hub.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`the hub did not exit within 60 s:\n${hub.output()}`)), 60_000).unref(),
    ),
  ]);
}

function ownerPid(dataDir: string): number {
  return (JSON.parse(readFileSync(join(dataDir, 'owner.json'), 'utf8')) as { pid: number }).pid;
}

function fingerprint(dataDir: string): string {
  const hash = createHash('sha256');
  for (const file of ['tabula.sqlite', 'tabula.sqlite-wal']) {
    try {
      hash.update(readFileSync(join(dataDir, file)));
    } catch {
      hash.update(`no ${file}`);
    }
  }
  return hash.digest('hex');
}

describe('the data directory', () => {
  it('refuses a TABULA_DATA_DIR that names a file, in one line', () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    const result = start({ PORT: '0', TABULA_DATA_DIR: file });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`tabula: TABULA_DATA_DIR ${file}: it is a file, not a directory\n`);
  });

  it('refuses a TABULA_DATA_DIR below a file, in one line', () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    const result = start({ PORT: '0', TABULA_DATA_DIR: join(file, 'data') });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`tabula: TABULA_DATA_DIR ${join(file, 'data')}: a part of its path is a file, not a directory\n`);
  });

  // root writes into a read-only directory regardless of its mode, so this case cannot be staged as root
  it.skipIf(process.getuid?.() === 0)('refuses a read-only data directory, in one line', () => {
    const dir = tempDir();
    chmodSync(dir, 0o555);
    cleanups.push(() => chmodSync(dir, 0o755));
    const result = start({ PORT: '0', TABULA_DATA_DIR: dir });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`tabula: TABULA_DATA_DIR ${dir}: it is not writable (permission denied, EACCES)\n`);
  });

  it('belongs to one hub: a second refuses to start naming the first and touches nothing; after kill -9 a third starts', async () => {
    // Prepare: a hub with a run in progress (it waits for participants, so nothing is written meanwhile)
    const dataDir = tempDir();
    const first = launch(dataDir);
    const port = await running(first);
    const created = await fetch(`http://127.0.0.1:${port}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        algorithm: 'fedavg',
        model: { kind: 'mlp', inputShape: [2], hidden: [], outputs: 2, task: 'classification' },
        rounds: 2,
        waitForParticipantsMs: 600_000,
      }),
    });
    expect(created.status).toBe(201);
    const run = (await created.json()) as { id: string };
    const pid = ownerPid(dataDir);
    const before = fingerprint(dataDir);

    // Execute
    const second = launch(dataDir);
    const code = await exitOf(second);

    // Assert: one line naming the holder; the first hub's run and files are as they were
    expect(code).not.toBe(0);
    expect(second.output()).toMatch(
      new RegExp(
        `^tabula: data directory ${dataDir} is in use by another hub \\(pid ${pid}, started [0-9T:.Z-]+\\); stop it first or set TABULA_DATA_DIR\n$`,
      ),
    );
    expect(fingerprint(dataDir)).toBe(before);
    const after = (await (await fetch(`http://127.0.0.1:${port}/api/runs/${run.id}`)).json()) as { status: string; rounds: unknown[] };
    expect([after.status, after.rounds]).toEqual(['running', []]);

    // Execute: the first dies without closing anything
    process.kill(pid, 'SIGKILL');
    await exitOf(first);
    const third = launch(dataDir);
    const thirdPort = await running(third);

    // Assert: the third owns the directory and carries the run on
    expect(ownerPid(dataDir)).not.toBe(pid);
    const resumed = (await (await fetch(`http://127.0.0.1:${thirdPort}/api/health`)).json()) as { activeRun: { id: string } | null };
    expect(resumed.activeRun?.id).toBe(run.id);
    third.child.kill('SIGTERM');
    expect(await exitOf(third)).toBe(0);
  }, 180_000);
});
