import { mkdtempSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  PROTOCOL_VERSION,
  decodeFrame,
  initialWeights,
  type ClientToServerEvents,
  type MlpSpec,
  type RoundTask,
  type RunConfigInput,
  type RunSummary,
  type ServerToClientEvents,
} from '@tabula/core';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createHub, type EmbeddedHub } from './hub.js';
import { deltaFrame, runConfig, waitFor } from './test-hub.js';

const TOKEN = 'storage-test-token-0123';
/** 10,002 parameters: each checkpoint (40 KB) needs new pages in the SQLite file. */
const MODEL: MlpSpec = { kind: 'mlp', inputShape: [2], hidden: [2000], outputs: 2, task: 'classification' };
const LENGTH = 10_002;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tabula-storage-'));
  cleanups.unshift(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startHub(dataDir: string, maxDatabaseBytes?: number): Promise<{ hub: EmbeddedHub; url: string }> {
  const hub = await createHub({ dataDir, adminToken: TOKEN, ...(maxDatabaseBytes ? { maxDatabaseBytes } : {}) });
  await new Promise<void>((resolve) => hub.http.listen(0, '127.0.0.1', resolve));
  let closed: Promise<void> | null = null;
  const close = hub.close.bind(hub);
  hub.close = () => (closed ??= close());
  cleanups.push(() => hub.close());
  return { hub, url: `http://127.0.0.1:${(hub.http.address() as AddressInfo).port}` };
}

/** A participant that answers each task, when told to, with a delta of 0.5 everywhere. */
async function participant(url: string) {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  cleanups.push(() => void socket.disconnect());
  const tasks: RoundTask[] = [];
  const waiters: ((task: RoundTask) => void)[] = [];
  socket.on('round:start', (task, frame) => {
    expect(decodeFrame(frame as Uint8Array).values.length).toBe(LENGTH);
    const waiter = waiters.shift();
    if (waiter) waiter(task);
    else tasks.push(task);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  expect(
    await socket.timeout(5000).emitWithAck('participant:hello', {
      protocolVersion: PROTOCOL_VERSION,
      backend: 'test',
      examples: 10,
      heldOut: false,
      dataSource: 'own',
    }),
  ).toMatchObject({ ok: true });
  return {
    /** Waits for the next task and answers it. */
    async answer(): Promise<RoundTask> {
      const task = tasks.shift() ?? (await new Promise<RoundTask>((resolve) => waiters.push(resolve)));
      const delta = deltaFrame(task, new Float32Array(LENGTH).fill(0.5));
      const meta = { runId: task.runId, round: task.round, modelVersion: task.modelVersion, numExamples: 1, loss: 0.5, trainMs: 1 };
      expect(await socket.timeout(5000).emitWithAck('update:submit', meta, delta)).toMatchObject({ ok: true });
      return task;
    },
  };
}

type Participant = Awaited<ReturnType<typeof participant>>;

/** Both participants answer one round's task; resolves with the round it was for. */
async function answerRound(participants: readonly Participant[]): Promise<number> {
  const tasks = await Promise.all(participants.map((p) => p.answer()));
  return tasks[0]!.round;
}

function config(overrides: Partial<RunConfigInput> = {}): RunConfigInput {
  return runConfig({
    model: MODEL,
    rounds: 3,
    perRound: 2,
    minParticipants: 2,
    waitForParticipantsMs: 60_000,
    roundDeadlineMs: 60_000,
    ...overrides,
  });
}

async function api(
  url: string,
  method: 'POST' | 'DELETE' | 'GET',
  path: string,
  body?: unknown,
  token: string | null = TOKEN,
): Promise<{ status: number; body: RunSummary & { error?: string } }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (response.status === 204 ? {} : await response.json()) as RunSummary & { error?: string } };
}

/** The initial weights plus 0.5 per completed round, rounded to float32 each round as the hub does. */
function expectedWeights(rounds: number): Float32Array {
  return initialWeights(MODEL, 7).map((w) => {
    let x = w;
    for (let r = 0; r < rounds; r++) x = Math.fround(x + 0.5);
    return x;
  });
}

describe('storage failures', () => {
  it('a full disk pauses the run with the reason and its saved rounds; freed space and a resume complete each round once', async () => {
    // Prepare: an old run to delete later (5 checkpoints), and a run with round 1 saved when the hub closes
    const dataDir = tempDir();
    const first = await startHub(dataDir);
    let people = await Promise.all([participant(first.url), participant(first.url)]);
    const old = await api(first.url, 'POST', '/api/runs', config({ rounds: 5 }));
    for (let r = 1; r <= 5; r++) await answerRound(people);
    await waitFor(() => first.hub.store.getRun(old.body.id)?.status === 'completed', 'the old run to complete');
    const { body: run } = await api(first.url, 'POST', '/api/runs', config());
    expect(await answerRound(people)).toBe(1);
    await waitFor(() => first.hub.store.getRun(run.id)?.completedRounds === 1, 'round 1 to be saved');
    await first.hub.close();
    // the disk is now full: the file may not grow by a single page
    const { hub, url } = await startHub(dataDir, statSync(join(dataDir, 'tabula.sqlite')).size);
    people = await Promise.all([participant(url), participant(url)]);

    // Execute: round 2 completes, and its checkpoint does not fit
    expect(await answerRound(people)).toBe(2);
    const paused = await waitFor(() => hub.store.getRun(run.id)?.status === 'paused' && hub.store.getRun(run.id), 'the run to pause');

    // Assert: the reason says what happened and what to do; round 1 is intact; nothing is running
    expect(paused.error).toBe('storage failure in round 2: database or disk is full; round 1 is saved: free space, then resume the run');
    expect(paused.completedRounds).toBe(1);
    expect(hub.store.listRounds(run.id).map((r) => [r.round, r.status])).toEqual([[1, 'completed']]);
    expect(hub.store.latestCheckpoint(run.id)?.weights).toEqual(expectedWeights(1));
    expect(hub.active()).toBeNull();
    expect((await api(url, 'GET', `/api/runs/${run.id}`)).body).toMatchObject({ status: 'paused', error: paused.error });

    // Execute: an admin frees space by deleting the old run, and resumes
    expect((await api(url, 'POST', `/api/runs/${run.id}/resume`, undefined, null)).status).toBe(401);
    expect((await api(url, 'DELETE', `/api/runs/${old.body.id}`)).status).toBe(204);
    const resumed = await api(url, 'POST', `/api/runs/${run.id}/resume`);
    expect(resumed).toMatchObject({ status: 200, body: { id: run.id, status: 'running', error: null, completedRounds: 1 } });
    expect(await answerRound(people)).toBe(2);
    expect(await answerRound(people)).toBe(3);
    const done = await waitFor(
      () => hub.store.getRun(run.id)?.status === 'completed' && hub.store.getRun(run.id),
      'the resumed run to complete',
    );

    // Assert: every round exactly once, and the model as if the disk had never filled
    expect(done.completedRounds).toBe(3);
    expect(hub.store.listRounds(run.id).map((r) => [r.round, r.status])).toEqual([
      [1, 'completed'],
      [2, 'completed'],
      [3, 'completed'],
    ]);
    expect(hub.store.latestCheckpoint(run.id)?.weights).toEqual(expectedWeights(3));
    expect((await api(url, 'POST', `/api/runs/${run.id}/resume`)).status).toBe(409);
  });

  it('resumes a failed run that has no checkpoint from round 1, with a round’s attempts afresh, only while no other run is in progress', async () => {
    // Prepare: a run that failed for want of participants
    const { hub, url } = await startHub(tempDir());
    const { body: run } = await api(url, 'POST', '/api/runs', config({ rounds: 1, waitForParticipantsMs: 0 }));
    await waitFor(() => hub.store.getRun(run.id)?.status === 'failed', 'the run to fail');
    const people = await Promise.all([participant(url), participant(url)]);
    const { body: other } = await api(url, 'POST', '/api/runs', config({ minParticipants: 3, perRound: 3 }));

    // Execute / Assert: refused while another run is in progress, and for a run that does not exist
    const busy = await api(url, 'POST', `/api/runs/${run.id}/resume`);
    expect(busy).toMatchObject({ status: 409, body: { error: `run ${other.id} is in progress: stop it first` } });
    expect(hub.store.getRun(run.id)?.status).toBe('failed');
    expect((await api(url, 'POST', '/api/runs/run-nope/resume')).status).toBe(404);
    expect((await api(url, 'POST', `/api/runs/${other.id}/stop`)).status).toBe(200);

    // Execute
    const resumed = await api(url, 'POST', `/api/runs/${run.id}/resume`);
    expect(resumed).toMatchObject({ status: 200, body: { status: 'running', completedRounds: 0 } });
    expect(await answerRound(people)).toBe(1);
    await waitFor(() => hub.store.getRun(run.id)?.status === 'completed', 'the resumed run to complete');

    // Assert: the failed attempts stay on record, the fourth completed round 1 from the initial weights
    expect(hub.store.listRounds(run.id).map((r) => [r.round, r.attempt, r.status])).toEqual([
      [1, 1, 'failed'],
      [1, 2, 'failed'],
      [1, 3, 'failed'],
      [1, 4, 'completed'],
    ]);
    expect(hub.store.latestCheckpoint(run.id)?.weights).toEqual(expectedWeights(1));
    expect((await api(url, 'POST', `/api/runs/${run.id}/resume`)).body.error).toBe(
      `run ${run.id} is completed: only a paused or failed run can be resumed`,
    );
  });

  it('a checkpoint corrupted on disk is never served: the run fails naming run and round, and resuming it is refused', async () => {
    // Prepare: a run with two rounds saved, then one bit of round 2's weights flipped while the hub is down
    const dataDir = tempDir();
    const first = await startHub(dataDir);
    const people = await Promise.all([participant(first.url), participant(first.url)]);
    const { body: run } = await api(first.url, 'POST', '/api/runs', config());
    await answerRound(people);
    await answerRound(people);
    await waitFor(() => first.hub.store.getRun(run.id)?.completedRounds === 2, 'two saved rounds');
    await first.hub.close();
    const raw = new Database(join(dataDir, 'tabula.sqlite'));
    const { weights } = raw.prepare('SELECT weights FROM checkpoints WHERE run_id = ? AND round = 2').get(run.id) as { weights: Buffer };
    weights[4_000] = (weights[4_000] as number) ^ 0x10;
    raw.prepare('UPDATE checkpoints SET weights = ? WHERE run_id = ? AND round = 2').run(weights, run.id);
    raw.close();

    // Execute
    const { hub, url } = await startHub(dataDir);

    // Assert: the hub is up, the run did not resume, and the reason names the run and round
    const reason = `cannot resume: store: run '${run.id}' checkpoint of round 2 is corrupt: its weights or strategy state do not match the checksum stored with them`;
    expect(hub.active()).toBeNull();
    expect(hub.store.getRun(run.id)).toMatchObject({ status: 'failed', error: reason, completedRounds: 2 });
    const model = await fetch(`${url}/api/model/weights.bin`);
    expect(model.status).not.toBe(200);
    expect(((await model.json()) as { error: string }).error).toContain(`run '${run.id}' checkpoint of round 2 is corrupt`);
    const refused = await api(url, 'POST', `/api/runs/${run.id}/resume`);
    expect(refused).toMatchObject({ status: 409 });
    expect(refused).toHaveProperty('body.error', expect.stringContaining(`checkpoint of round 2 is corrupt`));
    expect(hub.store.getRun(run.id)).toMatchObject({ status: 'failed', error: reason });
  });
});

describe('closing while a run starts', () => {
  it('a run whose start is still reading the store when the hub closes is not launched: it stays running, to resume', async () => {
    // Prepare
    const dataDir = tempDir();
    const { hub } = await startHub(dataDir);

    // Execute: start a run and close the hub before the start has finished.
    const starting = hub.startRun({
      algorithm: 'fedavg',
      model: { kind: 'mlp', inputShape: [2], hidden: [], outputs: 2, task: 'classification' },
      rounds: 1,
    });
    await hub.close();
    const started = await starting;

    // Assert: nothing runs on the closed hub, and the store keeps the run to resume at the next start.
    expect(started.ok).toBe(true);
    expect(hub.active()).toBeNull();
    const { hub: next } = await startHub(dataDir);
    expect(next.active()?.id).toBe(started.ok ? started.data.id : '');
  });
});
