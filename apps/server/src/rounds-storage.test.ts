import Database from 'better-sqlite3';
import { RunConfigSchema, type RunSummary } from '@tabula/core';
import { describe, expect, it } from 'vitest';
import { RunController } from './rounds.js';
import { openStore, type Store } from './store.js';

describe('the round loop on failing storage', () => {
  it('pauses the run even when the disk is too full to store the pause: dashboards hear it, the store keeps it resumable', async () => {
    // Prepare: a store whose every write fails as on a full disk (the WAL cannot grow), and no participants
    const real = openStore(':memory:');
    const config = RunConfigSchema.parse({ algorithm: 'fedavg', model: { kind: 'mlp', inputShape: [2], hidden: [], outputs: 2, task: 'classification' }, rounds: 2, waitForParticipantsMs: 0 });
    const run = real.createRun({ id: 'r1', config, createdAt: 1 });
    const full = (): never => {
      throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
    };
    const store: Store = { ...real, recordRound: full, updateRun: full };
    const announced: RunSummary[] = [];
    const logged: string[] = [];
    // a variable, not a literal in the call: the loop's dependencies may gain members this test does not need
    const deps = {
      store,
      eligible: () => [],
      send: () => false,
      onRound: () => undefined,
      onRun: (summary: RunSummary) => announced.push(summary),
      onLatency: () => undefined,
      onOutcome: () => undefined,
      now: Date.now,
      log: (line: string) => logged.push(line),
    };
    const controller = new RunController(run, deps);

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
});
