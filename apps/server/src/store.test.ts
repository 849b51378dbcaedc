import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { RoundSummary, RunConfig, StrategyState } from '@tabula/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION, StoreLockedError, isStorageFailure, openStore, type Checkpoint, type Store } from './store.js';

const CONFIG: RunConfig = {
  name: 'store test',
  algorithm: 'fomaml',
  model: { kind: 'mlp', inputShape: [1], hidden: [40, 40], outputs: 1, task: 'regression' },
  scenario: { name: 'sinusoid', participants: 100, seed: 1, kShot: 5 },
  rounds: 10,
  perRound: 5,
  fraction: 1,
  minParticipants: 2,
  waitForParticipantsMs: 60_000,
  roundDeadlineMs: 120_000,
  client: {
    batchSize: 10,
    lr: 0.01,
    localEpochs: 1,
    innerLr: 0.01,
    innerSteps: 1,
    outerLr: 1,
    metaSteps: 1,
    adaptSteps: 10,
    headEpochs: 5,
  },
  server: { kind: 'fedadam', lr: 0.003, beta1: 0.9, beta2: 0.99, tau: 0.001 },
  codec: 'float32',
  aggregation: { kind: 'fedavg' },
  seed: 1,
  evaluateEvery: 1,
};

function round(runId: string, n: number, attempt: number, status: 'completed' | 'failed'): RoundSummary {
  return {
    runId,
    round: n,
    attempt,
    status,
    reason: status === 'failed' ? 'too few participants: 1 of 2' : null,
    startedAt: 10_000 * n + attempt,
    durationMs: 250,
    participants: status === 'completed' ? ['p-a', 'p-b'] : ['p-a'],
    failures: [{ participantId: 'p-c', reason: 'deadline passed' }],
    metrics: { loss: 0.5, global: 0.25, personalized: null, heldOutGlobal: null, heldOutPersonalized: 0.125 },
    bytesUp: 1_024,
    bytesDown: 2_048,
  };
}

/** Float32 values from bit patterns: the store must give back these exact bits. */
function fromBits(bits: readonly number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}

function bitsOf(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

const SPECIAL_BITS = [
  0x80000000, // -0
  0x00000000, // +0
  0x00000001, // smallest subnormal
  0x807fffff, // largest negative subnormal
  0x00800000, // smallest normal
  0x7f7fffff, // largest finite, 3.4028235e38
  0xff7fffff, // most negative finite
  0x3f800000, // 1
  0x4e6e6b28, // 1e9
];

/** SPECIAL_BITS then seeded random finite (never NaN or infinite) bit patterns. */
function testBits(length: number, seed: number): number[] {
  const bits = [...SPECIAL_BITS];
  let s = seed >>> 0;
  while (bits.length < length) {
    s = (s + 0x6d2b79f5) >>> 0; // mulberry32
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    let b = (t ^ (t >>> 14)) >>> 0;
    if ((b & 0x7f800000) === 0x7f800000) b &= ~0x00800000; // exponent all ones: NaN or infinity
    bits.push(b >>> 0);
  }
  return bits;
}

function fedadamState(step: number, length: number): StrategyState {
  return {
    name: 'fedavg',
    optimizer: {
      kind: 'fedadam',
      step,
      buffers: { m: fromBits(testBits(length, 11)), v: fromBits(testBits(length, 12).map((b) => b & 0x7fffffff)) },
    },
  };
}

function checkpoint(n: number, length = 8): Checkpoint {
  return { round: n, weights: new Float32Array(length).fill(n), strategyState: fedadamState(n, length) };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tabula-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('runs', () => {
  it('creates, lists newest first, gets and updates runs', () => {
    // Prepare
    const store = openStore(':memory:');
    expect(store.latestRun()).toBeNull();

    // Execute
    const created = store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    store.createRun({ id: 'r2', config: CONFIG, createdAt: 3_000 });
    store.createRun({ id: 'r3', config: CONFIG, createdAt: 2_000 });
    const failed = store.updateRun('r1', { status: 'failed', error: 'hub crashed', updatedAt: 5_000 });
    const cleared = store.updateRun('r1', { error: null, updatedAt: 6_000 });

    // Assert
    expect(created).toEqual({
      id: 'r1',
      status: 'running',
      config: CONFIG,
      createdAt: 1_000,
      updatedAt: 1_000,
      completedRounds: 0,
      error: null,
    });
    expect(store.listRuns().map((r) => r.id)).toEqual(['r2', 'r3', 'r1']);
    expect(store.latestRun()).toEqual(store.listRuns()[0]);
    expect(failed).toEqual({ ...created, status: 'failed', error: 'hub crashed', updatedAt: 5_000 });
    expect(cleared).toEqual({ ...created, status: 'failed', error: null, updatedAt: 6_000 });
    expect(store.getRun('r1')).toEqual(cleared);
    expect(store.getRun('r3')?.config).toEqual(CONFIG);
    expect(store.getRun('missing')).toBeNull();
    expect(store.runningRuns().map((r) => r.id)).toEqual(['r2', 'r3']);
    store.close();
  });

  it('deletes a run with its rounds and checkpoints, and nothing else', () => {
    // Prepare
    const store = openStore(':memory:');
    for (const id of ['r1', 'r2']) {
      store.createRun({ id, config: CONFIG, createdAt: 1_000 });
      store.recordRound(round(id, 1, 1, 'completed'), checkpoint(1));
    }
    // Execute
    const deleted = store.deleteRun('r1');
    // Assert
    expect(deleted).toBe(true);
    expect(store.getRun('r1')).toBeNull();
    expect(store.listRounds('r1')).toEqual([]);
    expect(store.latestCheckpoint('r1')).toBeNull();
    expect(store.listRuns().map((r) => r.id)).toEqual(['r2']);
    expect(store.listRounds('r2')).toHaveLength(1);
    expect(store.latestCheckpoint('r2')?.round).toBe(1);
    expect(store.deleteRun('r1')).toBe(false);
    store.close();
  });

  it('refuses an unknown run id and a duplicate id', () => {
    const store = openStore(':memory:');
    store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });

    expect(() => store.updateRun('nope', { status: 'stopped', updatedAt: 2_000 })).toThrow("store.updateRun: unknown run 'nope'");
    expect(() => store.createRun({ id: 'r1', config: CONFIG, createdAt: 2_000 })).toThrow("store.createRun: run 'r1' already exists");
    expect(store.listRuns().map((r) => [r.id, r.createdAt])).toEqual([['r1', 1_000]]);
    store.close();
  });

  it('refuses keepCheckpoints below 1', () => {
    expect(() => openStore(':memory:', { keepCheckpoints: 0 })).toThrow('keepCheckpoints must be an integer >= 1, got 0');
  });
});

describe('recordRound', () => {
  it('stores a completed round and gives back bit-identical weights and fedadam state', () => {
    // Prepare: weights are a view at a byte offset into a larger buffer, to catch offset mistakes on write
    const store = openStore(':memory:');
    store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    const bits = testBits(10_000, 7);
    const backing = new Float32Array(bits.length + 3);
    backing.set(fromBits(bits), 2);
    const weights = backing.subarray(2, 2 + bits.length);
    const state = fedadamState(3, 5_000);
    const summary = round('r1', 1, 1, 'completed');

    // Execute
    store.recordRound(summary, { round: 1, weights, strategyState: state });
    const restored = store.latestCheckpoint('r1');

    // Assert
    expect(store.getRun('r1')).toMatchObject({ completedRounds: 1, updatedAt: 10_251 });
    expect(store.listRounds('r1')).toEqual([summary]);
    expect(restored?.round).toBe(1);
    const w = restored?.weights as Float32Array;
    expect(bitsOf(w)).toEqual(bits);
    expect(bitsOf(w).slice(0, 4)).toEqual([0x80000000, 0x00000000, 0x00000001, 0x807fffff]);
    expect(Object.is(w[0], -0)).toBe(true);
    expect(w[5]).toBe(3.4028234663852886e38);
    // its own buffer, not a view into a pool that later reads would overwrite
    expect([w.byteOffset, w.buffer.byteLength]).toEqual([0, 40_000]);
    const s = restored?.strategyState as StrategyState;
    expect([s.name, s.optimizer.kind, s.optimizer.step]).toEqual(['fedavg', 'fedadam', 3]);
    expect(Object.keys(s.optimizer.buffers).sort()).toEqual(['m', 'v']);
    expect(bitsOf(s.optimizer.buffers.m as Float32Array)).toEqual(testBits(5_000, 11));
    expect(bitsOf(s.optimizer.buffers.v as Float32Array)).toEqual(testBits(5_000, 12).map((b) => b & 0x7fffffff));
    store.close();
  });

  it('stores the privacy guarantee of a DP round and gives it back; other rounds have none', () => {
    // Prepare
    const store = openStore(':memory:');
    store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    const privacy = { epsilon: 0.9563, delta: 1e-5, order: 10, samplingRate: 0.01 };

    // Execute
    store.recordRound({ ...round('r1', 1, 1, 'completed'), privacy }, checkpoint(1));
    store.recordRound(round('r1', 2, 1, 'completed'), checkpoint(2));

    // Assert
    expect(store.listRounds('r1').map((r) => r.privacy ?? null)).toEqual([privacy, null]);
    expect('privacy' in store.listRounds('r1')[1]!).toBe(false);
    store.close();
  });

  it('stores what a secure aggregation attempt saw per stage and gives it back; other rounds have none', () => {
    // Prepare
    const store = openStore(':memory:');
    store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    const secureAggregation = {
      stages: [
        { stage: 'advertise' as const, asked: 6, answered: 6 },
        { stage: 'share' as const, asked: 6, answered: 5 },
      ],
      threshold: 4,
      neighbours: null,
      clampedShare: null,
    };

    // Execute
    store.recordRound({ ...round('r1', 1, 1, 'failed'), secureAggregation });
    store.recordRound(round('r1', 1, 2, 'completed'), checkpoint(1));

    // Assert
    expect(store.listRounds('r1').map((r) => r.secureAggregation ?? null)).toEqual([secureAggregation, null]);
    expect('secureAggregation' in store.listRounds('r1')[1]!).toBe(false);
    store.close();
  });

  it('stores a failed attempt without advancing the run, then retries the round as attempt 2', () => {
    const store = openStore(':memory:');
    store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });

    store.recordRound(round('r1', 1, 1, 'failed'));
    const afterFailure = { run: store.getRun('r1'), checkpoint: store.latestCheckpoint('r1') };
    store.recordRound(round('r1', 1, 2, 'completed'), checkpoint(1));

    expect(afterFailure.run).toMatchObject({ completedRounds: 0, updatedAt: 1_000 });
    expect(afterFailure.checkpoint).toBeNull();
    expect(store.getRun('r1')?.completedRounds).toBe(1);
    expect(store.listRounds('r1').map((r) => [r.round, r.attempt, r.status, r.reason, r.participants])).toEqual([
      [1, 1, 'failed', 'too few participants: 1 of 2', ['p-a']],
      [1, 2, 'completed', null, ['p-a', 'p-b']],
    ]);
    expect(store.latestCheckpoint('r1')?.round).toBe(1);
    store.close();
  });

  it('refuses a completed round without a checkpoint and writes nothing', () => {
    const store = openStore(':memory:');
    store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });

    expect(() => store.recordRound(round('r1', 1, 1, 'completed'))).toThrow(
      "store.recordRound: run 'r1' round 1 attempt 1: a completed round needs a checkpoint",
    );

    expect(store.listRounds('r1')).toEqual([]);
    expect(store.getRun('r1')?.completedRounds).toBe(0);
    expect(store.latestCheckpoint('r1')).toBeNull();
    store.close();
  });

  it('refuses mismatched checkpoints, checkpoints on failures, unknown runs, rounds out of order and repeats', () => {
    const store = openStore(':memory:');
    store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    store.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1));

    expect(() => store.recordRound(round('r1', 2, 1, 'completed'), checkpoint(3))).toThrow('checkpoint is for round 3');
    expect(() => store.recordRound(round('r1', 2, 1, 'failed'), checkpoint(2))).toThrow('a failed attempt has no checkpoint');
    expect(() => store.recordRound(round('ghost', 1, 1, 'failed'))).toThrow("store.recordRound: unknown run 'ghost'");
    expect(() => store.recordRound(round('r1', 3, 1, 'failed'))).toThrow('the run has completed 1 rounds, so the next is 2');
    expect(() => store.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1))).toThrow('so the next is 2');
    store.recordRound(round('r1', 2, 1, 'failed'));
    expect(() => store.recordRound(round('r1', 2, 1, 'failed'))).toThrow("run 'r1' round 2 attempt 1: already recorded");

    expect(store.listRounds('r1').map((r) => [r.round, r.attempt])).toEqual([
      [1, 1],
      [2, 1],
    ]);
    expect(store.getRun('r1')?.completedRounds).toBe(1);
    store.close();
  });

  it('rolls back the round row when the checkpoint write fails inside the transaction', () => {
    // Prepare: a stray checkpoint row for round 1, written while the store was closed, makes the checkpoint insert fail
    const path = join(dir, 'tabula.sqlite');
    const before = openStore(path);
    before.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    before.close();
    const raw = new Database(path);
    raw.prepare("INSERT INTO checkpoints VALUES ('r1', 1, x'00000000', '{}', 0, NULL)").run();
    raw.close();
    const store = openStore(path);

    // Execute
    expect(() => store.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1))).toThrow(/UNIQUE/);

    // Assert
    expect(store.listRounds('r1')).toEqual([]);
    expect(store.getRun('r1')?.completedRounds).toBe(0);
    store.close();
  });

  it('keeps only the newest keepCheckpoints checkpoints of each run', () => {
    const path = join(dir, 'tabula.sqlite');
    const store = openStore(path, { keepCheckpoints: 3 });
    store.createRun({ id: 'a', config: CONFIG, createdAt: 1_000 });
    store.createRun({ id: 'b', config: CONFIG, createdAt: 2_000 });

    for (let n = 1; n <= 2; n++) store.recordRound(round('b', n, 1, 'completed'), checkpoint(n));
    for (let n = 1; n <= 6; n++) store.recordRound(round('a', n, 1, 'completed'), checkpoint(n));

    const latest = store.latestCheckpoint('a');
    expect([latest?.round, Array.from(latest?.weights ?? [])]).toEqual([6, [6, 6, 6, 6, 6, 6, 6, 6]]);
    expect(store.listRounds('a').length).toBe(6);
    store.close();
    const raw = new Database(path, { readonly: true });
    const kept = raw.prepare('SELECT run_id, round FROM checkpoints ORDER BY run_id, round').all();
    raw.close();
    expect(kept).toEqual([
      { run_id: 'a', round: 4 },
      { run_id: 'a', round: 5 },
      { run_id: 'a', round: 6 },
      { run_id: 'b', round: 1 },
      { run_id: 'b', round: 2 },
    ]);
  });
});

describe('durability', () => {
  it('finds everything again after close and reopen, in a directory it created', () => {
    // Prepare
    const path = join(dir, 'data', 'nested', 'tabula.sqlite');
    const first = openStore(path);
    first.createRun({ id: 'done', config: CONFIG, createdAt: 1_000 });
    first.createRun({ id: 'live', config: CONFIG, createdAt: 2_000 });
    const cp: Checkpoint = { round: 1, weights: fromBits(testBits(1_000, 3)), strategyState: fedadamState(1, 64) };
    first.recordRound(round('live', 1, 1, 'failed'));
    first.recordRound(round('live', 1, 2, 'completed'), cp);
    first.updateRun('done', { status: 'completed', updatedAt: 3_000 });
    first.close();

    // Execute
    const second = openStore(path);

    // Assert
    expect(second.runningRuns().map((r) => [r.id, r.completedRounds])).toEqual([['live', 1]]);
    expect(second.getRun('done')).toEqual({
      id: 'done',
      status: 'completed',
      config: CONFIG,
      createdAt: 1_000,
      updatedAt: 3_000,
      completedRounds: 0,
      error: null,
    });
    expect(second.listRounds('live')).toEqual([round('live', 1, 1, 'failed'), round('live', 1, 2, 'completed')]);
    const restored = second.latestCheckpoint('live');
    expect(bitsOf(restored?.weights as Float32Array)).toEqual(testBits(1_000, 3));
    expect(bitsOf(restored?.strategyState.optimizer.buffers.v as Float32Array)).toEqual(testBits(64, 12).map((b) => b & 0x7fffffff));
    second.close();
    const raw = new Database(path, { readonly: true });
    expect([raw.pragma('journal_mode', { simple: true }), raw.pragma('user_version', { simple: true })]).toEqual(['wal', SCHEMA_VERSION]);
    raw.close();
  });

  it('refuses a database written by a newer schema', () => {
    const path = join(dir, 'tabula.sqlite');
    openStore(path).close();
    const raw = new Database(path);
    raw.pragma('user_version = 70');
    raw.close();

    expect(() => openStore(path)).toThrow(`${path} has schema version 70, newer than this hub's ${SCHEMA_VERSION}`);
  });
});

describe('corrupt rows', () => {
  /** Changes the stored run 'r1' behind the store's back (while it is closed), then opens it again. */
  function corrupt(sql: string): Store {
    const path = join(dir, 'tabula.sqlite');
    const store = openStore(path);
    store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    store.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1));
    store.close();
    const raw = new Database(path);
    raw.exec(sql);
    raw.close();
    return openStore(path);
  }

  it("reads a config stored before a setting existed with that setting's default", () => {
    // Prepare: a run row as an older version wrote it, without `aggregation`.
    const { aggregation: _added, ...older } = CONFIG;
    const store = corrupt(`UPDATE runs SET config = '${JSON.stringify(older)}'`);
    // Execute / Assert
    expect(store.getRun('r1')!.config).toEqual(CONFIG);
    store.close();
  });

  it('names the run when its config is not JSON', () => {
    const store = corrupt(`UPDATE runs SET config = '{"name": '`);
    expect(() => store.getRun('r1')).toThrow("store: run 'r1': config is not valid JSON");
    expect(() => store.listRuns()).toThrow("store: run 'r1': config is not valid JSON");
    store.close();
  });

  it('names the run and round when a privacy record is not one', () => {
    const store = corrupt(`UPDATE rounds SET privacy = '{"epsilon": "high"}'`);
    expect(() => store.listRounds('r1')).toThrow(
      "store: run 'r1' round 1 attempt 1: privacy is not { epsilon, delta, order, samplingRate }",
    );
    store.close();
  });

  it('names the run and round when metrics are not JSON', () => {
    const store = corrupt(`UPDATE rounds SET metrics = 'not json'`);
    expect(() => store.listRounds('r1')).toThrow("store: run 'r1' round 1 attempt 1: metrics is not valid JSON");
    store.close();
  });

  // The decoding checks below guard rows written before checksums (checksum NULL), which are read unverified.
  it('names the run and round when the weights blob is not whole float32 values', () => {
    const store = corrupt(`UPDATE checkpoints SET weights = x'0001020304', checksum = NULL`);
    expect(() => store.latestCheckpoint('r1')).toThrow(
      "store: run 'r1' checkpoint of round 1: weights has 5 bytes, not a whole number of float32 values",
    );
    store.close();
  });

  it('names the buffer when a strategy buffer is not whole float32 values', () => {
    // 'AAAAAAAA' is 6 bytes
    const store = corrupt(
      `UPDATE checkpoints SET checksum = NULL,
         strategy_state = '{"name":"fedavg","optimizer":{"kind":"fedadam","step":1,"buffers":{"m":{"$f32le":"AAAAAAAA"}}}}'`,
    );
    expect(() => store.latestCheckpoint('r1')).toThrow(
      "store: run 'r1' checkpoint of round 1: strategy_state.optimizer.buffers.m: a float32 buffer has 6 bytes",
    );
    store.close();
  });

  it('refuses a strategy state of the wrong shape', () => {
    const store = corrupt(`UPDATE checkpoints SET strategy_state = '{"name":"fedavg"}', checksum = NULL`);
    expect(() => store.latestCheckpoint('r1')).toThrow('strategy_state is not { name, optimizer: { kind, step, buffers } }');
    store.close();
  });
});

describe('one process at a time', () => {
  it('refuses a second open of the same file while the first is open, and opens it once that one closed', () => {
    // Prepare
    const path = join(dir, 'tabula.sqlite');
    const first = openStore(path);
    first.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    // Execute / Assert: the second open fails before reading or writing anything
    expect(() => openStore(path, { lockWaitMs: 0 })).toThrow(StoreLockedError);
    expect(() => openStore(path, { lockWaitMs: 0 })).toThrow(`openStore: ${path} is locked by another process`);
    const raw = new Database(path, { readonly: true, timeout: 0 });
    expect(() => raw.prepare('SELECT count(*) FROM runs').get()).toThrow('database is locked');
    raw.close();
    first.close();
    const second = openStore(path, { lockWaitMs: 0 });
    expect(second.getRun('r1')?.status).toBe('running');
    second.close();
  });
});

describe('checkpoint checksums', () => {
  function storeWithTwoRounds(path: string): void {
    const store = openStore(path);
    store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    store.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1, 64));
    store.recordRound(round('r1', 2, 1, 'completed'), checkpoint(2, 64));
    store.close();
  }

  it('detects one flipped byte in a stored model and names the run and round', () => {
    // Prepare: flip one bit of round 2's weights through a second connection, as a bad disk sector would
    const path = join(dir, 'tabula.sqlite');
    storeWithTwoRounds(path);
    const raw = new Database(path);
    const { weights } = raw.prepare("SELECT weights FROM checkpoints WHERE run_id = 'r1' AND round = 2").get() as { weights: Buffer };
    weights[100] = (weights[100] as number) ^ 0x01;
    raw.prepare("UPDATE checkpoints SET weights = ? WHERE run_id = 'r1' AND round = 2").run(weights);
    raw.close();
    // Execute
    const store = openStore(path);
    // Assert
    expect(() => store.latestCheckpoint('r1')).toThrow(
      "store: run 'r1' checkpoint of round 2 is corrupt: its weights or strategy state do not match the checksum stored with them",
    );
    store.close();
  });

  it('detects a changed strategy state that is still valid JSON', () => {
    const path = join(dir, 'tabula.sqlite');
    storeWithTwoRounds(path);
    const raw = new Database(path);
    raw.exec(`UPDATE checkpoints SET strategy_state = replace(strategy_state, '"step":2', '"step":3') WHERE round = 2`);
    raw.close();
    const store = openStore(path);
    expect(() => store.latestCheckpoint('r1')).toThrow("store: run 'r1' checkpoint of round 2 is corrupt");
    store.close();
  });

  it('reads back an intact checkpoint bit for bit', () => {
    const path = join(dir, 'tabula.sqlite');
    storeWithTwoRounds(path);
    const store = openStore(path);
    expect(store.latestCheckpoint('r1')).toEqual(checkpoint(2, 64));
    store.close();
  });
});

describe('migrations', () => {
  it('upgrades a schema-1 database keeping every run, round and checkpoint; its checkpoints read unverified', () => {
    // Prepare: a database as schema version 1 left it
    const path = join(dir, 'tabula.sqlite');
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    raw.exec(MIGRATIONS[0] as string);
    raw.pragma('user_version = 1');
    raw.prepare("INSERT INTO runs VALUES ('old', ?, 'failed', 1000, 2000, 1, 'round 2 failed 3 times')").run(JSON.stringify(CONFIG));
    raw
      .prepare("INSERT INTO rounds VALUES ('old', 1, 1, 'completed', NULL, 1000, 5, '[\"p-a\"]', '[]', ?, 10, 20)")
      .run(JSON.stringify(round('old', 1, 1, 'completed').metrics));
    const state = '{"name":"fedavg","optimizer":{"kind":"sgd","step":1,"buffers":{}}}';
    raw.prepare("INSERT INTO checkpoints VALUES ('old', 1, ?, ?, 1005)").run(Buffer.from(new Float32Array([1, 2, 3]).buffer), state);
    raw.close();
    // Execute
    const store = openStore(path);
    // Assert: nothing cascaded away while the runs table was rebuilt; the new status is allowed
    expect(store.getRun('old')).toMatchObject({ status: 'failed', completedRounds: 1, error: 'round 2 failed 3 times' });
    expect(store.listRounds('old').map((r) => [r.round, r.status])).toEqual([[1, 'completed']]);
    expect(Array.from(store.latestCheckpoint('old')?.weights ?? [])).toEqual([1, 2, 3]);
    expect(store.updateRun('old', { status: 'paused', updatedAt: 3_000 }).status).toBe('paused');
    // foreign keys work again: deleting the run takes its rounds and checkpoints with it
    expect(store.deleteRun('old')).toBe(true);
    expect([store.listRounds('old'), store.latestCheckpoint('old')]).toEqual([[], null]);
    store.close();
  });
});

describe('a full disk', () => {
  it('refuses a round that does not fit as a storage failure, writes nothing of it, and takes it once there is room', () => {
    // Prepare: one completed round, then a store that may not grow at all
    const path = join(dir, 'tabula.sqlite');
    const first = openStore(path);
    first.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    first.recordRound(round('r1', 1, 1, 'completed'), checkpoint(1, 64));
    first.close();
    const full = openStore(path, { maxBytes: statSync(path).size });
    // Execute: a checkpoint of 40 KB needs new pages
    let error: unknown = null;
    try {
      full.recordRound(round('r1', 2, 1, 'completed'), checkpoint(2, 10_000));
    } catch (e) {
      error = e;
    }
    // Assert: SQLite's own SQLITE_FULL, and round 1 is still the last one
    expect(error).toMatchObject({ code: 'SQLITE_FULL', message: 'database or disk is full' });
    expect(isStorageFailure(error)).toBe(true);
    expect(full.getRun('r1')?.completedRounds).toBe(1);
    expect(full.listRounds('r1').map((r) => r.round)).toEqual([1]);
    expect(full.latestCheckpoint('r1')?.round).toBe(1);
    full.close();
    const roomy = openStore(path);
    roomy.recordRound(round('r1', 2, 1, 'completed'), checkpoint(2, 10_000));
    expect(roomy.latestCheckpoint('r1')).toEqual(checkpoint(2, 10_000));
    roomy.close();
  });

  it('tells storage failures from errors in the data or the code', () => {
    const store = openStore(':memory:');
    store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    let duplicate: unknown = null;
    try {
      store.createRun({ id: 'r1', config: CONFIG, createdAt: 1_000 });
    } catch (e) {
      duplicate = e;
    }
    expect(isStorageFailure(duplicate)).toBe(false);
    expect(isStorageFailure(new Error('database or disk is full'))).toBe(false);
    store.close();
  });
});
