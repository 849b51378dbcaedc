/**
 * The hub's SQLite store: runs, every round attempt, and the newest checkpoints (global weights + strategy state),
 * so a run resumes exactly after a restart. better-sqlite3 is synchronous: each call is short, and a round's
 * writes are one transaction, so a crash never leaves a completed round without its checkpoint.
 *
 * One process owns a store file at a time: openStore takes SQLite's exclusive lock on it and holds it until
 * close. The lock is the kernel's (fcntl), so it dies with the process, even after kill -9.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  RUN_STATUSES,
  RunConfigSchema,
  type RoundMetrics,
  type RoundPrivacy,
  type RoundSummary,
  type RunConfig,
  type RunStatus,
  type RunSummary,
  type StrategyState,
  SECAGG_STAGES,
  type SecAggStage,
  type SecureRoundReport,
} from '@tabula/core';

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
 * file that became read-only. Freeing space or fixing the mount lets the same write succeed later.
 */
export function isStorageFailure(error: unknown): boolean {
  if (!(error instanceof Database.SqliteError)) return false;
  return /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|NOMEM)/.test(error.code);
}

const ROUND_STATUSES: readonly RoundSummary['status'][] = ['completed', 'failed'];

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

interface RunRow {
  id: string;
  config: string;
  status: string;
  created_at: number;
  updated_at: number;
  completed_rounds: number;
  error: string | null;
}

interface RoundRow {
  run_id: string;
  round: number;
  attempt: number;
  status: string;
  reason: string | null;
  started_at: number;
  duration_ms: number;
  participants: string;
  failures: string;
  metrics: string;
  bytes_up: number;
  bytes_down: number;
  privacy: string | null;
  secure_aggregation: string | null;
}

interface CheckpointRow {
  round: number;
  weights: unknown;
  strategy_state: string;
  checksum: string | null;
}

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
    if (!Number.isInteger(summary.round) || summary.round < 1) throw new RangeError(`${where}: round must be an integer >= 1`);
    if (!Number.isInteger(summary.attempt) || summary.attempt < 1) throw new RangeError(`${where}: attempt must be an integer >= 1`);
    if (!ROUND_STATUSES.includes(summary.status)) throw new TypeError(`${where}: unknown status '${String(summary.status)}'`);
    checkTime(summary.startedAt, `${where}: startedAt`);
    if (summary.status === 'completed') {
      if (checkpoint === undefined) throw new Error(`${where}: a completed round needs a checkpoint`);
      if (checkpoint.round !== summary.round) throw new Error(`${where}: checkpoint is for round ${checkpoint.round}`);
      if (!(checkpoint.weights instanceof Float32Array)) throw new TypeError(`${where}: checkpoint weights must be a Float32Array`);
    } else if (checkpoint !== undefined) {
      throw new Error(`${where}: a failed attempt has no checkpoint`);
    }
    const run = requireRun(summary.runId, 'recordRound');
    // rounds complete in order, so the latest checkpoint and completedRounds always agree on where to resume
    if (summary.round !== run.completedRounds + 1) {
      throw new Error(`${where}: the run has completed ${run.completedRounds} rounds, so the next is ${run.completedRounds + 1}`);
    }
    if (stmt.hasAttempt.get(summary.runId, summary.round, summary.attempt) !== undefined) {
      throw new Error(`${where}: already recorded`);
    }
    const finishedAt = Math.round(summary.startedAt + summary.durationMs);
    stmt.insertRound.run({
      run_id: summary.runId,
      round: summary.round,
      attempt: summary.attempt,
      status: summary.status,
      reason: summary.reason,
      started_at: summary.startedAt,
      duration_ms: summary.durationMs,
      participants: JSON.stringify(summary.participants),
      failures: JSON.stringify(summary.failures),
      metrics: JSON.stringify(summary.metrics),
      bytes_up: summary.bytesUp,
      bytes_down: summary.bytesDown,
      privacy: summary.privacy ? JSON.stringify(summary.privacy) : null,
      secure_aggregation: summary.secureAggregation ? JSON.stringify(summary.secureAggregation) : null,
    });
    if (checkpoint === undefined) return;
    const weights = float32ToBytes(checkpoint.weights);
    const state = encodeStrategyState(checkpoint.strategyState, where);
    stmt.insertCheckpoint.run({
      runId: summary.runId,
      round: checkpoint.round,
      weights,
      state,
      checksum: checksumOf(weights, state),
      createdAt: finishedAt,
    });
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
      if (row === undefined) return null;
      const where = `store: run '${runId}' checkpoint of round ${row.round}`;
      if (row.checksum !== null) {
        const actual = row.weights instanceof Uint8Array ? checksumOf(row.weights, row.strategy_state) : null;
        if (actual !== row.checksum)
          throw new Error(`${where} is corrupt: its weights or strategy state do not match the checksum stored with them`);
      }
      return {
        round: row.round,
        weights: float32FromBytes(row.weights, `${where}: weights`),
        strategyState: decodeStrategyState(row.strategy_state, `${where}: strategy_state`),
      };
    },
    close: () => {
      if (db.open) db.close();
    },
  };
}

// ---- rows -> values: corrupt rows fail with the run and round they belong to ---------------------------

function decodeRun(row: RunRow): RunSummary {
  const where = `store: run '${row.id}'`;
  const config = parseJson(row.config, `${where}: config`);
  if (!isRecord(config)) throw new Error(`${where}: config is not a JSON object`);
  // A config stored by an older version gains the defaults of settings added since (e.g. aggregation).
  const current = RunConfigSchema.safeParse(config);
  return {
    id: row.id,
    status: oneOf(row.status, RUN_STATUSES, `${where}: status`),
    config: current.success ? current.data : (config as RunConfig),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedRounds: row.completed_rounds,
    error: row.error,
  };
}

function decodeRound(row: RoundRow): RoundSummary {
  const where = `store: run '${row.run_id}' round ${row.round} attempt ${row.attempt}`;
  const participants = parseJson(row.participants, `${where}: participants`);
  if (!Array.isArray(participants) || !participants.every((p) => typeof p === 'string')) {
    throw new Error(`${where}: participants is not an array of strings`);
  }
  const failures = parseJson(row.failures, `${where}: failures`);
  if (
    !Array.isArray(failures) ||
    !failures.every((f) => isRecord(f) && typeof f.participantId === 'string' && typeof f.reason === 'string')
  ) {
    throw new Error(`${where}: failures is not an array of { participantId, reason }`);
  }
  const metrics = parseJson(row.metrics, `${where}: metrics`);
  if (!isRecord(metrics) || !Object.values(metrics).every((m) => m === null || typeof m === 'number')) {
    throw new Error(`${where}: metrics is not an object of numbers or nulls`);
  }
  return {
    runId: row.run_id,
    round: row.round,
    attempt: row.attempt,
    status: oneOf(row.status, ROUND_STATUSES, `${where}: status`),
    reason: row.reason,
    startedAt: row.started_at,
    durationMs: row.duration_ms,
    participants,
    failures: failures as { participantId: string; reason: string }[],
    metrics: metrics as unknown as RoundMetrics,
    bytesUp: row.bytes_up,
    bytesDown: row.bytes_down,
    ...(row.privacy === null ? {} : { privacy: decodePrivacy(row.privacy, where) }),
    ...(row.secure_aggregation === null ? {} : { secureAggregation: decodeSecureReport(row.secure_aggregation, where) }),
  };
}

function decodeSecureReport(json: string, where: string): SecureRoundReport {
  const report = parseJson(json, `${where}: secure_aggregation`);
  const count = (v: unknown) => Number.isInteger(v);
  if (
    !isRecord(report) ||
    !Array.isArray(report.stages) ||
    !report.stages.every((s) => isRecord(s) && SECAGG_STAGES.includes(s.stage as SecAggStage) && count(s.asked) && count(s.answered)) ||
    !count(report.threshold) ||
    !(report.neighbours === null || count(report.neighbours)) ||
    !(report.clampedShare === null || typeof report.clampedShare === 'number')
  ) {
    throw new Error(`${where}: secure_aggregation is not { stages, threshold, neighbours, clampedShare }`);
  }
  return report as unknown as SecureRoundReport;
}

function decodePrivacy(json: string, where: string): RoundPrivacy {
  const privacy = parseJson(json, `${where}: privacy`);
  const number = (v: unknown) => typeof v === 'number';
  if (
    !isRecord(privacy) ||
    !number(privacy.epsilon) ||
    !number(privacy.delta) ||
    !number(privacy.samplingRate) ||
    !(privacy.order === null || number(privacy.order))
  ) {
    throw new Error(`${where}: privacy is not { epsilon, delta, order, samplingRate }`);
  }
  return privacy as unknown as RoundPrivacy;
}

// ---- float32 <-> bytes: little-endian on disk, whatever the host ---------------------------------------

const BIG_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

function swap32(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 4) {
    const a = bytes[i] as number;
    const b = bytes[i + 1] as number;
    bytes[i] = bytes[i + 3] as number;
    bytes[i + 1] = bytes[i + 2] as number;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

function float32ToBytes(values: Float32Array): Buffer {
  // a view over exactly this array's bytes (it may be a subarray of a larger buffer); SQLite copies on bind
  const view = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  if (!BIG_ENDIAN_HOST) return view;
  const copy = Buffer.from(view);
  swap32(copy);
  return copy;
}

function float32FromBytes(blob: unknown, what: string): Float32Array {
  if (!(blob instanceof Uint8Array)) throw new Error(`${what} is not a blob`);
  if (blob.byteLength % 4 !== 0) throw new Error(`${what} has ${blob.byteLength} bytes, not a whole number of float32 values`);
  // a fresh ArrayBuffer: the blob may be a view into a shared pool, at an offset not aligned for float32
  const bytes = new Uint8Array(blob.byteLength);
  bytes.set(blob);
  if (BIG_ENDIAN_HOST) swap32(bytes);
  return new Float32Array(bytes.buffer);
}

// ---- strategy state: JSON, with each Float32Array as { "$f32le": base64 of its bytes } -----------------

const F32_TAG = '$f32le';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function encodeStrategyState(state: StrategyState, where: string): string {
  return JSON.stringify(state, (_key, value: unknown) => {
    if (value instanceof Float32Array) return { [F32_TAG]: float32ToBytes(value).toString('base64') };
    // any other typed array would serialize as an index-keyed object and come back as one
    if (ArrayBuffer.isView(value))
      throw new TypeError(`${where}: strategy state holds a ${value.constructor.name}; only Float32Array is stored`);
    return value;
  });
}

function decodeStrategyState(text: string, what: string): StrategyState {
  const state = reviveFloat32(parseJson(text, what), what);
  const optimizer = isRecord(state) ? state.optimizer : undefined;
  if (
    !isRecord(state) ||
    typeof state.name !== 'string' ||
    !isRecord(optimizer) ||
    typeof optimizer.kind !== 'string' ||
    !Number.isInteger(optimizer.step) ||
    !isRecord(optimizer.buffers) ||
    !Object.values(optimizer.buffers).every((b) => b instanceof Float32Array)
  ) {
    throw new Error(`${what} is not { name, optimizer: { kind, step, buffers } }`);
  }
  // the strategy's setState validates kind, names and lengths against itself
  return state as unknown as StrategyState;
}

function reviveFloat32(value: unknown, what: string): unknown {
  if (Array.isArray(value)) return value.map((v) => reviveFloat32(v, what));
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === F32_TAG) {
    const b64 = value[F32_TAG];
    if (typeof b64 !== 'string' || b64.length % 4 !== 0 || !BASE64.test(b64)) throw new Error(`${what}: a float32 buffer is not base64`);
    return float32FromBytes(Buffer.from(b64, 'base64'), `${what}: a float32 buffer`);
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = reviveFloat32(value[key], `${what}.${key}`);
  return out;
}

// ---- small helpers ---------------------------------------------------------------------------------------

/** sha256 over the weights' length, the weights and the strategy state, as stored. */
function checksumOf(weights: Uint8Array, state: string): string {
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(weights.byteLength));
  return createHash('sha256').update(length).update(weights).update(state, 'utf8').digest('hex');
}

function parseJson(text: unknown, what: string): unknown {
  if (typeof text !== 'string') throw new Error(`${what} is not JSON text`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON (${message(e)})`, { cause: e });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`${what} '${value}' is not one of ${allowed.join(', ')}`);
  return value as T;
}

function checkTime(value: number, what: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`${what} must be a finite number of epoch milliseconds, got ${value}`);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
