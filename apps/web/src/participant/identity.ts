/**
 * The participant id the hub gave this browser, with the secret that proves it (ids are public: the hub lists them
 * in every round), so a reload or reconnect keeps its identity. Credentials live in localStorage (a pool, surviving
 * restarts) and the tab's own also in sessionStorage (surviving reloads). Tabs of one browser share localStorage, yet
 * each tab is its own participant: a tab holds a Web Lock named after its id for as long as it is open, so another
 * tab never takes the same id.
 */
const POOL_KEY = 'tabula.participants';
const TAB_KEY = 'tabula.participant';
const POOL_SIZE = 32;
const VALID_ID = /^[A-Za-z0-9_-]{4,64}$/;
const VALID_SECRET = /^[A-Za-z0-9_-]{16,128}$/;

type Store = Pick<Storage, 'getItem' | 'setItem'>;
/** Tries to hold an exclusive lock for the tab's lifetime: true when this tab now holds it. */
export type HoldLock = (name: string) => Promise<boolean>;

export interface Credentials {
  readonly id: string;
  readonly secret: string;
}

function isCredentials(value: unknown): value is Credentials {
  const c = value as Partial<Credentials> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.id === 'string' &&
    VALID_ID.test(c.id) &&
    typeof c.secret === 'string' &&
    VALID_SECRET.test(c.secret)
  );
}

function parse(text: string | null): unknown {
  try {
    return JSON.parse(text ?? 'null');
  } catch {
    return null;
  }
}

export function readPool(local: Store): Credentials[] {
  const parsed = parse(local.getItem(POOL_KEY));
  return Array.isArray(parsed) ? parsed.filter(isCredentials) : [];
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
    private current: Credentials | null,
    private readonly local: Store,
    private readonly tab: Store,
    private readonly hold: HoldLock,
  ) {}

  /** Picks this tab's credentials: its own from before a reload, else free ones from the pool, else none (the hub issues them). */
  static async claim(
    local: Store = safeStorage(() => localStorage),
    tab: Store = safeStorage(() => sessionStorage),
    hold: HoldLock = holdWebLock,
  ): Promise<Identity> {
    const own = parse(tab.getItem(TAB_KEY));
    const candidates = [...(isCredentials(own) ? [own] : []), ...readPool(local).filter((c) => !isCredentials(own) || c.id !== own.id)];
    for (const c of candidates) if (await hold(lockName(c.id))) return new Identity(c, local, tab, hold);
    return new Identity(null, local, tab, hold);
  }

  get id(): string | null {
    return this.current?.id ?? null;
  }

  get secret(): string | null {
    return this.current?.secret ?? null;
  }

  /** The hub's Welcome named this tab's id and secret: keep them (pool and tab), holding the id's lock. */
  async adopt(id: string, secret: string): Promise<void> {
    const credentials = { id, secret };
    if (!isCredentials(credentials)) return;
    if (id !== this.current?.id) await this.hold(lockName(id));
    this.current = credentials;
    try {
      this.tab.setItem(TAB_KEY, JSON.stringify(credentials));
      const pool = [credentials, ...readPool(this.local).filter((p) => p.id !== id)].slice(0, POOL_SIZE);
      this.local.setItem(POOL_KEY, JSON.stringify(pool));
    } catch {
      // storage full or disabled: the hub hands out a new id next time
    }
  }

  /** The hub says these credentials are not ours (another participant holds the id): drop them everywhere. */
  forget(): void {
    const gone = this.current?.id;
    this.current = null;
    try {
      this.tab.setItem(TAB_KEY, 'null');
      this.local.setItem(POOL_KEY, JSON.stringify(readPool(this.local).filter((p) => p.id !== gone)));
    } catch {
      // storage disabled: nothing was kept
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
