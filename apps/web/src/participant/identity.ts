/**
 * The participant id the hub gave this browser, so a reload or reconnect keeps its identity. Ids live in
 * localStorage (a pool, surviving restarts) and the tab's own id also in sessionStorage (surviving reloads).
 * Tabs of one browser share localStorage, yet each tab is its own participant: a tab holds a Web Lock named
 * after its id for as long as it is open, so another tab never takes the same id.
 */
const POOL_KEY = 'tabula.participantIds';
const TAB_KEY = 'tabula.participantId';
const POOL_SIZE = 32;
const VALID = /^[A-Za-z0-9_-]{4,64}$/;

type Store = Pick<Storage, 'getItem' | 'setItem'>;
/** Tries to hold an exclusive lock for the tab's lifetime: true when this tab now holds it. */
export type HoldLock = (name: string) => Promise<boolean>;

export function readPool(local: Store): string[] {
  try {
    const parsed: unknown = JSON.parse(local.getItem(POOL_KEY) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === 'string' && VALID.test(id)) : [];
  } catch {
    return [];
  }
}

/** Web Locks where the browser has them (secure contexts); otherwise every claim succeeds. */
export const holdWebLock: HoldLock = (name) =>
  new Promise((resolve) => {
    const locks = (navigator as Navigator & { locks?: LockManager }).locks;
    if (!locks) return resolve(true);
    locks
      .request(name, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock ? new Promise<void>(() => undefined) : undefined; // held until the tab closes
      })
      .catch(() => resolve(false));
  });

export class Identity {
  private constructor(
    private current: string | null,
    private readonly local: Store,
    private readonly tab: Store,
    private readonly hold: HoldLock,
  ) {}

  /** Picks this tab's id: its own from before a reload, else a free one from the pool, else none (the hub assigns one). */
  static async claim(local: Store = safeStorage(() => localStorage), tab: Store = safeStorage(() => sessionStorage), hold: HoldLock = holdWebLock): Promise<Identity> {
    const own = tab.getItem(TAB_KEY);
    const candidates = [...(own && VALID.test(own) ? [own] : []), ...readPool(local).filter((id) => id !== own)];
    for (const id of candidates) if (await hold(lockName(id))) return new Identity(id, local, tab, hold);
    return new Identity(null, local, tab, hold);
  }

  get id(): string | null {
    return this.current;
  }

  /** The hub's Welcome named this tab's id: keep it (pool and tab), holding its lock. */
  async adopt(id: string): Promise<void> {
    if (!VALID.test(id)) return;
    if (id !== this.current) await this.hold(lockName(id));
    this.current = id;
    try {
      this.tab.setItem(TAB_KEY, id);
      const pool = [id, ...readPool(this.local).filter((p) => p !== id)].slice(0, POOL_SIZE);
      this.local.setItem(POOL_KEY, JSON.stringify(pool));
    } catch {
      // storage full or disabled: the hub hands out a new id next time
    }
  }
}

function lockName(id: string): string {
  return `tabula-participant-${id}`;
}

/** Storage that may be disabled (privacy settings) degrades to "remembers nothing". */
function safeStorage(get: () => Storage): Store {
  try {
    const storage = get();
    return storage;
  } catch {
    return { getItem: () => null, setItem: () => undefined };
  }
}
