import { describe, expect, it } from 'vitest';
import { RUNS_KEPT, TabHeadStore, memoryRecords, withHead, type HeadRecords } from './head-store.js';

const head = (value: number) => new Float32Array(3).fill(value);

describe('a tab’s head store', () => {
  it('keeps each participant’s heads apart, per run, and tells whether a round found its own', async () => {
    // Prepare: two tabs of one browser (two participant ids) over the same records.
    const records = memoryRecords();
    const found: [string, boolean][] = [];
    let id = 'tab-a';
    const store = new TabHeadStore(
      () => id,
      { onLoad: (runId, own) => found.push([runId, own]) },
      () => records,
    );
    // Execute
    await store.save('run-1', head(1));
    id = 'tab-b';
    const otherTab = await store.load('run-1');
    await store.save('run-1', head(2));
    id = 'tab-a';
    const own = await store.load('run-1');
    const otherRun = await store.load('run-2');
    // Assert
    expect(otherTab).toBeNull();
    expect(own).toEqual(head(1));
    expect(otherRun).toBeNull();
    expect(found).toEqual([
      ['run-1', false],
      ['run-1', true],
      ['run-2', false],
    ]);
    expect(store.where).toEqual({ kind: 'indexeddb' });
  });

  it(`keeps the heads of a participant’s last ${RUNS_KEPT} runs only, the latest save of a run winning`, async () => {
    // Prepare
    const store = new TabHeadStore(() => 'tab-a', {}, memoryRecords);
    // Execute: six runs, then run-3 again.
    for (let run = 1; run <= 6; run++) await store.save(`run-${run}`, head(run));
    await store.save('run-3', head(33));
    const kept = await Promise.all([1, 2, 3, 4, 5, 6].map((run) => store.find(`run-${run}`)));
    // Assert
    expect(kept.map((h) => h?.[0] ?? null)).toEqual([null, null, 33, 4, 5, 6]);
    expect(withHead([{ runId: 'old', head: head(0) }, { junk: true }], 'new', head(9), 2).map((h) => h.runId)).toEqual(['new', 'old']);
  });

  it('falls back to memory when IndexedDB fails, says why once, and goes on keeping heads', async () => {
    // Prepare: records whose every call fails, as IndexedDB does in some private modes.
    const reasons: string[] = [];
    const broken: HeadRecords = {
      get: () => Promise.reject(new Error('The operation failed for reasons unrelated to the database itself')),
      update: () => Promise.reject(new Error('quota exceeded')),
    };
    const store = new TabHeadStore(
      () => 'tab-a',
      { onFallback: (reason) => reasons.push(reason) },
      () => broken,
    );
    // Execute
    await store.save('run-1', head(1));
    const loaded = await store.load('run-1');
    // Assert
    expect(loaded).toEqual(head(1));
    expect(reasons).toEqual(['quota exceeded']);
    expect(store.where).toEqual({ kind: 'memory', reason: 'quota exceeded' });
  });

  it('uses memory from the start where there is no IndexedDB at all (here: Node)', async () => {
    const reasons: string[] = [];
    const store = new TabHeadStore(() => 'tab-a', { onFallback: (reason) => reasons.push(reason) });
    expect(store.where).toEqual({ kind: 'memory', reason: 'this browser has no IndexedDB' });
    await store.save('run-1', head(1));
    expect(await store.load('run-1')).toEqual(head(1));
    expect(store.where.kind).toBe('memory');
    expect(reasons).toHaveLength(1);
  });
});
