import { ManualClock, RunConfigSchema, type RoundSummary, type RoundTask } from '@tabula/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaleCoordinatorError, asyncStore, type AsyncStore } from './async-store.js';
import { startPostgres, type LocalService } from './local-services.js';
import { openPgStore } from './pg-store.js';
import type { RegistryEntry } from './registry.js';
import { RunController } from './run-controller.js';
import { openStore, type Checkpoint } from './store.js';
import { deltaFrame, updateMeta } from './test-hub.js';

// A real PostgreSQL 15 from Debian's package, on a free loopback port, for the whole file (initdb takes ~1.5 s).
let postgres: LocalService;
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(() => postgres?.stop());

/** A fresh database on the file's server for each test, so tests do not see each other's runs. */
let databases = 0;
async function freshDatabase(): Promise<string> {
  const name = `t${++databases}`;
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return postgres.url.replace(/\/postgres$/, `/${name}`);
}

const CONFIG = RunConfigSchema.parse({
  algorithm: 'fedavg',
  model: { kind: 'mlp', inputShape: [2], hidden: [], outputs: 2, task: 'classification' },
  rounds: 3,
  seed: 1,
});

function round(runId: string, n: number, attempt: number, status: RoundSummary['status']): RoundSummary {
  return {
    runId,
    round: n,
    attempt,
    status,
    reason: status === 'failed' ? 'too few participants' : null,
    startedAt: 1_700_000_000_000 + n * 1000,
    durationMs: 250.5,
    participants: status === 'completed' ? ['p-1', 'p-2'] : [],
    failures: [{ participantId: 'p-3', reason: 'disconnected' }],
    metrics: { loss: 0.5, global: 0.25, personalized: 0.75, heldOutGlobal: null, heldOutPersonalized: null },
    bytesUp: 10_000_000_000,
    bytesDown: 2048,
  };
}

function checkpoint(n: number): Checkpoint {
  // Values whose bits matter: a subnormal, -0, the largest float32, and one per round.
  return {
    round: n,
    weights: Float32Array.of(1.4e-45, -0, 3.4028234663852886e38, n),
    strategyState: {
      name: 'fedavg',
      optimizer: { kind: 'fedadam', step: n, buffers: { m: Float32Array.of(n, -n), v: Float32Array.of(0.5) } },
    },
  };
}

// The same contract for both stores: what the hub relies on, whichever is behind it.
const stores: [string, () => Promise<AsyncStore>][] = [
  ['SQLite', () => Promise.resolve(asyncStore(openStore(':memory:')))],
  ['PostgreSQL', async () => openPgStore(await freshDatabase())],
];

describe.each(stores)('the %s store', (_name, open) => {
  it('keeps runs newest first, their status and error, and refuses an id twice', async () => {
    const store = await open();
    await store.createRun({ id: 'r1', config: CONFIG, createdAt: 1000 });
    await store.createRun({ id: 'r2', config: CONFIG, createdAt: 1000 });
    const paused = await store.updateRun('r1', { status: 'paused', error: 'disk full', updatedAt: 2000 });
    const kept = await store.updateRun('r1', { updatedAt: 3000 });

    expect((await store.listRuns()).map((r) => r.id)).toEqual(['r2', 'r1']);
    expect((await store.latestRun())?.id).toBe('r2');
    expect((await store.runningRuns()).map((r) => r.id)).toEqual(['r2']);
    expect([paused.status, paused.error, kept.status, kept.error, kept.updatedAt]).toEqual([
      'paused',
      'disk full',
      'paused',
      'disk full',
      3000,
    ]);
    expect((await store.getRun('r1'))?.config).toEqual(CONFIG);
    await expect(store.createRun({ id: 'r1', config: CONFIG, createdAt: 5 })).rejects.toThrow("run 'r1' already exists");
    await expect(store.updateRun('nope', { updatedAt: 1 })).rejects.toThrow("unknown run 'nope'");
    await store.close();
  });

  it('records rounds in order with their checkpoints, bit for bit, and keeps only the newest checkpoints', async () => {
    const store = await open();
    await store.createRun({ id: 'r1', config: CONFIG, createdAt: 1000 });
    const secureAggregation = {
      stages: [{ stage: 'advertise' as const, asked: 3, answered: 3 }],
      threshold: 2,
      neighbours: null,
      clampedShare: 0,
    };
    await store.recordRound({ ...round('r1', 1, 1, 'failed'), secureAggregation });
    await store.recordRound(round('r1', 1, 2, 'completed'), checkpoint(1));
    for (let n = 2; n <= 7; n++) await store.recordRound(round('r1', n, 1, 'completed'), checkpoint(n));

    const rounds = await store.listRounds('r1');
    expect(rounds.map((r) => `${r.round}.${r.attempt} ${r.status}`)).toEqual([
      '1.1 failed',
      '1.2 completed',
      ...[2, 3, 4, 5, 6, 7].map((n) => `${n}.1 completed`),
    ]);
    expect(rounds[0]).toEqual({ ...round('r1', 1, 1, 'failed'), secureAggregation });
    expect(rounds[1]).toEqual(round('r1', 1, 2, 'completed'));
    const latest = await store.latestCheckpoint('r1');
    const bits = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
    expect(bits(latest!.weights)).toEqual(bits(checkpoint(7).weights));
    expect(latest!.strategyState).toEqual(checkpoint(7).strategyState);
    expect((await store.getRun('r1'))?.completedRounds).toBe(7);
    await store.close();
  });

  it('refuses an attempt that is not for the next round, a duplicate, and a completed round without its checkpoint, writing nothing', async () => {
    const store = await open();
    await store.createRun({ id: 'r1', config: CONFIG, createdAt: 1000 });
    await store.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1));

    await expect(store.recordRound(round('r1', 3, 1, 'completed'), checkpoint(3))).rejects.toThrow(/the next is 2/);
    await expect(store.recordRound(round('r1', 2, 1, 'completed'))).rejects.toThrow(/needs a checkpoint/);
    await store.recordRound(round('r1', 2, 1, 'failed'));
    await expect(store.recordRound(round('r1', 2, 1, 'failed'))).rejects.toThrow(/already recorded/);
    expect((await store.listRounds('r1')).length).toBe(2);
    expect((await store.latestCheckpoint('r1'))?.round).toBe(1);
    expect(await store.deleteRun('r1')).toBe(true);
    expect([await store.deleteRun('r1'), await store.latestCheckpoint('r1'), await store.listRounds('r1')]).toEqual([false, null, []]);
    await store.close();
  });
});

describe('the PostgreSQL store shared by several hubs', () => {
  it('commits a round only from the newest coordinator: a paused old one that resumes writes nothing', async () => {
    // Prepare: two hubs on one database; hub A coordinated round 1 with epoch 1, then hub B took over with epoch 2.
    const url = await freshDatabase();
    const [a, b] = await Promise.all([openPgStore(url), openPgStore(url)]);
    await a.createRun({ id: 'r1', config: CONFIG, createdAt: 1000 });
    await a.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1), { epoch: 1 });
    await b.recordRound(round('r1', 2, 1, 'completed'), checkpoint(2), { epoch: 2 });

    // Execute: A wakes up and commits "its" round 2, then tries round 3.
    const late = a.recordRound(round('r1', 2, 2, 'completed'), checkpoint(2), { epoch: 1 });
    const next = a.recordRound(round('r1', 3, 1, 'completed'), checkpoint(3), { epoch: 1 });

    // Assert: both refused as stale, nothing written; B goes on.
    await expect(late).rejects.toBeInstanceOf(StaleCoordinatorError);
    await expect(next).rejects.toThrow("run 'r1': coordinator epoch 1 is stale (epoch 2 has written)");
    expect((await b.listRounds('r1')).map((r) => `${r.round}.${r.attempt}`)).toEqual(['1.1', '2.1']);
    expect((await b.getRun('r1'))?.completedRounds).toBe(2);
    expect((await b.latestCheckpoint('r1'))?.round).toBe(2);
    expect(await b.coordEpoch('r1')).toBe(2);
    await b.recordRound(round('r1', 3, 1, 'completed'), checkpoint(3), { epoch: 2 });
    expect((await a.getRun('r1'))?.completedRounds).toBe(3);
    await Promise.all([a.close(), b.close()]);
  });

  it('a stale coordinator cannot change the run either: its status stays what the newest coordinator made it', async () => {
    const url = await freshDatabase();
    const store = await openPgStore(url);
    await store.createRun({ id: 'r1', config: CONFIG, createdAt: 1000 });
    await store.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1), { epoch: 5 });

    const late = store.updateRun('r1', { status: 'failed', error: 'round 2 failed 3 times', updatedAt: 2000 }, { epoch: 4 });

    await expect(late).rejects.toThrow("run 'r1': coordinator epoch 4 is stale (epoch 5 has written)");
    expect(await store.getRun('r1')).toMatchObject({ status: 'running', error: null });
    expect(await store.updateRun('r1', { status: 'completed', updatedAt: 3000 }, { epoch: 6 })).toMatchObject({ status: 'completed' });
    expect(await store.coordEpoch('r1')).toBe(6);
    await expect(store.updateRun('nope', { updatedAt: 1 }, { epoch: 9 })).rejects.toThrow("unknown run 'nope'");
    await store.close();
  });

  it('two coordinators committing the same round at once: exactly one completed row, the other refused', async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([openPgStore(url), openPgStore(url)]);
    await a.createRun({ id: 'r1', config: CONFIG, createdAt: 1000 });

    const results = await Promise.allSettled([
      a.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1), { epoch: 3 }),
      b.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1), { epoch: 4 }),
    ]);

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await a.listRounds('r1')).filter((r) => r.status === 'completed')).toHaveLength(1);
    expect((await a.getRun('r1'))?.completedRounds).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses, naming the run and round, a checkpoint whose bytes no longer match their checksum', async () => {
    const url = await freshDatabase();
    const store = await openPgStore(url);
    await store.createRun({ id: 'r1', config: CONFIG, createdAt: 1000 });
    await store.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1));
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    await raw.query("UPDATE checkpoints SET weights = set_byte(weights, 0, 7) WHERE run_id = 'r1'");
    await raw.end();

    await expect(store.latestCheckpoint('r1')).rejects.toThrow("store: run 'r1' checkpoint of round 1 is corrupt");
    await store.close();
  });
});

describe('a run on the PostgreSQL store', () => {
  it('the run controller commits each round and its checkpoint there, and a second hub on the database resumes from it', async () => {
    // Prepare: one participant that answers every task with Δ = 1 everywhere, over a manual clock.
    const url = await freshDatabase();
    const store = await openPgStore(url);
    const config = RunConfigSchema.parse({ ...CONFIG, rounds: 2, waitForParticipantsMs: 0, roundDeadlineMs: 5000 });
    const run = await store.createRun({ id: 'r1', config, createdAt: 1 });
    const clock = new ManualClock(1_000);
    const sent: RoundTask[] = [];
    const participant = { id: 'p-1', examples: 10, heldOut: false, missStreak: 0 } as RegistryEntry;
    const controller = await RunController.open(run, {
      store,
      eligible: () => [participant],
      send: (_id, task) => sent.push(task) > 0,
      cancel: () => undefined,
      onRound: () => undefined,
      onRun: () => undefined,
      onLatency: () => undefined,
      onOutcome: () => undefined,
      now: () => clock.now(),
      clock,
      log: () => undefined,
    });
    const answer = (task: RoundTask) => controller.submitUpdate('p-1', updateMeta(task, 10), deltaFrame(task, new Float32Array(6).fill(1)));

    // Execute: two rounds.
    const finished = controller.start();
    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < 100 && sent.length < round; i++) await clock.advance(0);
      expect(answer(sent[round - 1]!)).toMatchObject({ ok: true });
    }
    const final = await finished;

    // Assert: both rounds and the run's end are in PostgreSQL, readable by another hub's store.
    const other = await openPgStore(url);
    expect(final).toMatchObject({ status: 'completed', completedRounds: 2 });
    expect((await other.getRun('r1'))?.status).toBe('completed');
    expect((await other.listRounds('r1')).map((r) => `${r.round} ${r.status} ${r.participants.join()}`)).toEqual([
      '1 completed p-1',
      '2 completed p-1',
    ]);
    expect([...(await other.latestCheckpoint('r1'))!.weights]).toEqual([...controller.weights]);
    await Promise.all([store.close(), other.close()]);
  });
});
