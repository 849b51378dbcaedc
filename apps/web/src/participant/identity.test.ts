import { describe, expect, it } from 'vitest';
import { Identity, readPool, type HoldLock } from './identity.js';

function memory(): Storage {
  const map = new Map<string, string>();
  return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v) } as Storage;
}

/** Locks of one browser: a name can be held by one tab only. */
function lockManager(): HoldLock {
  const held = new Set<string>();
  return async (name) => (held.has(name) ? false : (held.add(name), true));
}

describe('Identity', () => {
  it('gives two tabs of one browser different ids, and a reloaded tab its own again', async () => {
    // Prepare: one browser (shared localStorage and locks), two tabs
    const local = memory();
    const locks = lockManager();
    const tabA = memory();
    const tabB = memory();
    // Execute
    const a = await Identity.claim(local, tabA, locks);
    expect(a.id).toBeNull(); // first visit: the hub assigns one
    await a.adopt('alpha-1');
    const b = await Identity.claim(local, tabB, locks);
    // Assert: 'alpha-1' is held by tab A, so tab B asks the hub for a new one
    expect(b.id).toBeNull();
    await b.adopt('beta-22');
    expect(readPool(local)).toEqual(['beta-22', 'alpha-1']);
    // tab A reloads (its lock is released): it takes its own id back
    const freshLocks = lockManager();
    const again = await Identity.claim(local, tabA, freshLocks);
    expect(again.id).toBe('alpha-1');
  });

  it('reuses a free id from the pool after a browser restart', async () => {
    const local = memory();
    local.setItem('tabula.participantIds', JSON.stringify(['old-id-7', 'bad id!']));
    const identity = await Identity.claim(local, memory(), lockManager());
    expect(identity.id).toBe('old-id-7');
  });
});
