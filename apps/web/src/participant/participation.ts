/**
 * What the person at the tab decided about taking part, remembered across reloads of the tab (sessionStorage, like
 * its identity: each tab is its own participant): paused or not,
 * only while the tab is visible, at most N rounds per hour, or left altogether. Pure but for its storage and
 * clock, so tested in Node; the page applies what `pauseReason` says (main.ts).
 */

export interface ParticipationSettings {
  /** Paused by the person: the hub selects this tab for nothing until resumed. */
  readonly paused: boolean;
  /** Take part only while the tab is visible (hidden: paused). */
  readonly visibleOnly: boolean;
  /** At most this many rounds in any hour (reached: paused until the oldest is an hour old); null: no limit. */
  readonly maxRoundsPerHour: number | null;
  /** Left: the tab stays away from the hub until the person joins again. */
  readonly left: boolean;
}

const DEFAULT_SETTINGS: ParticipationSettings = { paused: false, visibleOnly: false, maxRoundsPerHour: null, left: false };
export const STORAGE_KEY = 'tabula.participation';
const HOUR_MS = 3_600_000;

type KeyValue = Pick<Storage, 'getItem' | 'setItem'>;

export class Participation {
  private current: ParticipationSettings;
  /** When this tab's recent rounds ended (epoch ms), within the last hour. */
  private rounds: number[];

  constructor(
    private readonly storage: KeyValue | null,
    private readonly now: () => number = Date.now,
  ) {
    const stored = read(storage);
    this.current = stored.settings;
    this.rounds = stored.rounds;
  }

  get settings(): ParticipationSettings {
    return this.current;
  }

  /** Changes settings, remembered for the next visit. */
  update(patch: Partial<ParticipationSettings>): ParticipationSettings {
    const max = patch.maxRoundsPerHour;
    if (max !== undefined && max !== null && !(Number.isInteger(max) && max >= 1))
      throw new RangeError(`at most N rounds per hour needs a whole number of at least 1, got ${max}`);
    this.current = { ...this.current, ...patch };
    this.save();
    return this.current;
  }

  /** A round this tab took part in ended (its limit per hour counts it). */
  roundDone(): void {
    this.rounds = [...this.recent(), this.now()];
    this.save();
  }

  /** Rounds in the last hour. */
  get roundsThisHour(): number {
    return this.recent().length;
  }

  /** Why the tab should not take part now, in the person's words; null when it should. */
  pauseReason(hidden: boolean): string | null {
    const { paused, visibleOnly, maxRoundsPerHour, left } = this.current;
    if (left) return 'you left: join again to take part';
    if (paused) return 'you paused taking part: resume to be selected again';
    if (visibleOnly && hidden) return 'this tab is hidden, and you asked to take part only while it is visible';
    const recent = this.recent();
    if (maxRoundsPerHour !== null && recent.length >= maxRoundsPerHour) {
      const at = new Date(recent[recent.length - maxRoundsPerHour]! + HOUR_MS);
      return `${recent.length} rounds in the last hour, your limit is ${maxRoundsPerHour}: taking part again at ${at.toLocaleTimeString()}`;
    }
    return null;
  }

  /** Milliseconds until the limit per hour lets the tab take part again (null when it does not hold it back). */
  untilLimitLifts(): number | null {
    const max = this.current.maxRoundsPerHour;
    const recent = this.recent();
    if (max === null || recent.length < max) return null;
    return Math.max(0, recent[recent.length - max]! + HOUR_MS - this.now());
  }

  private recent(): number[] {
    const since = this.now() - HOUR_MS;
    return this.rounds.filter((t) => t > since);
  }

  private save(): void {
    try {
      this.storage?.setItem(STORAGE_KEY, JSON.stringify({ ...this.current, rounds: this.recent() }));
    } catch {
      // storage disabled or full: the choice lasts for this page only
    }
  }
}

/** The stored settings, each field checked (a hand-edited or older value falls back to its default). */
function read(storage: KeyValue | null): { settings: ParticipationSettings; rounds: number[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(storage?.getItem(STORAGE_KEY) ?? 'null');
  } catch {
    raw = null;
  }
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const flag = (key: 'paused' | 'visibleOnly' | 'left') => (typeof r[key] === 'boolean' ? r[key] : DEFAULT_SETTINGS[key]);
  const max = r.maxRoundsPerHour;
  return {
    settings: {
      paused: flag('paused'),
      visibleOnly: flag('visibleOnly'),
      left: flag('left'),
      maxRoundsPerHour: typeof max === 'number' && Number.isInteger(max) && max >= 1 ? max : null,
    },
    rounds: Array.isArray(r.rounds) ? r.rounds.filter((t): t is number => typeof t === 'number' && Number.isFinite(t)) : [],
  };
}
