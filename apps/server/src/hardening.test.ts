// What a stranger on the network can send the hub, and what it must not achieve (issue 9). Real hub on port 0,
// real socket.io clients (and raw WebSockets where socket.io would refuse to send the bytes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import {
  PROTOCOL_VERSION,
  RunConfigSchema,
  decodeFrame,
  type Ack,
  type ClientToServerEvents,
  type Farewell,
  type Hello,
  type RoundTask,
  type ServerToClientEvents,
  type UpdateMeta,
  type UpdateReceipt,
  type Welcome,
} from '@tabula/core';
import { pino } from 'pino';
import type { Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openStore } from './store.js';
import { TEST_TOKEN, TINY_LENGTH, afterThisTest, connectedSocket, deltaFrame, runConfig, startTestHub, waitFor } from './test-hub.js';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

function hello(overrides: Partial<Hello> = {}): Hello {
  return { protocolVersion: PROTOCOL_VERSION, backend: 'test', examples: 10, heldOut: false, dataSource: 'own', ...overrides };
}

const sayHello = (socket: ClientSocket, body: Partial<Hello> | Record<string, unknown>): Promise<Ack<Welcome>> =>
  socket.timeout(5000).emitWithAck('participant:hello', hello(body as Partial<Hello>));

/** A participant that keeps its tasks; `answer` decides what it does with each. */
async function participant(url: string, body: Partial<Hello> = {}) {
  const socket = await connectedSocket(url);
  const tasks: RoundTask[] = [];
  socket.on('round:start', (task, frame) => {
    decodeFrame(frame);
    tasks.push(task);
  });
  const welcome = await sayHello(socket, body);
  if (!welcome.ok) throw new Error(welcome.error);
  return { socket, welcome: welcome.data, tasks };
}

function meta(task: RoundTask, overrides: Partial<UpdateMeta> = {}): UpdateMeta {
  return { runId: task.runId, round: task.round, modelVersion: task.modelVersion, numExamples: 1, loss: 0.5, trainMs: 1, ...overrides };
}
const submit = (socket: ClientSocket, m: UpdateMeta, frame: Uint8Array): Promise<Ack<UpdateReceipt>> =>
  socket.timeout(5000).emitWithAck('update:submit', m, frame);

async function post(url: string, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A pino logger whose lines the test reads. */
function capturedLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('hub hardening: crashes', () => {
  it('refuses a scenario the resolver cannot build, over HTTP and in a hello, and keeps serving', async () => {
    const { url } = await startTestHub();
    const bad = { name: 'shards', participants: 5, heldOut: 20 };
    const started = await post(url, '/api/runs', runConfig({ scenario: bad as never }));
    expect(started.status).toBe(400);
    expect(String(started.body.error)).toMatch(/scenario: heldOut must be an integer in \[0, 5\], got 20/);
    const socket = await connectedSocket(url);
    const reply = await sayHello(socket, { dataSource: 'assigned', scenario: bad });
    expect(reply).toMatchObject({ ok: false });
    expect(reply).toHaveProperty('error', expect.stringMatching(/malformed hello: scenario: heldOut/));
    // Alive: the same connection and a new one are served.
    expect(await sayHello(socket, { dataSource: 'assigned' })).toMatchObject({ ok: true });
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
  });

  it('does not resume a stored run whose config it would refuse today (no crash loop), and says why', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tabula-stale-'));
    afterThisTest(() => rmSync(dataDir, { recursive: true, force: true }));
    const store = openStore(join(dataDir, 'tabula.sqlite'));
    const valid = RunConfigSchema.parse(runConfig({ rounds: 3 }));
    store.createRun({
      id: 'run-old',
      config: { ...valid, scenario: { name: 'shards', participants: 5, seed: 1, heldOut: 20 } },
      createdAt: 1,
    });
    store.close();
    const { hub, url } = await startTestHub({ dataDir });
    expect(hub.active()).toBeNull();
    expect(hub.store.getRun('run-old')).toMatchObject({ status: 'failed' });
    expect(hub.store.getRun('run-old')).toHaveProperty('error', expect.stringMatching(/cannot resume: .*scenario: heldOut must be/));
    const socket = await connectedSocket(url);
    expect(await sayHello(socket, { dataSource: 'assigned' })).toMatchObject({ ok: true });
  });

  it('turns an exception inside any socket or HTTP handler into an error answer, not a dead process', async () => {
    const { hub, url } = await startTestHub();
    const join = hub.registry.join.bind(hub.registry);
    hub.registry.join = () => {
      throw new Error('boom on purpose');
    };
    const socket = await connectedSocket(url);
    expect(await sayHello(socket, {})).toEqual({
      ok: false,
      code: 'internal',
      error: 'the hub failed to handle participant:hello; nothing changed',
    });
    const listRuns = hub.store.listRuns.bind(hub.store);
    hub.store.listRuns = () => {
      throw new Error('boom on purpose');
    };
    const runs = await fetch(`${url}/api/runs`);
    expect(runs.status).toBe(500);
    // Restored, everything works again on the same connection.
    hub.registry.join = join;
    hub.store.listRuns = listRuns;
    expect(await sayHello(socket, {})).toMatchObject({ ok: true });
    expect((await fetch(`${url}/api/runs`)).status).toBe(200);
  });

  it('keeps nothing per scenario named in hellos: thousands of distinct scenarios do not grow the heap', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { url } = await startTestHub();
    const sockets = await Promise.all(Array.from({ length: 10 }, () => connectedSocket(url)));
    const hellos = async (from: number, count: number) => {
      await Promise.all(
        sockets.map(async (socket, k) => {
          for (let i = 0; i < count; i++) {
            const reply = await sayHello(socket, {
              dataSource: 'assigned',
              scenario: { name: 'sinusoid', participants: 10_000, heldOut: 9_999, seed: from + k * count + i },
            });
            expect(reply.ok).toBe(true);
          }
        }),
      );
    };
    await hellos(0, 20); // warm up
    gc();
    const before = process.memoryUsage().heapUsed;
    await hellos(1000, 100); // 1,000 scenarios: ~300 MB when each held-out set was cached
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(grown).toBeLessThan(40 * 2 ** 20);
  });
});

describe('hub hardening: identity', () => {
  it('refuses a stranger who says hello with a connected participant’s id, and leaves the participant untouched', async () => {
    const { hub, url } = await startTestHub();
    const victim = await participant(url, { participantId: 'victim-1' });
    expect(victim.welcome.participantSecret).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    let victimDisconnected = false;
    victim.socket.on('disconnect', () => (victimDisconnected = true));
    // The admin's participants list shows the id, never the secret.
    const listed = await (await fetch(`${url}/api/participants`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text();
    expect(listed).toContain('victim-1');
    expect(listed).not.toContain(victim.welcome.participantSecret);
    const stranger = await connectedSocket(url);
    for (const body of [{ participantId: 'victim-1' }, { participantId: 'victim-1', participantSecret: 'guessed-secret-0123456' }]) {
      const reply = await sayHello(stranger, body);
      expect(reply).toMatchObject({ ok: false, code: 'identity-refused' });
      expect(reply).toHaveProperty('error', expect.stringMatching(/participant id victim-1 is taken/));
    }
    // The victim still trains: its update is the one aggregated under its id.
    const started = await post(url, '/api/runs', runConfig({ perRound: 1 }));
    const task = await waitFor(() => victim.tasks[0], 'the victim’s task');
    expect(await submit(victim.socket, meta(task), deltaFrame(task, new Float32Array(TINY_LENGTH).fill(1)))).toMatchObject({ ok: true });
    await waitFor(() => hub.store.getRun(String(started.body.id))?.status === 'completed', 'the run');
    expect(hub.store.listRounds(String(started.body.id))[0]!.participants).toEqual(['victim-1']);
    expect(victimDisconnected).toBe(false);
  });

  it('lets the rightful participant resume from a new connection with its secret, telling the old one why it closes', async () => {
    const { hub, url } = await startTestHub();
    const first = await participant(url, { participantId: 'reloads-1' });
    const farewell = new Promise<Farewell>((resolve) => first.socket.once('participant:farewell', resolve));
    const reloaded = await participant(url, { participantId: 'reloads-1', participantSecret: first.welcome.participantSecret });
    expect(reloaded.welcome).toMatchObject({ participantId: 'reloads-1', participantSecret: first.welcome.participantSecret });
    expect(await farewell).toMatchObject({ code: 'replaced', reconnect: false });
    await waitFor(() => !first.socket.connected, 'the old connection to close');
    expect(hub.registry.list().map((p) => [p.id, p.connected])).toEqual([['reloads-1', true]]);
  });

  it('gives one connection one identity, and forgets disconnected participants after the retention period', async () => {
    const { hub, url } = await startTestHub({ participantRetentionMs: 300 });
    const socket = await connectedSocket(url);
    const first = await sayHello(socket, {});
    expect(first.ok).toBe(true);
    let refused = 0;
    for (let i = 0; i < 150; i++) {
      const reply = await sayHello(socket, { participantId: `new-id-${i}` });
      if (!reply.ok && /one identity per connection/.test(reply.error)) refused++;
    }
    expect(refused).toBe(150);
    // A hello without an id on the same connection is the same participant again.
    const again = await sayHello(socket, {});
    expect(again.ok && first.ok && again.data.participantId === first.data.participantId).toBe(true);
    expect(hub.registry.size).toBe(1);
    const others = await Promise.all(Array.from({ length: 20 }, () => participant(url)));
    expect(hub.registry.size).toBe(21);
    for (const other of others) other.socket.disconnect();
    socket.disconnect();
    await waitFor(() => hub.registry.size === 0, 'the registry to forget the disconnected participants', 10_000);
  });
});

describe('hub hardening: the record', () => {
  it('refuses an evaluation in another metric than the run’s, or an impossible accuracy, and the round’s metrics stay honest', async () => {
    const { hub, url } = await startTestHub();
    const honest = await participant(url);
    const liar = await participant(url);
    const started = await post(url, '/api/runs', runConfig({ perRound: 2, minParticipants: 2 }));
    const honestTask = await waitFor(() => honest.tasks[0], 'a task');
    const liarTask = await waitFor(() => liar.tasks[0], 'a task');
    const evaluation = { metric: 'accuracy' as const, before: 0.4, after: 0.6, adaptSteps: 5, testExamples: 10 };
    for (const bad of [
      { before: 250 },
      { metric: 'mse' as const, before: 1e308 },
      { metric: 'mse' as const },
      { testExamples: 2 ** 53 - 1 },
    ]) {
      const reply = await submit(
        liar.socket,
        meta(liarTask, { evaluation: { ...evaluation, ...bad } }),
        deltaFrame(liarTask, new Float32Array(TINY_LENGTH).fill(1)),
      );
      expect(reply.ok, JSON.stringify(bad)).toBe(false);
    }
    expect(
      await submit(liar.socket, meta(liarTask, { evaluation }), deltaFrame(liarTask, new Float32Array(TINY_LENGTH).fill(1))),
    ).toMatchObject({ ok: true });
    expect(
      await submit(honest.socket, meta(honestTask, { evaluation }), deltaFrame(honestTask, new Float32Array(TINY_LENGTH).fill(1))),
    ).toMatchObject({ ok: true });
    await waitFor(() => hub.store.getRun(String(started.body.id))?.status === 'completed', 'the run');
    expect(hub.store.listRounds(String(started.body.id))[0]!.metrics).toMatchObject({ global: 0.4, personalized: 0.6 });
  });
});

describe('hub hardening: logs and small things', () => {
  it('logs client text escaped and cut, and only a few refusals per connection', async () => {
    const { logger, lines } = capturedLogger();
    const { url } = await startTestHub({ logger });
    const socket = await connectedSocket(url);
    const untyped = socket as unknown as { emit(event: string, ...args: unknown[]): void };
    untyped.emit('forged\n{"level":30,"msg":"admin signed in"}');
    untyped.emit('x'.repeat(1_000_000));
    for (let i = 0; i < 30; i++) untyped.emit(`unknown-${i}`);
    await sayHello(socket, {}); // a round trip: every event above has been handled
    const refusals = lines.filter((line) => line.includes('unknown event'));
    expect(refusals).toHaveLength(5);
    expect(refusals[0]).toContain(String.raw`forged\\n{\\\"level\\\":30`);
    expect(lines.every((line) => line.length < 2000)).toBe(true);
    expect(lines.some((line) => line.includes('"msg":"admin signed in"') && !line.includes('unknown event'))).toBe(false);
  });

  it('answers update:submit with an acknowledgement but no frame', async () => {
    const { url } = await startTestHub();
    const socket = await connectedSocket(url);
    await sayHello(socket, {});
    const untyped = socket.timeout(5000) as unknown as { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
    const reply = await untyped.emitWithAck('update:submit', { runId: 'r', round: 1 });
    expect(reply).toMatchObject({ ok: false });
    expect(reply).toHaveProperty('error', expect.stringMatching(/the binary frame is missing/));
  });
});

describe('hub hardening: memory an incomplete packet can hold', () => {
  /** A raw socket.io connection over WebSocket, to send packets socket.io-client would never produce. */
  async function raw(url: string): Promise<{ ws: WebSocket; closed: () => Promise<void> }> {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
    afterThisTest(() => ws.terminate());
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    // Answer the hub's pings, so only a refusal (not a heartbeat timeout) can close the connection.
    ws.on('message', (data) => {
      if (Buffer.isBuffer(data) && data.toString() === '2') ws.send('3');
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve()); // engine.io open packet
      ws.once('error', reject);
    });
    ws.send('40'); // join the main namespace
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    const refused = () =>
      Promise.race([
        closed,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the hub kept the connection open')), 10_000)),
      ]);
    return { ws, closed: refused };
  }

  it('closes a connection that announces more attachments than the protocol uses, or an oversized header', async () => {
    const { url } = await startTestHub();
    const many = await raw(url);
    many.ws.send(`4510-["update:submit",{},${Array.from({ length: 10 }, (_, i) => `{"_placeholder":true,"num":${i}}`).join(',')}]`);
    await many.closed();
    const big = await raw(url);
    big.ws.send(`451-["update:submit",{"pad":"${'y'.repeat(100_000)}"},{"_placeholder":true,"num":0}]`);
    await big.closed();
    // One attachment with a small header is what a participant sends: the hub answers it.
    const socket = await connectedSocket(url);
    await sayHello(socket, {});
    expect(
      await submit(socket, { runId: 'r', round: 1, modelVersion: 0, numExamples: 1, loss: 0, trainMs: 0 }, new Uint8Array(16)),
    ).toMatchObject({ ok: false });
  });

  it('caps the bytes all connections together park in incomplete packets', async () => {
    const { url } = await startTestHub({ parserLimits: { maxHeaderBytes: 64 * 1024, maxParkedBytes: 100 * 1024 } });
    const header = `451-["update:submit",{"pad":"${'z'.repeat(40_000)}"},{"_placeholder":true,"num":0}]`;
    const a = await raw(url);
    const b = await raw(url);
    a.ws.send(header);
    b.ws.send(header);
    const c = await raw(url);
    c.ws.send(header); // 120 KB parked in all: over the cap
    await c.closed();
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
    // When a parked packet completes, its bytes are free again.
    a.ws.send(Buffer.alloc(8));
    const d = await raw(url);
    d.ws.send(header);
    await new Promise((r) => setTimeout(r, 200));
    expect(d.ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe('hub hardening: silent participants', () => {
  it('records who answers, and stops selecting participants that let their last selections pass while others suffice', async () => {
    const { hub, url } = await startTestHub();
    // Two honest participants answer every task at once; four silent ones never answer.
    const honest = await Promise.all([participant(url, { participantId: 'honest-1' }), participant(url, { participantId: 'honest-2' })]);
    for (const p of honest) {
      p.socket.on('round:start', (task) => void submit(p.socket, meta(task), deltaFrame(task, new Float32Array(TINY_LENGTH).fill(0.1))));
    }
    await Promise.all(['silent-1', 'silent-2', 'silent-3', 'silent-4'].map((participantId) => participant(url, { participantId })));
    const started = await post(url, '/api/runs', runConfig({ rounds: 12, perRound: 2, minParticipants: 1, roundDeadlineMs: 300 }));
    const runId = String(started.body.id);
    await waitFor(() => hub.store.getRun(runId)?.status === 'completed', 'the run', 30_000);
    const rounds = hub.store.listRounds(runId).filter((r) => r.status === 'completed');
    // A silent participant is selected until it lets a selection pass; from then on the two honest ones suffice.
    // (Sampling 2 of 6 at random would select silent ones ~16 times in 12 rounds.)
    const silentSelections = rounds.flatMap((r) => r.failures.map((f) => f.participantId));
    for (const id of ['silent-1', 'silent-2', 'silent-3', 'silent-4'])
      expect(silentSelections.filter((s) => s === id).length).toBeLessThanOrEqual(1);
    expect(rounds.filter((r) => r.failures.length === 0).length).toBeGreaterThanOrEqual(8);
    // The record is visible in the participants list.
    const listed = (await (await fetch(`${url}/api/participants`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).json()) as {
      id: string;
      selected: number;
      answered: number;
      missStreak: number;
    }[];
    const byId = new Map(listed.map((p) => [p.id, p]));
    expect(byId.get('honest-1')!.answered).toBe(byId.get('honest-1')!.selected);
    expect(byId.get('silent-1')).toMatchObject({ answered: 0 });
    expect(byId.get('silent-1')!.missStreak).toBe(byId.get('silent-1')!.selected);
  });
});
