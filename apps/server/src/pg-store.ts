/**
 * The hub's durable store on PostgreSQL, for several hubs that share one record (design/scale-out.md §4.4): the same
 * three tables and the same encoding as the SQLite store (store-rows.ts), asynchronous, and a round commits only as
 * the next round of its run and only from a coordinator whose fencing epoch is at least the newest that committed. A
 * coordinator that was paused past its Redis lease and resumes cannot write: its commit changes nothing and says so.
 */
import { RUN_STATUSES, type RunSummary } from '@tabula/core';
import pg from 'pg';
import { StaleCoordinatorError, type AsyncStore } from './async-store.js';
import {
  checkRoundInput,
  checkTime,
  decodeCheckpoint,
  decodeRound,
  decodeRun,
  encodeCheckpoint,
  encodeRound,
  type CheckpointRow,
  type RoundRow,
  type RunRow,
} from './store-rows.js';

/**
 * Times and byte counts are double precision (exact integers to 2^53, and `pg` reads them as numbers, not strings);
 * JSON stays text, as in SQLite, so both stores decode the same strings.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS runs (
    id               TEXT PRIMARY KEY,
    seq              BIGSERIAL,
    config           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'stopped', 'failed')),
    created_at       DOUBLE PRECISION NOT NULL,
    updated_at       DOUBLE PRECISION NOT NULL,
    completed_rounds INTEGER NOT NULL,
    error            TEXT,
    coord_epoch      DOUBLE PRECISION NOT NULL DEFAULT 0
  );
  CREATE TABLE IF NOT EXISTS rounds (
    run_id             TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    round              INTEGER NOT NULL,
    attempt            INTEGER NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('completed', 'failed')),
    reason             TEXT,
    started_at         DOUBLE PRECISION NOT NULL,
    duration_ms        DOUBLE PRECISION NOT NULL,
    participants       TEXT NOT NULL,
    failures           TEXT NOT NULL,
    metrics            TEXT NOT NULL,
    bytes_up           DOUBLE PRECISION NOT NULL,
    bytes_down         DOUBLE PRECISION NOT NULL,
    privacy            TEXT,
    secure_aggregation TEXT,
    PRIMARY KEY (run_id, round, attempt)
  );
  CREATE TABLE IF NOT EXISTS checkpoints (
    run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    round          INTEGER NOT NULL,
    weights        BYTEA NOT NULL,
    strategy_state TEXT NOT NULL,
    checksum       TEXT,
    created_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, round)
  );
`;
/** Serialises schema creation among hubs starting together (any 64-bit key of our own). */
const SCHEMA_LOCK = 0x7461_6275_6c61;

const ROUND_COLUMNS = [
  'run_id',
  'round',
  'attempt',
  'status',
  'reason',
  'started_at',
  'duration_ms',
  'participants',
  'failures',
  'metrics',
  'bytes_up',
  'bytes_down',
  'privacy',
  'secure_aggregation',
] as const satisfies readonly (keyof RoundRow)[];

export interface PgStoreOptions {
  /** Checkpoints kept per run, newest by round; default 5. */
  readonly keepCheckpoints?: number;
  /** Connections in the pool; default 4. */
  readonly poolSize?: number;
}

/** Connects, creates the tables if needed, and returns the store. */
/** The PostgreSQL store, with the coordinator epochs it has seen. */
export type PgStore = AsyncStore & {
  coordEpoch(runId: string): Promise<number>;
  /** The newest epoch any coordinator wrote with, over every run: a new coordinator's epoch must exceed it. */
  newestEpoch(): Promise<number>;
};

export async function openPgStore(url: string, options: PgStoreOptions = {}): Promise<PgStore> {
  const keep = options.keepCheckpoints ?? 5;
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`openPgStore: keepCheckpoints must be an integer >= 1, got ${keep}`);
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 4 });
  // An idle client that loses its server emits here; without a listener it would crash the process.
  pool.on('error', () => undefined);
  const transaction = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
  try {
    await transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await client.query(SCHEMA);
    });
  } catch (error) {
    await pool.end();
    throw new Error(`openPgStore: cannot prepare the tables: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }

  const runs = async (sql: string, params: unknown[] = []): Promise<RunSummary[]> =>
    (await pool.query<RunRow>(sql, params)).rows.map(decodeRun);
  const requireRun = async (client: pg.PoolClient, id: string, where: string, lock = false): Promise<RunRow & { coord_epoch: number }> => {
    const { rows } = await client.query<RunRow & { coord_epoch: number }>(`SELECT * FROM runs WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [
      id,
    ]);
    if (!rows[0]) throw new Error(`store.${where}: unknown run '${id}'`);
    return rows[0];
  };
  const newestFirst = 'ORDER BY created_at DESC, seq DESC';

  return {
    async createRun({ id, config, createdAt }) {
      if (typeof id !== 'string' || id.length === 0) throw new TypeError('store.createRun: id must be a non-empty string');
      checkTime(createdAt, 'store.createRun: createdAt');
      const { rows } = await pool.query<RunRow>(
        `INSERT INTO runs (id, config, status, created_at, updated_at, completed_rounds, error)
         VALUES ($1, $2, 'running', $3, $3, 0, NULL) ON CONFLICT (id) DO NOTHING RETURNING *`,
        [id, JSON.stringify(config), createdAt],
      );
      if (!rows[0]) throw new Error(`store.createRun: run '${id}' already exists`);
      return decodeRun(rows[0]);
    },

    async updateRun(id, patch, fence) {
      if (patch.status !== undefined && !RUN_STATUSES.includes(patch.status))
        throw new TypeError(`store.updateRun: unknown status '${String(patch.status)}'`);
      checkTime(patch.updatedAt, 'store.updateRun: updatedAt');
      // A fenced change (a coordinator's: the run's status, say, when it ends) is refused to a stale coordinator as
      // its rounds are: it must not mark failed a run that a newer coordinator is running.
      const epoch = fence?.epoch ?? null;
      const { rows } = await pool.query<RunRow>(
        `UPDATE runs SET status = COALESCE($2, status), error = CASE WHEN $3 THEN $4 ELSE error END, updated_at = $5,
                         coord_epoch = GREATEST(coord_epoch, COALESCE($6, coord_epoch))
         WHERE id = $1 AND ($6::double precision IS NULL OR coord_epoch <= $6) RETURNING *`,
        [id, patch.status ?? null, patch.error !== undefined, patch.error ?? null, patch.updatedAt, epoch],
      );
      if (rows[0]) return decodeRun(rows[0]);
      const { rows: existing } = await pool.query<{ coord_epoch: number }>('SELECT coord_epoch FROM runs WHERE id = $1', [id]);
      if (existing[0] && epoch !== null) throw new StaleCoordinatorError(id, epoch, existing[0].coord_epoch);
      throw new Error(`store.updateRun: unknown run '${id}'`);
    },

    getRun: async (id) => (await runs('SELECT * FROM runs WHERE id = $1', [id]))[0] ?? null,
    listRuns: () => runs(`SELECT * FROM runs ${newestFirst}`),
    latestRun: async () => (await runs(`SELECT * FROM runs ${newestFirst} LIMIT 1`))[0] ?? null,
    runningRuns: () => runs(`SELECT * FROM runs WHERE status = 'running' ${newestFirst}`),

    async recordRound(summary, checkpoint, fence) {
      const where = `store.recordRound: run '${summary.runId}' round ${summary.round} attempt ${summary.attempt}`;
      checkRoundInput(summary, checkpoint, where);
      const epoch = fence?.epoch ?? 0;
      if (fence && !(Number.isInteger(epoch) && epoch >= 0))
        throw new RangeError(`${where}: epoch must be a non-negative integer, got ${epoch}`);
      await transaction(async (client) => {
        // The run's row, locked until commit: a second coordinator's commit of this round waits here, then sees ours.
        const run = await requireRun(client, summary.runId, 'recordRound', true);
        if (fence && epoch < run.coord_epoch) throw new StaleCoordinatorError(summary.runId, epoch, run.coord_epoch);
        if (summary.round !== run.completed_rounds + 1)
          throw new Error(`${where}: the run has completed ${run.completed_rounds} rounds, so the next is ${run.completed_rounds + 1}`);
        const row = encodeRound(summary);
        const inserted = await client.query(
          `INSERT INTO rounds (${ROUND_COLUMNS.join(', ')}) VALUES (${ROUND_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
           ON CONFLICT DO NOTHING`,
          ROUND_COLUMNS.map((c) => row[c]),
        );
        if (inserted.rowCount !== 1) throw new Error(`${where}: already recorded`);
        const finishedAt = Math.round(summary.startedAt + summary.durationMs);
        if (checkpoint !== undefined) {
          const { weights, state, checksum } = encodeCheckpoint(checkpoint, where);
          await client.query(
            'INSERT INTO checkpoints (run_id, round, weights, strategy_state, checksum, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
            [summary.runId, checkpoint.round, weights, state, checksum, finishedAt],
          );
        }
        // The compare-and-set of scale-out.md §4.4: the next round, from the newest coordinator, or nothing.
        const completed = summary.status === 'completed';
        const advanced = await client.query(
          `UPDATE runs SET completed_rounds = CASE WHEN $3 THEN $2 ELSE completed_rounds END,
                           updated_at = CASE WHEN $3 THEN GREATEST(updated_at, $4) ELSE updated_at END,
                           coord_epoch = GREATEST(coord_epoch, $5)
           WHERE id = $1 AND completed_rounds = $2 - 1 AND coord_epoch <= $5`,
          [summary.runId, summary.round, completed, finishedAt, fence ? epoch : run.coord_epoch],
        );
        if (advanced.rowCount !== 1) throw new StaleCoordinatorError(summary.runId, epoch, run.coord_epoch);
        if (completed)
          await client.query(
            `DELETE FROM checkpoints WHERE run_id = $1 AND round <= (
               SELECT round FROM checkpoints WHERE run_id = $1 ORDER BY round DESC LIMIT 1 OFFSET $2)`,
            [summary.runId, keep],
          );
      });
    },

    listRounds: async (runId) =>
      (await pool.query<RoundRow>('SELECT * FROM rounds WHERE run_id = $1 ORDER BY round, attempt', [runId])).rows.map(decodeRound),
    deleteRun: async (id) => ((await pool.query('DELETE FROM runs WHERE id = $1', [id])).rowCount ?? 0) > 0,
    async latestCheckpoint(runId) {
      const { rows } = await pool.query<CheckpointRow>(
        'SELECT round, weights, strategy_state, checksum FROM checkpoints WHERE run_id = $1 ORDER BY round DESC LIMIT 1',
        [runId],
      );
      return rows[0] ? decodeCheckpoint(rows[0], runId) : null;
    },
    /** The newest coordinator epoch that wrote to the run (0 before any fenced write). */
    async coordEpoch(runId) {
      const { rows } = await pool.query<{ coord_epoch: number }>('SELECT coord_epoch FROM runs WHERE id = $1', [runId]);
      if (!rows[0]) throw new Error(`store.coordEpoch: unknown run '${runId}'`);
      return rows[0].coord_epoch;
    },
    async newestEpoch() {
      const { rows } = await pool.query<{ newest: number }>('SELECT COALESCE(MAX(coord_epoch), 0) AS newest FROM runs');
      return rows[0]?.newest ?? 0;
    },
    close: (() => {
      let closed: Promise<void> | null = null;
      return () => (closed ??= pool.end());
    })(),
  };
}
