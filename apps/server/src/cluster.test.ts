// `npm run cluster`: Redis, PostgreSQL and N hubs for a person to try, stopped together by Ctrl-C.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { processAlive } from './local-services.js';
import { afterThisTest, waitFor } from './test-hub.js';

const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const script = fileURLToPath(new URL('./cluster.ts', import.meta.url));

describe('npm run cluster', () => {
  it('starts Redis, PostgreSQL and two hubs that list each other, and Ctrl-C stops every one of them', async () => {
    // Prepare
    const child = spawn(tsx, [script, '--hubs', '2', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    afterThisTest(() => void child.kill('SIGKILL'));

    // Execute
    await waitFor(() => output.includes('Ctrl-C stops'), `the cluster to start:\n${output}`, 90_000);
    const urls = [...output.matchAll(/hub-\d: participant page (http:\/\/localhost:\d+)\//g)].map((m) => m[1]!);
    const hubs = (await (await fetch(`${urls[1]}/api/hubs`)).json()) as { id: string; facts: { url: string; cluster?: boolean } }[];
    const pids = [...output.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);

    // Assert
    expect(urls).toHaveLength(2);
    expect(hubs.map((h) => `${h.id} ${h.facts.url} ${h.facts.cluster}`)).toEqual([`hub-1 ${urls[0]} true`, `hub-2 ${urls[1]} true`]);
    expect(output).toMatch(/dashboard \(any hub's shows them all\): http:\/\/localhost:\d+\/admin\//);
    expect(code).toBe(0);
    expect(output).toMatch(/tabula cluster: stopped/);
    expect(pids).toHaveLength(2);
    await waitFor(() => pids.every((pid) => !processAlive(pid)), 'Redis and PostgreSQL to be gone', 10_000);
  }, 120_000);
});
