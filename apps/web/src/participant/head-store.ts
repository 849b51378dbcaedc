import { type HeadStore } from '@tabula/core';
import { createStore, get, update } from 'idb-keyval';

/**
 * A tab's fedrep / fedper heads: in this browser's IndexedDB, so a reload keeps them. Tabs of one browser share the
 * origin's IndexedDB yet are different participants, so each participant id has its own record, holding the heads
 * of its last RUNS_KEPT runs (newest first). idb-keyval, not hand-written IndexedDB as in own-store.ts: a keyed record
 * is all this needs, and its `update` reads and writes the record in one transaction, so two tabs never interleave.
 * Where IndexedDB is missing or fails (private modes, a full disk), the heads live in memory for this page and
 * `onFallback` says why once: training goes on either way.
 */
export const RUNS_KEPT = 4;

export interface StoredHead {
  readonly runId: string;
  readonly head: Float32Array;
}

/** Where the records live: IndexedDB, or memory. Keyed by participant id. */
export interface HeadRecords {
  get(participantId: string): Promise<unknown>;
  update(participantId: string, change: (old: unknown) => StoredHead[]): Promise<void>;
}

/** The heads of a record read back from storage, dropping anything that is not one (an older page's data). */
export function headsOf(record: unknown): StoredHead[] {
  if (!Array.isArray(record)) return [];
  return record.filter(
    (row): row is StoredHead =>
      typeof row === 'object' &&
      row !== null &&
      typeof (row as StoredHead).runId === 'string' &&
      (row as StoredHead).head instanceof Float32Array,
  );
}

/** A record after saving `head` for `runId`: that run first, then the others newest first, at most `keep` runs. */
export function withHead(record: unknown, runId: string, head: Float32Array, keep = RUNS_KEPT): StoredHead[] {
  return [{ runId, head }, ...headsOf(record).filter((h) => h.runId !== runId)].slice(0, keep);
}

export function memoryRecords(): HeadRecords {
  const records = new Map<string, StoredHead[]>();
  return {
    get: (participantId) => Promise.resolve(records.get(participantId)),
    update(participantId, change) {
      records.set(participantId, change(records.get(participantId)));
      return Promise.resolve();
    },
  };
}

/** The database 'tabula-heads' with its one object store 'heads' (idb-keyval opens it on first use). */
export function indexedDbRecords(): HeadRecords {
  if (typeof indexedDB === 'undefined') throw new Error('this browser has no IndexedDB');
  const store = createStore('tabula-heads', 'heads');
  return {
    get: (participantId) => get<unknown>(participantId, store),
    update: (participantId, change) => update<unknown>(participantId, change, store),
  };
}

/** What the tab shows about its head: where it is kept, and whether this round found one of its own. */
export interface HeadEvents {
  onLoad?(runId: string, found: boolean): void;
  onSave?(runId: string, head: Float32Array): void;
  onFallback?(reason: string): void;
}

export class TabHeadStore implements HeadStore {
  private records: HeadRecords;
  private failure: string | null = null;
  /** The latest head each run had here, for views that need it without waiting (Try it). */
  private readonly latest = new Map<string, Float32Array>();

  /**
   * `participantId`: this tab's id now (the hub may change it). `open`: the records to use, IndexedDB by default;
   * if opening throws, memory from the start.
   */
  constructor(
    private readonly participantId: () => string | null,
    private readonly events: HeadEvents = {},
    open: () => HeadRecords = indexedDbRecords,
  ) {
    try {
      this.records = open();
    } catch (error) {
      this.records = memoryRecords();
      this.fail(error);
    }
  }

  /** Where the heads are kept: 'indexeddb', or 'memory' with the reason IndexedDB could not be used. */
  get where(): { kind: 'indexeddb' } | { kind: 'memory'; reason: string } {
    return this.failure === null ? { kind: 'indexeddb' } : { kind: 'memory', reason: this.failure };
  }

  /** The participant runtime's load, before a round: says what it found (onLoad). */
  async load(runId: string): Promise<Float32Array | null> {
    const head = await this.find(runId);
    this.events.onLoad?.(runId, head !== null);
    return head;
  }

  /** This participant's stored head for `runId`, without telling anyone (the meta-test's read). */
  async find(runId: string): Promise<Float32Array | null> {
    const id = this.participantId();
    if (id === null) return null;
    const head = headsOf(await this.attempt((r) => r.get(id))).find((h) => h.runId === runId)?.head ?? null;
    if (head) this.remember(runId, head);
    return head;
  }

  async save(runId: string, head: Float32Array): Promise<void> {
    const id = this.participantId();
    this.remember(runId, head);
    if (id !== null) await this.attempt((r) => r.update(id, (old) => withHead(old, runId, head)));
    this.events.onSave?.(runId, head);
  }

  /** Deletes this participant's heads (the person at the tab left and asked for its data to go). */
  forget(): Promise<void> {
    // The id is read now, before the caller forgets it.
    const id = this.participantId();
    this.latest.clear();
    return id === null ? Promise.resolve() : this.attempt((r) => r.update(id, () => []));
  }

  /** The head this tab last loaded or saved for `runId` in this page, if any. */
  cached(runId: string): Float32Array | null {
    return this.latest.get(runId) ?? null;
  }

  private remember(runId: string, head: Float32Array): void {
    this.latest.delete(runId);
    this.latest.set(runId, head);
    for (const oldest of this.latest.keys()) {
      if (this.latest.size <= RUNS_KEPT) break;
      this.latest.delete(oldest);
    }
  }

  /** Runs `use` on the records; on an IndexedDB failure moves to memory for good and runs it there. */
  private async attempt<T>(use: (records: HeadRecords) => Promise<T>): Promise<T> {
    try {
      return await use(this.records);
    } catch (error) {
      if (this.failure !== null) throw error; // memory itself failed: not a storage problem
      this.records = memoryRecords();
      this.fail(error);
      return use(this.records);
    }
  }

  private fail(error: unknown): void {
    this.failure = error instanceof Error ? error.message : String(error);
    this.events.onFallback?.(this.failure);
  }
}
