import Database from 'better-sqlite3';
import {
  ManualClock,
  PROTOCOL_VERSION,
  RunConfigSchema,
  encodeFrame,
  initialWeights,
  privacySpent,
  type ModelSpec,
  type RoundCancel,
  type RoundSummary,
  type RoundTask,
  type RunConfigInput,
  type RunSummary,
} from '@tabula/core';
import { describe, expect, it } from 'vitest';
import { asyncStore } from './async-store.js';
import type { RegistryEntry } from './registry.js';
import { RunController } from './run-controller.js';
import { openStore, type Store } from './store.js';

const MODEL: ModelSpec = { kind: 'mlp', inputShape: [2], hidden: [], outputs: 2, task: 'classification' };
/** Parameters of MODEL: a 2x2 kernel and 2 biases. */
const LENGTH = 6;
const T0 = 1_000_000;

function participant(id: string, overrides: Partial<RegistryEntry> = {}): RegistryEntry {
  return {
    id,
    socketId: `socket-${id}`,
    backend: 'cpu',
    examples: 10,
    heldOut: false,
    validation: false,
    dataSource: 'own',
    scenario: null,
    assignedIndex: null,
    state: 'waiting',
    lastSeen: T0,
    lastRound: null,
    lastLatencyMs: null,
    selected: 0,
    answered: 0,
    missStreak: 0,
    ...overrides,
  };
}

interface Sent {
  readonly id: string;
  readonly task: RoundTask;
  readonly frame: Uint8Array;
}

/** A run controller over an in-memory store, a manual clock and fake participants: no sockets. */
async function harness(config: Partial<RunConfigInput>, options: { participants?: RegistryEntry[]; store?: Store; runId?: string } = {}) {
  const store = options.store ?? openStore(':memory:');
  const runId = options.runId ?? 'r1';
  const run =
    store.getRun(runId) ??
    store.createRun({
      id: runId,
      config: RunConfigSchema.parse({
        algorithm: 'fedavg',
        model: MODEL,
        rounds: 2,
        waitForParticipantsMs: 1000,
        roundDeadlineMs: 5000,
        ...config,
      }),
      createdAt: 1,
    });
  const clock = new ManualClock(T0);
  const world = {
    store,
    clock,
    participants: options.participants ?? [],
    sent: [] as Sent[],
    cancels: [] as { id: string; notice: RoundCancel }[],
    outcomes: [] as [string, boolean][],
    latencies: [] as [string, number, number][],
    rounds: [] as RoundSummary[],
    runs: [] as RunSummary[],
    logs: [] as string[],
  };
  const controller = await RunController.open(run, {
    store: asyncStore(store),
    eligible: () => world.participants,
    send: (id, task, frame) => {
      world.sent.push({ id, task, frame });
      return world.participants.some((p) => p.id === id);
    },
    cancel: (id, notice) => world.cancels.push({ id, notice }),
    onRound: (summary) => world.rounds.push(summary),
    onRun: (summary) => world.runs.push(summary),
    onLatency: (id, round, ms) => world.latencies.push([id, round, ms]),
    onOutcome: (id, answered) => world.outcomes.push([id, answered]),
    now: () => clock.now(),
    clock,
    log: (line) => world.logs.push(line),
  });
  return { controller, ...world };
}

/** The update a participant sends for its task: `values` as its delta. */
function answer(controller: RunController, { id, task }: Sent, values: number[] = [1, 2, 3, 4, 5, 6]) {
  const meta = { runId: task.runId, round: task.round, modelVersion: task.modelVersion, numExamples: 10, loss: 0.5, trainMs: 1 };
  const frame = encodeFrame({
    kind: 'delta',
    protocolVersion: PROTOCOL_VERSION,
    runId: task.runId,
    round: task.round,
    modelVersion: task.modelVersion,
    dtype: 'float32',
    values: Float32Array.from(values),
  });
  return controller.submitUpdate(id, meta, frame);
}

const full = (): never => {
  throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
};

describe('RunController', () => {
  it('runs every round: sends the weights to the selected participants, folds their answers, persists and reports each round', async () => {
    // Prepare
    const h = await harness({ rounds: 2 }, { participants: [participant('a'), participant('b')] });
    const initial = initialWeights(MODEL, 1);

    // Execute: round 1, after 40 ms
    const finished = h.controller.start();
    await h.clock.advance(0);
    expect(h.sent.map((s) => [s.id, s.task.round, s.task.mode])).toEqual([
      ['a', 1, 'fit'],
      ['b', 1, 'fit'],
    ]);
    expect(h.controller.openRound).toBe(1);
    await h.clock.advance(40);
    expect(answer(h.controller, h.sent[0]!, [1, 1, 1, 1, 1, 1])).toEqual({ ok: true, data: { round: 1, received: 1 } });
    expect(answer(h.controller, h.sent[1]!, [3, 3, 3, 3, 3, 3])).toMatchObject({ ok: true });
    await h.clock.advance(0);

    // Assert: round 1 moved the weights by the mean delta (2) and round 2 went out on model version 1
    expect(h.rounds.map((r) => [r.round, r.attempt, r.status, r.participants])).toEqual([[1, 1, 'completed', ['a', 'b']]]);
    expect(Array.from(h.controller.weights, (w, i) => w - initial[i]!)).toEqual(
      Array.from({ length: LENGTH }, (_, i) => Math.fround(initial[i]! + 2) - initial[i]!),
    );
    expect(h.sent.slice(2).map((s) => [s.id, s.task.round, s.task.modelVersion])).toEqual([
      ['a', 2, 1],
      ['b', 2, 1],
    ]);
    expect(h.latencies).toEqual([
      ['a', 1, 40],
      ['b', 1, 40],
    ]);
    expect(h.outcomes).toEqual([
      ['a', true],
      ['b', true],
    ]);

    // Execute: round 2
    for (const s of h.sent.slice(2)) answer(h.controller, s);
    const final = await finished;

    // Assert
    expect(final).toMatchObject({ status: 'completed', completedRounds: 2, error: null });
    expect(h.store.listRounds('r1').map((r) => [r.round, r.status])).toEqual([
      [1, 'completed'],
      [2, 'completed'],
    ]);
    expect(h.store.latestCheckpoint('r1')?.round).toBe(2);
    expect(h.runs.map((r) => r.status)).toEqual(['running', 'running', 'completed']);
  });

  it('refuses what no open round can take, with a code', async () => {
    const h = await harness({}, { participants: [participant('a')] });
    expect(h.controller.submitUpdate('a', {}, new Uint8Array(4))).toMatchObject({ ok: false, code: 'late' });
    expect(h.controller.submitEvaluation('a', {})).toMatchObject({ ok: false, code: 'late' });
    void h.controller.start();
    await h.clock.advance(0);
    expect(answer(h.controller, { ...h.sent[0]!, id: 'zed' })).toMatchObject({ ok: false, code: 'not-selected' });
    expect(answer(h.controller, h.sent[0]!, [1, 2, 3])).toMatchObject({ ok: false, code: 'invalid-frame' });
    h.controller.detach();
  });

  it('retries a round with too few participants, recording each attempt and its reason, and fails the run after three', async () => {
    // Prepare: nobody is ready
    const h = await harness({ waitForParticipantsMs: 1000 });

    // Execute: 3 x (1 s wait + 1 s pause)
    const finished = h.controller.start();
    await h.clock.advance(6000);
    const final = await finished;

    // Assert
    const reason = 'only 0 of the required 1 participants were ready after 1 s';
    expect(final).toMatchObject({ status: 'failed', error: `round 1 failed 3 times; last: ${reason}` });
    expect(h.store.listRounds('r1').map((r) => [r.round, r.attempt, r.status, r.reason])).toEqual(
      [1, 2, 3].map((attempt) => [1, attempt, 'failed', reason]),
    );
    expect(h.logs).toContain(`run r1 round 1 attempt 2 failed: ${reason}`);
    expect(h.sent).toEqual([]);
  });

  it('at the deadline, cancels the round for whoever missed it, counts the miss, and retries when too few answered', async () => {
    // Prepare: both must answer
    const h = await harness(
      { rounds: 1, minParticipants: 2, roundDeadlineMs: 5000 },
      { participants: [participant('a'), participant('b')] },
    );

    // Execute: only a answers before the deadline
    const finished = h.controller.start();
    await h.clock.advance(0);
    answer(h.controller, h.sent[0]!);
    await h.clock.advance(5000);

    // Assert
    expect(h.cancels).toEqual([{ id: 'b', notice: { runId: 'r1', round: 1, reason: 'the deadline passed' } }]);
    expect(h.outcomes).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(h.rounds[0]).toMatchObject({
      round: 1,
      attempt: 1,
      status: 'failed',
      reason: 'only 1 valid updates of the required 2 by the 5 s deadline',
      failures: [{ participantId: 'b', reason: 'the deadline passed' }],
    });
    expect(answer(h.controller, h.sent[1]!)).toMatchObject({ ok: false, code: 'late' });

    // Execute: after the pause, attempt 2 goes out and both answer
    await h.clock.advance(1000);
    expect(h.sent.slice(2).map((s) => [s.id, s.task.round])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    for (const s of h.sent.slice(2)) answer(h.controller, s);

    // Assert
    expect(await finished).toMatchObject({ status: 'completed' });
    expect(h.rounds.map((r) => [r.attempt, r.status])).toEqual([
      [1, 'failed'],
      [2, 'completed'],
    ]);
  });

  it('prefers participants that answered their last selection, and asks reliable held-out participants to evaluate', async () => {
    // Prepare: c let its last selection pass; h2 let three pass
    const h = await harness(
      { perRound: 2 },
      {
        participants: [
          participant('a'),
          participant('b'),
          participant('c', { missStreak: 1 }),
          participant('h1', { heldOut: true }),
          participant('h2', { heldOut: true, missStreak: 3 }),
        ],
      },
    );

    // Execute
    void h.controller.start();
    await h.clock.advance(0);

    // Assert
    expect(h.sent.map((s) => [s.id, s.task.mode, s.task.evaluate])).toEqual([
      ['a', 'fit', true],
      ['b', 'fit', true],
      ['h1', 'evaluate', true],
    ]);
    h.controller.detach();
  });

  it('a participant that fails stops being waited for', async () => {
    const h = await harness({ rounds: 1 }, { participants: [participant('a'), participant('b')] });
    const finished = h.controller.start();
    await h.clock.advance(0);
    answer(h.controller, h.sent[0]!);
    h.controller.participantFailed('b', 'disconnected (transport close)');
    expect(await finished).toMatchObject({ status: 'completed' });
    expect(h.rounds[0]).toMatchObject({
      participants: ['a'],
      failures: [{ participantId: 'b', reason: 'disconnected (transport close)' }],
    });
    expect(h.cancels).toEqual([]);
  });

  it('stop closes the open round, cancels it for those still working, keeps a round with enough updates, and counts no misses', async () => {
    // Prepare
    const h = await harness({ rounds: 3 }, { participants: [participant('a'), participant('b')] });
    const finished = h.controller.start();
    await h.clock.advance(0);
    answer(h.controller, h.sent[0]!);

    // Execute
    const stopped = await h.controller.stop();

    // Assert
    expect(stopped).toBe(await finished);
    expect(stopped).toMatchObject({ status: 'stopped', error: 'stopped by an admin', completedRounds: 1 });
    expect(h.cancels).toEqual([{ id: 'b', notice: { runId: 'r1', round: 1, reason: 'stopped by an admin' } }]);
    expect(h.outcomes).toEqual([]);
    expect(h.store.listRounds('r1').map((r) => [r.round, r.status, r.participants])).toEqual([[1, 'completed', ['a']]]);
    expect(h.store.getRun('r1')?.status).toBe('stopped');
  });

  it('stop while waiting for participants ends the run at once, recording no attempt', async () => {
    const h = await harness({ waitForParticipantsMs: 60_000 });
    const finished = h.controller.start();
    await h.clock.advance(500);
    void h.controller.stop('enough');
    expect(await finished).toMatchObject({ status: 'stopped', error: 'enough' });
    expect(h.store.listRounds('r1')).toEqual([]);
  });

  it('detach leaves without writing: the run stays running, and a new controller resumes at its checkpoint', async () => {
    // Prepare: round 1 completes, round 2 is open
    const participants = [participant('a')];
    const h = await harness({ rounds: 2 }, { participants });
    const finished = h.controller.start();
    await h.clock.advance(0);
    answer(h.controller, h.sent[0]!);
    await h.clock.advance(0);
    expect(h.controller.openRound).toBe(2);
    const weights = h.controller.weights;

    // Execute
    h.controller.detach();
    const left = await finished;

    // Assert
    expect(left.status).toBe('running');
    expect(h.store.getRun('r1')?.status).toBe('running');
    expect(h.store.listRounds('r1')).toHaveLength(1);
    expect(h.cancels).toEqual([]);
    expect(answer(h.controller, h.sent[1]!)).toMatchObject({ ok: false, code: 'late' });

    // Execute: the hub restarts
    const again = await harness({}, { store: h.store, participants });
    expect(again.controller.modelVersion).toBe(1);
    expect(Array.from(again.controller.weights)).toEqual(Array.from(weights));
    const resumed = again.controller.start();
    await again.clock.advance(0);
    expect(again.sent.map((s) => [s.task.round, s.task.modelVersion])).toEqual([[2, 1]]);
    answer(again.controller, again.sent[0]!);
    expect(await resumed).toMatchObject({ status: 'completed', completedRounds: 2 });
  });

  it('a resumed DP run resumes its accountant from the rounds on record, and completes at the budget with the reason', async () => {
    // Prepare: q 1, z 2; the budget allows two rounds, not three. Round 1 completes, then the hub restarts.
    const two = privacySpent({ samplingRate: 1, noiseMultiplier: 2, rounds: 2, delta: 1e-5 }).epsilon;
    const three = privacySpent({ samplingRate: 1, noiseMultiplier: 2, rounds: 3, delta: 1e-5 }).epsilon;
    const dp = {
      rounds: 5,
      privacy: { mode: 'central' as const, clip: 1, noiseMultiplier: 2, samplingRate: 1, delta: 1e-5, epsilonBudget: (two + three) / 2 },
    };
    const participants = [participant('a')];
    const h = await harness(dp, { participants });
    const finished = h.controller.start();
    await h.clock.advance(0);
    answer(h.controller, h.sent[0]!);
    await h.clock.advance(0);
    expect(h.controller.openRound).toBe(2);
    h.controller.detach();
    await finished;

    // Execute: a new controller on the same store; nobody answers round 2, which completes at its deadline anyway.
    const again = await harness({}, { store: h.store, participants });
    const resumed = again.controller.start();
    await again.clock.advance(0);
    await again.clock.advance(5000);
    const run = await resumed;

    // Assert
    expect(run).toMatchObject({ status: 'completed', completedRounds: 2, error: 'privacy budget reached' });
    expect(again.sent.map((s) => [s.task.round, s.task.clip])).toEqual([[2, 1]]);
    expect(h.store.listRounds('r1').map((r) => [r.round, r.participants.length, r.privacy?.epsilon])).toEqual([
      [1, 1, privacySpent({ samplingRate: 1, noiseMultiplier: 2, rounds: 1, delta: 1e-5 }).epsilon],
      [2, 0, two],
    ]);
  });

  it('a resumed run continues the attempt numbers on record and gets three fresh tries', async () => {
    // Prepare: a run that failed round 1 three times
    const h = await harness({ waitForParticipantsMs: 0 });
    const failed = h.controller.start();
    await h.clock.advance(3000);
    expect(await failed).toMatchObject({ status: 'failed' });
    h.store.updateRun('r1', { status: 'running', error: null, updatedAt: T0 });

    // Execute
    const again = await harness({}, { store: h.store });
    const finished = again.controller.start();
    await again.clock.advance(3000);

    // Assert
    expect(await finished).toMatchObject({ status: 'failed', error: expect.stringMatching(/^round 1 failed 3 times/) as unknown });
    expect(h.store.listRounds('r1').map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('RunController on failing storage', () => {
  it('pauses the run even when the disk is too full to store the pause: dashboards hear it, the store keeps it resumable', async () => {
    // Prepare: a store whose every write fails as on a full disk (the WAL cannot grow), and no participants
    const real = openStore(':memory:');
    const config = RunConfigSchema.parse({ algorithm: 'fedavg', model: MODEL, rounds: 2, waitForParticipantsMs: 0 });
    const run = real.createRun({ id: 'r1', config, createdAt: 1 });
    const store: Store = { ...real, recordRound: full, updateRun: full };
    const announced: RunSummary[] = [];
    const logged: string[] = [];
    // a variable, not a literal in the call: the controller's dependencies may gain members this test does not need
    const deps = {
      store,
      eligible: () => [],
      send: () => false,
      cancel: () => undefined,
      onRound: () => undefined,
      onRun: (summary: RunSummary) => announced.push(summary),
      onLatency: () => undefined,
      onOutcome: () => undefined,
      now: Date.now,
      log: (line: string) => logged.push(line),
    };
    const controller = await RunController.open(run, { ...deps, store: asyncStore(store) });

    // Execute
    const final = await controller.start();

    // Assert
    const reason = 'storage failure in round 1: database or disk is full; no round was saved yet: free space, then resume the run';
    expect(final).toMatchObject({ status: 'paused', error: reason });
    expect(announced.map((r) => r.status)).toEqual(['paused']);
    expect(logged).toContain('run r1: cannot store its status paused: database or disk is full');
    expect(real.getRun('r1')?.status).toBe('running');
    real.close();
  });

  it('pauses at the round it could not save, keeping the rounds before it and the model they made', async () => {
    // Prepare: the second round's commit finds the disk full
    const real = openStore(':memory:');
    let commits = 0;
    const store: Store = {
      ...real,
      recordRound: (summary, checkpoint) => {
        if (++commits === 2) full();
        real.recordRound(summary, checkpoint);
      },
    };
    const h = await harness({ rounds: 3 }, { store, participants: [participant('a')] });
    const finished = h.controller.start();

    // Execute
    await h.clock.advance(0);
    answer(h.controller, h.sent[0]!);
    await h.clock.advance(0);
    answer(h.controller, h.sent[1]!);
    const final = await finished;

    // Assert
    expect(final).toMatchObject({
      status: 'paused',
      error: 'storage failure in round 2: database or disk is full; round 1 is saved: free space, then resume the run',
    });
    expect(h.controller.modelVersion).toBe(1);
    expect(real.latestCheckpoint('r1')?.round).toBe(1);
    expect(real.getRun('r1')?.status).toBe('paused');
    expect(answer(h.controller, h.sent[1]!)).toMatchObject({ ok: false, code: 'late' });
  });
});
