import { describe, expect, it } from 'vitest';
import { Identity, readPool, type HoldLock } from './identity.js';

function memory(): Storage {
  const map = new Map<string, string>();
  return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v) } as Storage;
}

/** Locks of one browser: a name can be held by one tab only. */
function lockManager(): HoldLock {
  const held = new Set<string>();
  return (name) => Promise.resolve(held.has(name) ? false : (held.add(name), true));
}

const SECRET_A = 'secret-of-alpha-0123';
const SECRET_B = 'secret-of-beta-45678';

describe('Identity', () => {
  it('gives two tabs of one browser different ids, and a reloaded tab its own again, with its secret', async () => {
    // Prepare: one browser (shared localStorage and locks), two tabs
    const local = memory();
    const locks = lockManager();
    const tabA = memory();
    const tabB = memory();
    // Execute
    const a = await Identity.claim(local, tabA, locks);
    expect(a.id).toBeNull(); // first visit: the hub assigns one
    await a.adopt('alpha-1', SECRET_A);
    const b = await Identity.claim(local, tabB, locks);
    // Assert: 'alpha-1' is held by tab A, so tab B asks the hub for a new one
    expect(b.id).toBeNull();
    await b.adopt('beta-22', SECRET_B);
    expect(readPool(local).map((c) => c.id)).toEqual(['beta-22', 'alpha-1']);
    // tab A reloads (its lock is released): it takes its own id and secret back
    const again = await Identity.claim(local, tabA, lockManager());
    expect([again.id, again.secret]).toEqual(['alpha-1', SECRET_A]);
  });

  it('reuses free credentials from the pool after a browser restart, skipping malformed ones and bare ids', async () => {
    const local = memory();
    local.setItem(
      'tabula.participants',
      JSON.stringify([{ id: 'bad id!', secret: SECRET_A }, 'bare-id-1', { id: 'no-secret-2' }, { id: 'old-id-7', secret: SECRET_B }]),
    );
    const identity = await Identity.claim(local, memory(), lockManager());
    expect([identity.id, identity.secret]).toEqual(['old-id-7', SECRET_B]);
  });

  it('forgets credentials the hub refused, so the next hello asks for new ones', async () => {
    const local = memory();
    const tab = memory();
    const identity = await Identity.claim(local, tab, lockManager());
    await identity.adopt('alpha-1', SECRET_A);
    identity.forget();
    expect(identity.id).toBeNull();
    expect(readPool(local)).toEqual([]);
    expect((await Identity.claim(local, tab, lockManager())).id).toBeNull();
  });
});
