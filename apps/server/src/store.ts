/**
 * The hub's SQLite store: runs, every round attempt, and the newest checkpoints (global weights + strategy state),
 * so a run resumes exactly after a restart. better-sqlite3 is synchronous: each call is short, and a round's
 * writes are one transaction, so a crash never leaves a completed round without its checkpoint.
 *
 * One process owns a store file at a time: openStore takes SQLite's exclusive lock on it and holds it until
 * close. The lock is the kernel's (fcntl), so it dies with the process, even after kill -9.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { RUN_STATUSES, type RoundSummary, type RunConfig, type RunStatus, type RunSummary, type StrategyState } from '@tabula/core';
import {
  checkRoundInput,
  checkTime,
  decodeCheckpoint,
  decodeRound,
  decodeRun,
  encodeCheckpoint,
  encodeRound,
  message,
  type CheckpointRow,
  type RoundRow,
  type RunRow,
} from './store-rows.js';

export interface Checkpoint {
  readonly round: number;
  readonly weights: Float32Array;
  readonly strategyState: StrategyState;
}

export interface Store {
  /** A new run: status 'running', completedRounds 0, updatedAt = createdAt. Throws if the id exists. */
  createRun(run: { id: string; config: RunConfig; createdAt: number }): RunSummary;
  /** Changes status and/or error (null clears it); throws on an unknown id. */
  updateRun(id: string, patch: { status?: RunStatus; error?: string | null; updatedAt: number }): RunSummary;
  getRun(id: string): RunSummary | null;
  /** Newest first. */
  listRuns(): RunSummary[];
  /** The newest run (listRuns()[0]) without reading the others: what every tab's poll of /api/privacy needs. */
  latestRun(): RunSummary | null;
  /** Runs with status 'running' (to resume after a restart), newest first. */
  runningRuns(): RunSummary[];
  /**
   * One transaction: insert the round row; when status is 'completed' also store the checkpoint, set the run's
   * completedRounds = round (and updatedAt to the round's end) and prune checkpoints beyond the newest
   * `keepCheckpoints`. Every attempt must be for round completedRounds + 1. A completed round without a checkpoint,
   * a checkpoint whose round differs, or a failed attempt with one is an Error, and nothing is written.
   */
  recordRound(summary: RoundSummary, checkpoint?: Checkpoint): void;
  /** Ordered by round, then attempt. */
  listRounds(runId: string): RoundSummary[];
  /** Removes a run with its rounds and checkpoints; false when there is no such run. */
  deleteRun(id: string): boolean;
  /**
   * The newest checkpoint, verified against the checksum stored with it (rows written before checksums existed
   * are returned unverified). A corrupt one throws, naming run and round: it is never returned, and no older one
   * is returned in its place either, since the run's recorded rounds go past it.
   */
  latestCheckpoint(runId: string): Checkpoint | null;
  /** Idempotent. */
  close(): void;
}

export interface StoreOptions {
  /** Checkpoints kept per run, newest by round; default 5. */
  readonly keepCheckpoints?: number;
  /** The file may not grow beyond this: a write that would fails as on a full disk (SQLITE_FULL). */
  readonly maxBytes?: number;
  /** How long to wait for another process's lock on the file to go (one that is closing); default 2000. */
  readonly lockWaitMs?: number;
}

/** Another process holds the store's file (see openStore). */
export class StoreLockedError extends Error {
  constructor(readonly path: string) {
    super(`openStore: ${path} is locked by another process`);
  }
}

/**
 * A failure of the storage under the store rather than of the data or the code: a full disk, an I/O error, a
 * file that became read-only, a database server that cannot be reached. Freeing space, fixing the mount or bringing
 * the server back lets the same write succeed later.
 */
export function isStorageFailure(error: unknown): boolean {
  if (error instanceof Database.SqliteError) return /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|NOMEM)/.test(error.code);
  if (!(error instanceof Error)) return false;
  // PostgreSQL (pg-store.ts): the server cannot be reached, went away, or is out of room. Its SQLSTATE classes 08
  // (connection), 53 (insufficient resources) and 57P (shut down), Node's socket errors, and pg's own word for a
  // connection that died mid-query.
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^(08|53|57P|ECONNREFUSED$|ECONNRESET$|ETIMEDOUT$|EPIPE$|EHOSTUNREACH$)/.test(code)) return true;
  return /^Connection terminated|^Client has encountered a connection error/.test(error.message);
}

/**
 * Migration i takes the schema from version i to i + 1 (PRAGMA user_version). Append, never edit: a database on
 * disk may be at any earlier version. Exported for tests that build a database as an older version left it.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE runs (
    id               TEXT PRIMARY KEY NOT NULL,
    config           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('running', 'completed', 'stopped', 'failed')),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    completed_rounds INTEGER NOT NULL DEFAULT 0,
    error            TEXT
  );
  CREATE INDEX runs_by_created ON runs (created_at);
  CREATE TABLE rounds (
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    round        INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('completed', 'failed')),
    reason       TEXT,
    started_at   INTEGER NOT NULL,
    duration_ms  REAL NOT NULL,
    participants TEXT NOT NULL,
    failures     TEXT NOT NULL,
    metrics      TEXT NOT NULL,
    bytes_up     INTEGER NOT NULL,
    bytes_down   INTEGER NOT NULL,
    PRIMARY KEY (run_id, round, attempt)
  );
  CREATE TABLE checkpoints (
    run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    round          INTEGER NOT NULL,
    weights        BLOB NOT NULL,
    strategy_state TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (run_id, round)
  );
  `,
  // 'paused': a storage failure stopped the run; an admin resumes it. A CHECK cannot be altered, so the table is
  // rebuilt (migrate turns foreign keys off around this, or dropping runs would cascade to rounds and checkpoints).
  `
  CREATE TABLE runs_v2 (
    id               TEXT PRIMARY KEY NOT NULL,
    config           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'stopped', 'failed')),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    completed_rounds INTEGER NOT NULL DEFAULT 0,
    error            TEXT
  );
  INSERT INTO runs_v2 (rowid, id, config, status, created_at, updated_at, completed_rounds, error)
    SELECT rowid, id, config, status, created_at, updated_at, completed_rounds, error FROM runs;
  DROP TABLE runs;
  ALTER TABLE runs_v2 RENAME TO runs;
  CREATE INDEX runs_by_created ON runs (created_at);
  `,
  // sha256 of a checkpoint's weights and strategy state, verified when read; NULL in rows written before this.
  `
  ALTER TABLE checkpoints ADD COLUMN checksum TEXT;
  `,
  // A completed round of a differentially private run: its (ε, δ) guarantee as JSON ({epsilon, delta, order,
  // samplingRate}); NULL otherwise, and in rows written before this.
  `
  ALTER TABLE rounds ADD COLUMN privacy TEXT;
  `,
  // A secure aggregation attempt that reached its stages: {stages: [{stage, asked, answered}], threshold, neighbours,
  // clampedShare} as JSON; NULL otherwise, and in rows written before this.
  `
  ALTER TABLE rounds ADD COLUMN secure_aggregation TEXT;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Opens (creating if needed) the store at a file path or ':memory:', migrating the schema to the current version.
 * Throws StoreLockedError when another process (or another open store in this one) holds the file.
 */
export function openStore(path: string, options: StoreOptions = {}): Store {
  const keep = options.keepCheckpoints ?? 5;
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`openStore: keepCheckpoints must be an integer >= 1, got ${keep}`);
  const maxBytes = options.maxBytes;
  if (maxBytes !== undefined && !(Number.isInteger(maxBytes) && maxBytes > 0))
    throw new RangeError(`openStore: maxBytes must be a positive integer, got ${maxBytes}`);
  const inMemory = path === ':memory:' || path === '';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });

  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (e) {
    throw new Error(`openStore: cannot open ${path}: ${message(e)}`, { cause: e });
  }
  try {
    // EXCLUSIVE before the first access: the first write lock is then held until close, and WAL keeps its index
    // in this process's memory instead of a shared-memory file. The write lock is taken at once, so a second
    // process fails here, before it reads or writes anything.
    db.pragma(`busy_timeout = ${options.lockWaitMs ?? 2000}`);
    db.pragma('locking_mode = EXCLUSIVE');
    try {
      // WAL keeps a transaction that is cut short out of the file; NORMAL is durable across process crashes in
      // WAL mode (a power cut may lose the last transactions, never corrupt the file).
      db.pragma('journal_mode = WAL');
      db.exec('BEGIN EXCLUSIVE; COMMIT');
    } catch (e) {
      if (e instanceof Database.SqliteError && e.code.startsWith('SQLITE_BUSY')) throw new StoreLockedError(path);
      throw e;
    }
    db.pragma('synchronous = NORMAL');
    if (maxBytes !== undefined)
      db.pragma(`max_page_count = ${Math.max(1, Math.floor(maxBytes / Number(db.pragma('page_size', { simple: true }))))}`);
    // better-sqlite3 turns foreign keys on by default; a migration that rebuilds a table needs them off.
    db.pragma('foreign_keys = OFF');
    migrate(db, path);
    db.pragma('foreign_keys = ON');
    return createStore(db, keep);
  } catch (e) {
    db.close();
    if (e instanceof StoreError || e instanceof StoreLockedError) throw e;
    throw new Error(`openStore: ${path}: ${message(e)}`, { cause: e });
  }
}

class StoreError extends Error {}

function migrate(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true });
  if (typeof version !== 'number') throw new StoreError(`openStore: ${path}: unreadable schema version`);
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      `openStore: ${path} has schema version ${version}, newer than this hub's ${SCHEMA_VERSION}: ` +
        'it was written by a newer Tabula; upgrade, or point TABULA_DATA_DIR elsewhere',
    );
  }
  // Foreign keys are off here (a migration may rebuild a table); each step checks them before it commits.
  for (let v = version; v < SCHEMA_VERSION; v++) {
    const sql = MIGRATIONS[v] as string;
    // each step with its version bump, so an interrupted upgrade resumes at the step that failed
    db.transaction(() => {
      db.exec(sql);
      const broken = db.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0) throw new StoreError(`openStore: ${path}: migration ${v + 1} would break ${broken.length} foreign keys`);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

function createStore(db: Database.Database, keep: number): Store {
  const stmt = {
    insertRun: db.prepare<[{ id: string; config: string; createdAt: number }]>(
      `INSERT INTO runs (id, config, status, created_at, updated_at, completed_rounds, error)
       VALUES (@id, @config, 'running', @createdAt, @createdAt, 0, NULL)`,
    ),
    updateRun: db.prepare<[{ id: string; status: string; error: string | null; updatedAt: number }]>(
      'UPDATE runs SET status = @status, error = @error, updated_at = @updatedAt WHERE id = @id',
    ),
    getRun: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?'),
    listRuns: db.prepare<[], RunRow>('SELECT * FROM runs ORDER BY created_at DESC, rowid DESC'),
    latestRun: db.prepare<[], RunRow>('SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1'),
    runningRuns: db.prepare<[], RunRow>("SELECT * FROM runs WHERE status = 'running' ORDER BY created_at DESC, rowid DESC"),
    completeRound: db.prepare<[{ id: string; round: number; finishedAt: number }]>(
      'UPDATE runs SET completed_rounds = @round, updated_at = MAX(updated_at, @finishedAt) WHERE id = @id',
    ),
    hasAttempt: db.prepare<[string, number, number], { one: number }>(
      'SELECT 1 AS one FROM rounds WHERE run_id = ? AND round = ? AND attempt = ?',
    ),
    insertRound: db.prepare<[RoundRow]>(
      `INSERT INTO rounds (run_id, round, attempt, status, reason, started_at, duration_ms, participants, failures,
                           metrics, bytes_up, bytes_down, privacy, secure_aggregation)
       VALUES (@run_id, @round, @attempt, @status, @reason, @started_at, @duration_ms, @participants, @failures,
               @metrics, @bytes_up, @bytes_down, @privacy, @secure_aggregation)`,
    ),
    listRounds: db.prepare<[string], RoundRow>('SELECT * FROM rounds WHERE run_id = ? ORDER BY round, attempt'),
    // Rounds and checkpoints go with it: ON DELETE CASCADE, foreign_keys is on.
    deleteRun: db.prepare<[string]>('DELETE FROM runs WHERE id = ?'),
    insertCheckpoint: db.prepare<[{ runId: string; round: number; weights: Buffer; state: string; checksum: string; createdAt: number }]>(
      `INSERT INTO checkpoints (run_id, round, weights, strategy_state, checksum, created_at)
       VALUES (@runId, @round, @weights, @state, @checksum, @createdAt)`,
    ),
    // deletes every checkpoint at or below the (keep + 1)-th newest; none when there are at most `keep`
    pruneCheckpoints: db.prepare<[{ runId: string; keep: number }]>(
      `DELETE FROM checkpoints WHERE run_id = @runId AND round <= (
         SELECT round FROM checkpoints WHERE run_id = @runId ORDER BY round DESC LIMIT 1 OFFSET @keep)`,
    ),
    latestCheckpoint: db.prepare<[string], CheckpointRow>(
      'SELECT round, weights, strategy_state, checksum FROM checkpoints WHERE run_id = ? ORDER BY round DESC LIMIT 1',
    ),
  };

  const requireRun = (id: string, where: string): RunSummary => {
    const row = stmt.getRun.get(id);
    if (row === undefined) throw new Error(`store.${where}: unknown run '${id}'`);
    return decodeRun(row);
  };

  const createRun: Store['createRun'] = ({ id, config, createdAt }) => {
    if (typeof id !== 'string' || id.length === 0) throw new TypeError('store.createRun: id must be a non-empty string');
    checkTime(createdAt, 'store.createRun: createdAt');
    return db.transaction(() => {
      if (stmt.getRun.get(id) !== undefined) throw new Error(`store.createRun: run '${id}' already exists`);
      stmt.insertRun.run({ id, config: JSON.stringify(config), createdAt });
      return requireRun(id, 'createRun');
    })();
  };

  const updateRun: Store['updateRun'] = (id, patch) => {
    if (patch.status !== undefined && !RUN_STATUSES.includes(patch.status)) {
      throw new TypeError(`store.updateRun: unknown status '${String(patch.status)}'`);
    }
    checkTime(patch.updatedAt, 'store.updateRun: updatedAt');
    return db.transaction(() => {
      const run = requireRun(id, 'updateRun');
      stmt.updateRun.run({
        id,
        status: patch.status ?? run.status,
        error: patch.error === undefined ? run.error : patch.error,
        updatedAt: patch.updatedAt,
      });
      return requireRun(id, 'updateRun');
    })();
  };

  const recordRound = db.transaction((summary: RoundSummary, checkpoint?: Checkpoint): void => {
    const where = `store.recordRound: run '${summary.runId}' round ${summary.round} attempt ${summary.attempt}`;
    checkRoundInput(summary, checkpoint, where);
    const run = requireRun(summary.runId, 'recordRound');
    // rounds complete in order, so the latest checkpoint and completedRounds always agree on where to resume
    if (summary.round !== run.completedRounds + 1) {
      throw new Error(`${where}: the run has completed ${run.completedRounds} rounds, so the next is ${run.completedRounds + 1}`);
    }
    if (stmt.hasAttempt.get(summary.runId, summary.round, summary.attempt) !== undefined) {
      throw new Error(`${where}: already recorded`);
    }
    const finishedAt = Math.round(summary.startedAt + summary.durationMs);
    stmt.insertRound.run(encodeRound(summary));
    if (checkpoint === undefined) return;
    const { weights, state, checksum } = encodeCheckpoint(checkpoint, where);
    stmt.insertCheckpoint.run({ runId: summary.runId, round: checkpoint.round, weights, state, checksum, createdAt: finishedAt });
    stmt.completeRound.run({ id: summary.runId, round: summary.round, finishedAt });
    stmt.pruneCheckpoints.run({ runId: summary.runId, keep });
  });

  return {
    createRun,
    updateRun,
    getRun: (id) => {
      const row = stmt.getRun.get(id);
      return row === undefined ? null : decodeRun(row);
    },
    listRuns: () => stmt.listRuns.all().map(decodeRun),
    latestRun: () => {
      const row = stmt.latestRun.get();
      return row === undefined ? null : decodeRun(row);
    },
    runningRuns: () => stmt.runningRuns.all().map(decodeRun),
    recordRound: (summary, checkpoint) => recordRound(summary, checkpoint),
    listRounds: (runId) => stmt.listRounds.all(runId).map(decodeRound),
    deleteRun: (id) => stmt.deleteRun.run(id).changes > 0,
    latestCheckpoint: (runId) => {
      const row = stmt.latestCheckpoint.get(runId);
      return row === undefined ? null : decodeCheckpoint(row, runId);
    },
    close: () => {
      if (db.open) db.close();
    },
  };
}
