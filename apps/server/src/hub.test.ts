import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PROTOCOL_VERSION,
  SINUSOID_MLP,
  initialWeights,
  type Ack,
  type Assignment,
  type ParticipantSocket,
  type RunSummary,
  type UpdateReceipt,
} from '@tabula/core';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createHub, type EmbeddedHub, type HubOptions } from './hub.js';
import {
  TINY_LENGTH,
  TINY_MLP,
  deltaFrame,
  runConfig,
  sayHello,
  scriptedClient,
  updateMeta as meta,
  waitFor,
  type ClientSocket,
} from './test-hub.js';

const TOKEN = 'test-admin-token-0123';
const tiny = TINY_MLP;
const LENGTH = TINY_LENGTH;
const config = runConfig;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startHub(
  options: { dataDir?: string; maxParameters?: number; heartbeat?: HubOptions['heartbeat'] } = {},
): Promise<{ hub: EmbeddedHub; url: string; dataDir: string }> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tabula-hub-'));
  const hub = await createHub({
    dataDir,
    adminToken: TOKEN,
    ...(options.maxParameters ? { maxParameters: options.maxParameters } : {}),
    ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
  });
  await new Promise<void>((resolve) => hub.http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(hub.http.address() as AddressInfo).port}`;
  let closed = false;
  const closeOnce = hub.close.bind(hub);
  const close = async () => {
    if (!closed) await closeOnce();
    closed = true;
  };
  cleanups.push(close);
  if (!options.dataDir) cleanups.unshift(() => rmSync(dataDir, { recursive: true, force: true }));
  return { hub: Object.assign(hub, { close }), url, dataDir };
}

async function postRun(
  url: string,
  body: unknown,
  token: string | null = TOKEN,
): Promise<{ status: number; body: RunSummary & { error?: string; code?: string } }> {
  const response = await fetch(`${url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as RunSummary & { error?: string } };
}

describe('hub', () => {
  it('runs a three-participant round whose new weights are exactly the FedAvg of the deltas', async () => {
    // Prepare
    const { hub, url } = await startHub();
    const clients = await Promise.all(['aaaa', 'bbbb', 'cccc'].map((id) => scriptedClient(url, id)));
    // Execute
    const started = await postRun(url, config({ minParticipants: 3 }));
    expect(started.status).toBe(201);
    const examples = [1, 1, 2];
    await Promise.all(
      clients.map(async (client, k) => {
        const { task, weights } = await client.nextTask();
        expect(Array.from(weights)).toEqual(Array.from(initialWeights(tiny, 7)));
        const ack = await client.submit(meta(task, examples[k]!), deltaFrame(task, new Float32Array(LENGTH).fill(k + 1)));
        expect(ack).toMatchObject({ ok: true });
      }),
    );
    const run = await waitFor(
      () => hub.store.getRun(started.body.id)?.status === 'completed' && hub.store.getRun(started.body.id),
      'the run to complete',
    );
    // Assert: (1*1 + 1*2 + 2*3) / 4 = 2.25, added with server lr 1.
    expect(run.completedRounds).toBe(1);
    const expected = initialWeights(tiny, 7).map((w) => Math.fround(w + 2.25));
    expect(hub.store.latestCheckpoint(run.id)!.weights).toEqual(expected);
    const rounds = hub.store.listRounds(run.id);
    expect(rounds).toHaveLength(1);
    expect(rounds[0]).toMatchObject({ status: 'completed', participants: ['aaaa', 'bbbb', 'cccc'], metrics: { loss: 0.5 } });
    // The rounds as CSV, for plotting elsewhere; an unknown run is a 404.
    const csv = await fetch(`${url}/api/runs/${run.id}/rounds.csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(new RegExp(`^${run.id},1,1,completed,`));
    expect((await fetch(`${url}/api/runs/nope/rounds.csv`)).status).toBe(404);
    // The model endpoint serves the same weights in TF.js format.
    const response = await fetch(`${url}/api/model/weights.bin`);
    const bytes = await response.arrayBuffer();
    expect(response.status, new TextDecoder().decode(bytes)).toBe(200);
    const bin = new Float32Array(bytes);
    expect(bin).toEqual(expected);
  });

  it('with median aggregation, one participant with a huge delta and a huge example count cannot move the model', async () => {
    // Prepare: two honest participants and one that scales its delta and claims 1000 examples.
    const { hub, url } = await startHub();
    const clients = await Promise.all(['aaaa', 'bbbb', 'cccc'].map((id) => scriptedClient(url, id)));
    const started = await postRun(url, config({ minParticipants: 3, aggregation: { kind: 'median' } }));
    expect(started.status).toBe(201);
    // Execute
    const sent = [
      { examples: 1, value: 1 },
      { examples: 2, value: 2 },
      { examples: 1000, value: 1e6 },
    ];
    await Promise.all(
      clients.map(async (client, k) => {
        const { task } = await client.nextTask();
        expect(
          await client.submit(meta(task, sent[k]!.examples), deltaFrame(task, new Float32Array(LENGTH).fill(sent[k]!.value))),
        ).toMatchObject({ ok: true });
      }),
    );
    const run = await waitFor(
      () => hub.store.getRun(started.body.id)?.status === 'completed' && hub.store.getRun(started.body.id),
      'the run to complete',
    );
    // Assert: the median of (1, 2, 1e6) is 2 in every coordinate (FedAvg would have moved each by ~998,000).
    expect(hub.store.latestCheckpoint(run.id)!.weights).toEqual(initialWeights(tiny, 7).map((w) => Math.fround(w + 2)));
  });

  it('completes a partial run config from the dashboard’s presets and answers the full config; refusals carry a code', async () => {
    const { hub, url } = await startHub();
    const started = await postRun(url, { algorithm: 'maml', scenario: { name: 'sinusoid' }, rounds: 3 });
    expect(started.status).toBe(201);
    expect(started.body.config).toMatchObject({
      algorithm: 'maml',
      model: SINUSOID_MLP,
      rounds: 3,
      scenario: { name: 'sinusoid', participants: 1000, kShot: 5 },
      server: { kind: 'fedadam' },
    });
    // Another run while this one runs: a conflict, with its code in the body and the status mapped from it.
    const second = await postRun(url, { rounds: 3 });
    expect(second).toMatchObject({ status: 409, body: { code: 'conflict' } });
    expect(second).toHaveProperty('body.error', expect.stringMatching(/is in progress/));
    await hub.stopRun(started.body.id);
    const shards = await postRun(url, { rounds: 3 });
    expect(shards.body.config).toMatchObject({ algorithm: 'reptile', rounds: 3, scenario: { name: 'shards' } });
    const misspelt = await postRun(url, { rounds: 3, perround: 2 });
    expect(misspelt).toMatchObject({ status: 400, body: { code: 'invalid' } });
    expect(misspelt).toHaveProperty('body.error', expect.stringMatching(/unknown key "perround"/));
    const missing = await fetch(`${url}/api/runs/nope/stop`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect([missing.status, ((await missing.json()) as { code: string }).code]).toEqual([404, 'not-found']);
  });

  it('deletes a finished run over HTTP with the admin token, refuses the running one, and forgets its rounds', async () => {
    // Prepare: one run in progress (it waits for participants that never come).
    const { hub, url } = await startHub();
    const started = await postRun(url, config({ waitForParticipantsMs: 60_000 }));
    const id = started.body.id;
    const del = (token: string | null) =>
      fetch(`${url}/api/runs/${id}`, { method: 'DELETE', headers: token ? { authorization: `Bearer ${token}` } : {} });
    // Execute / Assert
    expect((await del(null)).status).toBe(401);
    const busy = await del(TOKEN);
    expect(busy.status).toBe(409);
    expect(await busy.json()).toEqual({ code: 'conflict', error: `run ${id} is in progress: stop it first` });
    await hub.stopRun(id);
    expect((await del(TOKEN)).status).toBe(204);
    expect((await fetch(`${url}/api/runs/${id}`)).status).toBe(404);
    expect(hub.store.listRuns()).toEqual([]);
    expect((await del(TOKEN)).status).toBe(404);
  });

  it('offers a tab that joins a scenario run holding another scenario a shard of the run’s', async () => {
    // Prepare: a run on a sinusoid scenario waits for participants.
    const { url } = await startHub();
    const runScenario = { name: 'sinusoid' as const, participants: 10, seed: 2, kShot: 5, heldOut: 2 };
    expect((await postRun(url, config({ model: SINUSOID_MLP, scenario: runScenario }))).status).toBe(201);
    const socket: ClientSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    cleanups.push(() => void socket.disconnect());
    const offer = new Promise<Assignment>((resolve) => socket.once('participant:assign', resolve));
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    // Execute: it says hello holding shard 3 of another sinusoid scenario.
    const welcome = await sayHello(socket, {
      protocolVersion: PROTOCOL_VERSION,
      backend: 'test',
      examples: 10,
      heldOut: false,
      dataSource: 'assigned',
      scenario: { ...runScenario, seed: 1 },
      assignedIndex: 3,
    });
    // Assert: it keeps what it holds, and is offered the run's scenario.
    expect(welcome).toMatchObject({ ok: true, data: { assignment: { scenario: { seed: 1 }, index: 3 } } });
    expect(await offer).toEqual({ scenario: runScenario, index: 0 });
  });

  it('refuses a connection that floods it with messages, then drops it, while a round with the others completes', async () => {
    // Prepare
    const { hub, url } = await startHub();
    const flooder = await scriptedClient(url, 'flooder');
    const honest = await scriptedClient(url, 'honest');
    const dropped = new Promise<string>((resolve) => flooder.socket.once('disconnect', resolve));
    // Execute: 300 acked messages at once (beyond the burst of 200), then keep flooding without acks.
    const flooding: ParticipantSocket = flooder.socket;
    const acks = await Promise.all(
      Array.from({ length: 300 }, () =>
        flooding
          .timeout(5000)
          .emitWithAck('eval:submit', {} as never)
          .catch((e: unknown) => ({ ok: false, error: String(e) })),
      ),
    );
    for (let i = 0; i < 600; i++) flooder.socket.emit('participant:status', { state: 'waiting' });
    // Assert: the excess got the reason, the flooder was cut off, and the hub carries on with the honest one.
    expect(acks.filter((a) => !a.ok && /rate limit/.test(a.error)).length).toBeGreaterThan(50);
    expect(await dropped).toBe('io server disconnect');
    expect((await postRun(url, config({ perRound: 1 }))).status).toBe(201);
    const { task } = await honest.nextTask();
    expect(await honest.submit(meta(task, 1), deltaFrame(task, new Float32Array(LENGTH).fill(1)))).toMatchObject({ ok: true });
    await waitFor(() => hub.store.listRounds(task.runId).some((r) => r.status === 'completed'), 'the round');
  });

  it('serves socket.io long-polling (a browser’s first transport) next to the HTTP API', async () => {
    const { url } = await startHub();
    const socket: ClientSocket = io(url, { transports: ['polling'], reconnection: false, forceNew: true });
    cleanups.push(() => void socket.disconnect());
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const welcome = await sayHello(socket, {
      protocolVersion: PROTOCOL_VERSION,
      participantId: 'poll',
      backend: 'test',
      examples: 1,
      heldOut: false,
      dataSource: 'own',
    });
    expect(welcome).toMatchObject({ ok: true });
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
  });

  it('gives a reconnecting participant its old identity back', async () => {
    const { hub, url } = await startHub();
    const first = await scriptedClient(url, 'keep-me');
    first.socket.disconnect();
    await waitFor(() => hub.registry.list()[0]?.connected === false, 'the disconnect');
    await scriptedClient(url, 'keep-me', 10, first.participantSecret);
    expect(hub.registry.list().map((p) => [p.id, p.connected])).toEqual([['keep-me', true]]);
    const listed = (await (await fetch(`${url}/api/participants`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      id: string;
    }[];
    expect(listed.map((p) => p.id)).toEqual(['keep-me']);
  });

  it('drops a participant that stops answering (a frozen or vanished tab) within the heartbeat, and rounds go on without it', async () => {
    // Prepare: a fast heartbeat; one participant's connection goes silent without closing (no FIN, no goodbye).
    const { hub, url } = await startHub({ heartbeat: { pingIntervalMs: 250, pingTimeoutMs: 1000 } });
    const silent = await scriptedClient(url, 'silent');
    const alive = await scriptedClient(url, 'alive');
    const ws = (silent.socket.io.engine.transport as unknown as { ws?: { pause(): void; terminate(): void } }).ws;
    expect(typeof ws?.pause).toBe('function');
    ws!.pause();
    // A paused socket never completes a close handshake: cut it, or the hub's close would wait for it.
    cleanups.push(() => ws!.terminate());
    // Execute / Assert: the hub lists it as gone after about pingInterval + pingTimeout, and keeps the other one.
    await waitFor(
      () => hub.registry.list().find((p) => p.id === 'silent')?.connected === false,
      'the silent participant to be dropped',
      10_000,
    );
    expect(hub.registry.connected().map((p) => p.id)).toEqual(['alive']);
    // A run samples only the live one.
    expect((await postRun(url, config({ perRound: 2, minParticipants: 1 }))).status).toBe(201);
    const { task } = await alive.nextTask();
    expect(await alive.submit(meta(task, 1), deltaFrame(task, new Float32Array(LENGTH).fill(1)))).toMatchObject({ ok: true });
    const round = await waitFor(() => hub.store.listRounds(task.runId).find((r) => r.status === 'completed'), 'the round');
    expect(round.participants).toEqual(['alive']);
  });

  it('completes a round without a participant that disconnects mid-round', async () => {
    const { hub, url } = await startHub();
    const [a, b, c] = await Promise.all(['aaaa', 'bbbb', 'cccc'].map((id) => scriptedClient(url, id)));
    const { body: run } = await postRun(url, config({ roundDeadlineMs: 30_000 }));
    const [ta, tb] = await Promise.all([a!.nextTask(), b!.nextTask(), c!.nextTask()]);
    c!.socket.disconnect();
    await a!.submit(meta(ta.task, 1), deltaFrame(ta.task, new Float32Array(LENGTH).fill(1)));
    await b!.submit(meta(tb.task, 1), deltaFrame(tb.task, new Float32Array(LENGTH).fill(3)));
    await waitFor(() => hub.store.getRun(run.id)?.status === 'completed', 'the run to complete');
    const [round] = hub.store.listRounds(run.id);
    expect(round).toMatchObject({ status: 'completed', participants: ['aaaa', 'bbbb'] });
    expect(round!.failures.map((f) => [f.participantId, f.reason])).toEqual([['cccc', expect.stringMatching(/disconnected/)]]);
    expect(round!.durationMs).toBeLessThan(30_000);
    expect(hub.store.latestCheckpoint(run.id)!.weights).toEqual(initialWeights(tiny, 7).map((w) => Math.fround(w + 2)));
  });

  it('selects no paused participant, and a participant paused mid-round is not waited for', async () => {
    // Prepare: cccc paused before the run; bbbb pauses while it holds round 1's task.
    const { hub, url } = await startHub();
    const [a, b, c] = await Promise.all(['aaaa', 'bbbb', 'cccc'].map((id) => scriptedClient(url, id)));
    c!.socket.emit('participant:status', { state: 'paused' });
    await waitFor(() => hub.registry.get('cccc')?.state === 'paused', 'the hub to hear cccc paused');
    const { body: run } = await postRun(url, config({ roundDeadlineMs: 30_000 }));

    // Execute
    const [ta] = await Promise.all([a!.nextTask(), b!.nextTask()]);
    b!.socket.emit('participant:status', { state: 'paused' });
    await a!.submit(meta(ta.task, 1), deltaFrame(ta.task, new Float32Array(LENGTH).fill(1)));
    await waitFor(() => hub.store.getRun(run.id)?.status === 'completed', 'the run to complete');

    // Assert
    const [round] = hub.store.listRounds(run.id);
    expect(round).toMatchObject({ status: 'completed', participants: ['aaaa'] });
    expect(round!.failures).toEqual([{ participantId: 'bbbb', reason: 'paused by the person at the tab' }]);
    expect(round!.durationMs).toBeLessThan(30_000);
  });

  it('retries a round that lacks participants, records each attempt’s reason, then fails the run', async () => {
    const { hub, url } = await startHub();
    await scriptedClient(url, 'alone');
    const { body: run } = await postRun(url, config({ minParticipants: 2, perRound: 2, waitForParticipantsMs: 200 }));
    const failed = await waitFor(
      () => hub.store.getRun(run.id)?.status === 'failed' && hub.store.getRun(run.id),
      'the run to fail',
      20_000,
    );
    expect(failed.error).toMatch(/^round 1 failed 3 times; last: only 1 of the required 2 participants were ready/);
    const attempts = hub.store.listRounds(run.id);
    expect(attempts.map((r) => [r.round, r.attempt, r.status])).toEqual([
      [1, 1, 'failed'],
      [1, 2, 'failed'],
      [1, 3, 'failed'],
    ]);
    expect(attempts[0]!.reason).toMatch(/only 1 of the required 2 participants were ready after 0 s/);
    expect(hub.store.latestCheckpoint(run.id)).toBeNull();
  });

  it('rejects a late update with its reason', async () => {
    const { hub, url } = await startHub();
    const [a, b] = await Promise.all(['aaaa', 'bbbb'].map((id) => scriptedClient(url, id)));
    const { body: run } = await postRun(url, config({ perRound: 2, roundDeadlineMs: 400 }));
    const [ta, tb] = await Promise.all([a!.nextTask(), b!.nextTask()]);
    expect(await a!.submit(meta(ta.task, 1), deltaFrame(ta.task, new Float32Array(LENGTH).fill(1)))).toMatchObject({ ok: true });
    await waitFor(() => hub.store.getRun(run.id)?.status === 'completed', 'the round to close at its deadline');
    const late = await b!.submit(meta(tb.task, 1), deltaFrame(tb.task, new Float32Array(LENGTH).fill(9)));
    expect(late.ok ? late : [late.code, late.error]).toEqual([
      expect.stringMatching(/^(no-run|late)$/),
      expect.stringMatching(/no run is in progress|closed|late/),
    ]);
    const [round] = hub.store.listRounds(run.id);
    expect(round!.participants).toEqual(['aaaa']);
    expect(round!.failures).toEqual([{ participantId: 'bbbb', reason: 'the deadline passed' }]);
  });

  it('answers every bad input with a clear error, keeps serving, and leaves the global weights byte-identical', async () => {
    // Prepare: a round is open with two selected participants.
    const { hub, url } = await startHub();
    const [a, b] = await Promise.all(['aaaa', 'bbbb'].map((id) => scriptedClient(url, id)));
    const { body: run } = await postRun(url, config({ perRound: 2, minParticipants: 2, roundDeadlineMs: 30_000 }));
    const [ta, tb] = await Promise.all([a!.nextTask(), b!.nextTask()]);
    const task = ta.task;
    const before = Buffer.from(hub.active()!.weights.buffer.slice(0));
    const good = new Float32Array(LENGTH).fill(1);
    const nan = good.slice();
    nan[2] = Number.NaN;
    const inf = good.slice();
    inf[0] = Number.POSITIVE_INFINITY;
    // Execute + Assert: each bad input gets an error ack that says why.
    const cases: [string, Promise<Ack<UpdateReceipt>>, RegExp][] = [
      ['NaN', a!.submit(meta(task, 1), deltaFrame(task, nan, { allowNonFinite: true })), /NaN/],
      ['Infinity', a!.submit(meta(task, 1), deltaFrame(task, inf, { allowNonFinite: true })), /Infinity/],
      ['wrong length', a!.submit(meta(task, 1), deltaFrame(task, new Float32Array(5))), /5.*6|6.*5/],
      ['truncated frame', a!.submit(meta(task, 1), deltaFrame(task, good).subarray(0, 40)), /truncated/],
      ['stale round', a!.submit(meta(task, 1, { round: 2, modelVersion: 1 }), deltaFrame(task, good, { round: 2 })), /stale/],
      ['malformed metadata', a!.submit({ runId: task.runId, round: 'one' }, deltaFrame(task, good)), /malformed update/],
      ['JSON weights', a!.submit(meta(task, 1), Array.from(good)), /binary/],
    ];
    for (const [name, reply, message] of cases) {
      const ack = await reply;
      expect(ack.ok, name).toBe(false);
      expect(!ack.ok && ack.error, name).toMatch(message);
    }
    const unknown: unknown = await a!.socket.timeout(5000).emitWithAck('no:such-event' as 'eval:submit', {} as never);
    expect(unknown).toEqual({ ok: false, code: 'invalid', error: 'unknown event "no:such-event"' });
    const adminFromParticipant: unknown = await a!.socket.timeout(5000).emitWithAck('admin:start-run', config());
    expect(adminFromParticipant).toEqual({ ok: false, code: 'unauthorized', error: 'admin token required' });
    expect(Buffer.from(hub.active()!.weights.buffer.slice(0)).equals(before)).toBe(true);
    // A valid update still works, and a second one is a duplicate.
    expect(await a!.submit(meta(task, 1), deltaFrame(task, good))).toMatchObject({ ok: true });
    expect(await a!.submit(meta(task, 1), deltaFrame(task, good))).toHaveProperty('error', expect.stringMatching(/duplicate/));
    expect(await b!.submit(meta(tb.task, 1), deltaFrame(tb.task, new Float32Array(LENGTH).fill(3)))).toMatchObject({ ok: true });
    await waitFor(() => hub.store.getRun(run.id)?.status === 'completed', 'the run to complete');
    // Only the two valid updates count: mean 2.
    expect(hub.store.latestCheckpoint(run.id)!.weights).toEqual(initialWeights(tiny, 7).map((w) => Math.fround(w + 2)));
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
  });

  it('refuses bad configs, missing or wrong tokens and old protocol versions with clear errors', async () => {
    const { url } = await startHub();
    const tokenless = await postRun(url, config(), null);
    expect(tokenless.status).toBe(401);
    expect(tokenless).toHaveProperty('body.error', expect.stringMatching(/admin token required/));
    expect(await postRun(url, config(), 'wrong-token-xxxxxxx')).toMatchObject({ status: 401, body: { error: 'invalid admin token' } });
    const invalid = await postRun(url, { ...config(), rounds: -1, algorithm: 'sgd' });
    expect(invalid.status).toBe(400);
    expect(invalid).toHaveProperty('body.error', expect.stringMatching(/algorithm: .*rounds: /));
    const unparsable = await postRun(url, '{"rounds": ');
    expect(unparsable.status).toBe(400);
    expect(unparsable).toHaveProperty('body.error', expect.stringMatching(/invalid JSON body/));
    const mamlCnn = await postRun(
      url,
      config({ algorithm: 'maml', model: { kind: 'cnn', inputShape: [28, 28, 1], filters: [4], outputs: 10, task: 'classification' } }),
    );
    expect(mamlCnn.status).toBe(400);
    expect(mamlCnn).toHaveProperty('body.error', expect.stringMatching(/maml .*cnn/));
    expect((await fetch(`${url}/api/runs/nope`)).status).toBe(404);
    // Wrong protocol version: refused with the reason.
    const old: ClientSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    cleanups.push(() => void old.disconnect());
    await new Promise((r) => old.once('connect', () => r(null)));
    const reply = await sayHello(old, { protocolVersion: 0, backend: 'x', examples: 1, heldOut: false, dataSource: 'own' });
    expect(reply).toEqual({
      ok: false,
      code: 'client-too-old',
      error: `protocol version 0 is older than this hub's ${PROTOCOL_VERSION}: reload the page`,
    });
    // A participant newer than the hub is told the hub is too old, not to reload.
    const newer: ClientSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    cleanups.push(() => void newer.disconnect());
    await new Promise((r) => newer.once('connect', () => r(null)));
    const newerReply = await sayHello(newer, {
      protocolVersion: PROTOCOL_VERSION + 1,
      backend: 'x',
      examples: 1,
      heldOut: false,
      dataSource: 'own',
    });
    expect(newerReply).toMatchObject({ ok: false, code: 'server-too-old' });
    // An admin socket with a wrong token cannot connect.
    const admin: ClientSocket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { role: 'admin', token: 'nope-nope-nope' },
    });
    cleanups.push(() => void admin.disconnect());
    const error = await new Promise<Error>((r) => admin.once('connect_error', r));
    expect(error.message).toBe('invalid admin token');
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
  });

  it('survives a message over the size limit: that connection drops, everyone else carries on', async () => {
    const { hub, url } = await startHub({ maxParameters: 1000 });
    const [a, b] = await Promise.all(['aaaa', 'bbbb'].map((id) => scriptedClient(url, id)));
    const { body: run } = await postRun(url, config({ perRound: 2, roundDeadlineMs: 30_000 }));
    const [ta, tb] = await Promise.all([a!.nextTask(), b!.nextTask()]);
    const dropped = new Promise((r) => a!.socket.once('disconnect', r));
    a!.socket.emit('update:submit', meta(ta.task, 1), new Uint8Array(1024 * 1024), () => undefined);
    await dropped;
    expect(await b!.submit(meta(tb.task, 1), deltaFrame(tb.task, new Float32Array(LENGTH).fill(1)))).toMatchObject({ ok: true });
    await waitFor(() => hub.store.getRun(run.id)?.status === 'completed', 'the run to complete');
    expect(hub.store.listRounds(run.id)[0]!.participants).toEqual(['bbbb']);
  });

  it('resumes a run after a restart on the same data directory without losing a completed round', async () => {
    // Prepare: participants that answer every task with a delta of 0.5.
    const dataDir = mkdtempSync(join(tmpdir(), 'tabula-restart-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const autoRespond = async (url: string) => {
      for (const id of ['aaaa', 'bbbb']) {
        const client = await scriptedClient(url, id);
        void (async () => {
          for (;;) {
            const { task } = await client.nextTask();
            await new Promise((r) => setTimeout(r, 150));
            await client.submit(meta(task, 1), deltaFrame(task, new Float32Array(LENGTH).fill(0.5))).catch(() => undefined);
          }
        })();
      }
    };
    const first = await startHub({ dataDir });
    await autoRespond(first.url);
    const { body: run } = await postRun(first.url, config({ rounds: 6, perRound: 2 }));
    await waitFor(() => (hub1Rounds() >= 2 ? true : null), 'two completed rounds');
    function hub1Rounds() {
      return first.hub.store.getRun(run.id)?.completedRounds ?? 0;
    }
    // Execute: close mid-run, reopen on the same directory.
    await first.hub.close();
    const second = await startHub({ dataDir });
    const resumed = second.hub.store.getRun(run.id)!;
    expect(resumed.status).toBe('running');
    const completedBefore = resumed.completedRounds;
    expect(completedBefore).toBeGreaterThanOrEqual(2);
    expect(second.hub.active()?.modelVersion).toBe(completedBefore);
    await autoRespond(second.url);
    // Assert: the run finishes; every round from 1 to 6 is there exactly once as completed.
    await waitFor(() => second.hub.store.getRun(run.id)?.status === 'completed', 'the resumed run to complete', 30_000);
    const completed = second.hub.store
      .listRounds(run.id)
      .filter((r) => r.status === 'completed')
      .map((r) => r.round);
    expect(completed).toEqual([1, 2, 3, 4, 5, 6]);
    expect(second.hub.store.latestCheckpoint(run.id)!.weights).toEqual(
      initialWeights(tiny, 7).map((w) => {
        let x = w;
        for (let r = 0; r < 6; r++) x = Math.fround(x + 0.5);
        return x;
      }),
    );
  });
});
