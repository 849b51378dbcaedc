/**
 * Rows of the hub's three tables (runs, rounds, checkpoints) as both stores keep them, SQLite (store.ts) and
 * PostgreSQL (pg-store.ts): values -> rows with their checks, rows -> values that fail on a corrupt row with the run and
 * round it belongs to. One encoding, so both stores hold the same bytes and give back the same values.
 */
import { createHash } from 'node:crypto';
import {
  RUN_STATUSES,
  RunConfigSchema,
  SECAGG_STAGES,
  type RoundMetrics,
  type RoundPrivacy,
  type RoundSummary,
  type RunConfig,
  type RunSummary,
  type SecAggStage,
  type SecureRoundReport,
  type StrategyState,
} from '@tabula/core';
import type { Checkpoint } from './store.js';

export const ROUND_STATUSES: readonly RoundSummary['status'][] = ['completed', 'failed'];

export interface RunRow {
  id: string;
  config: string;
  status: string;
  created_at: number;
  updated_at: number;
  completed_rounds: number;
  error: string | null;
}

export interface RoundRow {
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

export interface CheckpointRow {
  round: number;
  weights: unknown;
  strategy_state: string;
  checksum: string | null;
}

/** Throws unless `summary` (and its checkpoint, exactly when it completed) can be recorded. */
export function checkRoundInput(summary: RoundSummary, checkpoint: Checkpoint | undefined, where: string): void {
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
}

export function encodeRound(summary: RoundSummary): RoundRow {
  return {
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
  };
}

/** A checkpoint's stored form: the weights' little-endian bytes, the strategy state's JSON, and a checksum over both. */
export function encodeCheckpoint(checkpoint: Checkpoint, where: string): { weights: Buffer; state: string; checksum: string } {
  const weights = float32ToBytes(checkpoint.weights);
  const state = encodeStrategyState(checkpoint.strategyState, where);
  return { weights, state, checksum: checksumOf(weights, state) };
}

/**
 * A checkpoint, verified against the checksum stored with it (rows written before checksums existed are returned
 * unverified); a corrupt one throws, naming run and round.
 */
export function decodeCheckpoint(row: CheckpointRow, runId: string): Checkpoint {
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
}

// ---- rows -> values: corrupt rows fail with the run and round they belong to ---------------------------

export function decodeRun(row: RunRow): RunSummary {
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

export function decodeRound(row: RoundRow): RoundSummary {
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

export function checkTime(value: number, what: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`${what} must be a finite number of epoch milliseconds, got ${value}`);
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
