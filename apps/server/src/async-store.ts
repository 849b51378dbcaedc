/**
 * The store as the hub will use it when it runs as one of several (design/scale-out.md §4.4): asynchronous, so that
 * PostgreSQL (pg-store.ts) can stand behind it, with SQLite (store.ts) behind the same interface for the one-hub default.
 */
import type { RoundSummary, RunConfig, RunStatus, RunSummary } from '@tabula/core';
import type { Checkpoint, Store } from './store.js';

/** The store both hub modes can run on: SQLite behind it for one hub (asyncStore), PostgreSQL for many. */
export interface AsyncStore {
  createRun(run: { id: string; config: RunConfig; createdAt: number }): Promise<RunSummary>;
  /** With `fence`, only if no coordinator of a newer epoch has written to this run (else StaleCoordinatorError). */
  updateRun(
    id: string,
    patch: { status?: RunStatus; error?: string | null; updatedAt: number },
    fence?: { readonly epoch: number },
  ): Promise<RunSummary>;
  getRun(id: string): Promise<RunSummary | null>;
  /** Newest first. */
  listRuns(): Promise<RunSummary[]>;
  latestRun(): Promise<RunSummary | null>;
  runningRuns(): Promise<RunSummary[]>;
  /**
   * One transaction, as Store.recordRound; with `fence`, only if no coordinator of a newer epoch has written to this
   * run (else StaleCoordinatorError, and nothing is written).
   */
  recordRound(summary: RoundSummary, checkpoint?: Checkpoint, fence?: { readonly epoch: number }): Promise<void>;
  listRounds(runId: string): Promise<RoundSummary[]>;
  deleteRun(id: string): Promise<boolean>;
  latestCheckpoint(runId: string): Promise<Checkpoint | null>;
  close(): Promise<void>;
}

/** A coordinator whose lease a newer one took: its write was refused, and it must step down. */
export class StaleCoordinatorError extends Error {
  readonly code = 'stale-coordinator';
  constructor(
    readonly runId: string,
    readonly epoch: number,
    readonly newest: number,
  ) {
    super(`run '${runId}': coordinator epoch ${epoch} is stale (epoch ${newest} has written): this hub is no longer the coordinator`);
    this.name = 'StaleCoordinatorError';
  }
}

/** The SQLite store behind the asynchronous interface. One hub has no rival coordinator, so a fence changes nothing. */
export function asyncStore(store: Store): AsyncStore {
  const call = <T>(work: () => T): Promise<T> => {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  };
  return {
    createRun: (run) => call(() => store.createRun(run)),
    updateRun: (id, patch) => call(() => store.updateRun(id, patch)),
    getRun: (id) => call(() => store.getRun(id)),
    listRuns: () => call(() => store.listRuns()),
    latestRun: () => call(() => store.latestRun()),
    runningRuns: () => call(() => store.runningRuns()),
    recordRound: (summary, checkpoint) => call(() => store.recordRound(summary, checkpoint)),
    listRounds: (runId) => call(() => store.listRounds(runId)),
    deleteRun: (id) => call(() => store.deleteRun(id)),
    latestCheckpoint: (runId) => call(() => store.latestCheckpoint(runId)),
    close: () => call(() => store.close()),
  };
}

/**
 * The store as one coordinator writes to it: every round and run update carries its fencing epoch, so once a newer
 * coordinator has written, this one's writes are refused (StaleCoordinatorError) and change nothing.
 */
export function fencedStore(store: AsyncStore, epoch: number): AsyncStore {
  const fence = { epoch };
  return {
    ...store,
    updateRun: (id, patch) => store.updateRun(id, patch, fence),
    recordRound: (summary, checkpoint) => store.recordRound(summary, checkpoint, fence),
  };
}
