/**
 * bench/ingest-clients.ts — the scripted participants of bench/ingest.ts, in a process of their own.
 *
 * Real tabs run on other machines; keeping the clients out of the hub's process lets the hub's event loop,
 * heap and CPU time be its own. bench/ingest.ts and bench/dashboard.ts fork this file (with tsx, through
 * ClientProcess) and drive it over IPC: each request `{ id, op, ... }` gets one reply `{ id, ok, ... }`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  encodeFrame,
  type ClientToServerEvents,
  type ParticipantSocket,
  type RoundTask,
  type ServerToClientEvents,
  type UpdateMeta,
} from '../packages/core/src/index.js';
import { rng, withTimeout } from './lib.js';

export const ACK_TIMEOUT_MS = 120_000;
export const CONNECT_BATCH = 50;

export interface ClientStats {
  tasks: number;
  acked: number;
  rejected: number;
  errors: string[];
}

export type ClientRequest =
  | { id: number; op: 'connect-hub'; url: string; count: number; first: number; length: number; segments: number[] }
  | { id: number; op: 'connect-raw'; url: string; count: number; payloadBytes: number }
  /** Each raw client sends its payload once per round, all at once; `echo` wants the bytes back in the ack. */
  | { id: number; op: 'echo' | 'upload'; rounds: number }
  /** Hub clients report a new state, `perSecond` in all, each from a random one, until the next churn (0 stops). */
  | { id: number; op: 'churn'; perSecond: number }
  | { id: number; op: 'stats' }
  | { id: number; op: 'close' };

/** `sent`: the status messages the churn that a churn request ended had sent. */
export type ClientReply =
  | { id: number; ok: true; ms?: number; perRoundMs?: number[]; sent?: number; hub?: ClientStats; raw?: ClientStats }
  | { id: number; ok: false; error: string };

type HubClient = ClientSocket<ServerToClientEvents, ClientToServerEvents>;

const hubStats: ClientStats = { tasks: 0, acked: 0, rejected: 0, errors: [] };
const rawStats: ClientStats = { tasks: 0, acked: 0, rejected: 0, errors: [] };
const hubSockets: HubClient[] = [];
const rawSockets: ClientSocket[] = [];
let rawPayload = new Uint8Array(0);
/** Every client of a round sends the same zero delta: building it is not what is measured. */
const frames = new Map<string, Uint8Array>();

function fail(stats: ClientStats, error: unknown): void {
  stats.rejected++;
  if (stats.errors.length < 5) stats.errors.push(String(error));
}

function connected(socket: ClientSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
}

/** Connects in batches: a burst of hundreds of handshakes at once would only measure the burst. */
async function connectMany(count: number, open: (i: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < count; start += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, count - start) }, (_, j) => open(start + j));
    await withTimeout(Promise.all(batch), 60_000, `connecting clients ${start}..${start + batch.length - 1}`);
  }
}

/** A participant reduced to its protocol: hello (own data, 10 examples), then answer each round:start at once. */
async function hubClient(url: string, index: number, length: number, segments: readonly number[]): Promise<void> {
  const socket: HubClient = connectClient(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  hubSockets.push(socket);
  // The same socket, seen through core's participant view: socket.io-client types `timeout().emitWithAck` as any.
  const acked: ParticipantSocket = socket;
  socket.on('round:start', (task: RoundTask) => {
    hubStats.tasks++;
    const key = `${task.runId}/${task.round}/${task.modelVersion}`;
    let frame = frames.get(key);
    if (!frame) {
      frame = encodeFrame({
        kind: 'delta',
        protocolVersion: PROTOCOL_VERSION,
        runId: task.runId,
        round: task.round,
        modelVersion: task.modelVersion,
        dtype: 'float32',
        values: new Float32Array(length),
        segments,
      });
      frames.clear();
      frames.set(key, frame);
    }
    const meta: UpdateMeta = {
      runId: task.runId,
      round: task.round,
      modelVersion: task.modelVersion,
      numExamples: 10,
      loss: 0.5,
      trainMs: 0,
    };
    acked
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck('update:submit', meta, frame)
      .then((ack) => (ack.ok ? hubStats.acked++ : fail(hubStats, ack.error)))
      .catch((error: unknown) => fail(hubStats, error));
  });
  await connected(socket);
  const welcome = await acked.timeout(30_000).emitWithAck('participant:hello', {
    protocolVersion: PROTOCOL_VERSION,
    participantId: `bench-${String(index).padStart(4, '0')}`,
    backend: 'bench',
    examples: 10,
    heldOut: false,
    dataSource: 'own',
  });
  if (!welcome.ok) throw new Error(`hello refused: ${welcome.error}`);
}

/** A bare socket.io client: answers each server `push` with its payload (the raw round). */
async function rawClient(url: string): Promise<void> {
  const socket = connectClient(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  rawSockets.push(socket);
  socket.on('push', () => {
    rawStats.tasks++;
    socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck('echo', rawPayload)
      .then(() => rawStats.acked++)
      .catch((error: unknown) => fail(rawStats, error));
  });
  await connected(socket);
}

async function rawRounds(op: 'echo' | 'upload', rounds: number): Promise<number[]> {
  const per: number[] = [];
  const event = op === 'echo' ? 'echo-back' : 'echo';
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    const answers = await withTimeout(
      Promise.all(rawSockets.map((s) => s.timeout(ACK_TIMEOUT_MS).emitWithAck(event, rawPayload) as Promise<unknown>)),
      ACK_TIMEOUT_MS,
      `raw ${op} acks`,
    );
    per.push(performance.now() - t);
    if (op === 'echo') {
      const wrong = answers.find((a) => !(a instanceof ArrayBuffer || a instanceof Uint8Array) || a.byteLength !== rawPayload.byteLength);
      if (wrong !== undefined) {
        const got = wrong instanceof ArrayBuffer || wrong instanceof Uint8Array ? `${wrong.byteLength} bytes` : JSON.stringify(wrong);
        throw new Error(`raw echo came back as ${got}, expected ${rawPayload.byteLength} bytes`);
      }
    }
  }
  return per;
}

/** The states a churning participant cycles through: each report is a change the dashboard must show. */
const CHURN_STATES = ['downloading', 'training', 'uploading', 'waiting'] as const;
let churn: { timer: NodeJS.Timeout; sent: number } | null = null;

/** Stops the running churn (returning how many it sent) and starts one at `perSecond`, unless that is 0. */
function startChurn(perSecond: number): number {
  const sent = churn?.sent ?? 0;
  if (churn) clearInterval(churn.timer);
  churn = null;
  if (perSecond > 0 && hubSockets.length > 0) {
    const random = rng(perSecond);
    const next = new Uint8Array(hubSockets.length);
    const started = performance.now();
    const state = {
      sent: 0,
      // Sends what is due by the clock, so a late timer does not lower the rate.
      timer: setInterval(() => {
        const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
        for (; state.sent < due; state.sent++) {
          const i = Math.floor(random() * hubSockets.length);
          next[i] = (next[i]! + 1) % CHURN_STATES.length;
          hubSockets[i]!.emit('participant:status', { state: CHURN_STATES[next[i]]! });
        }
      }, 10),
    };
    churn = state;
  }
  return sent;
}

async function handle(request: ClientRequest): Promise<ClientReply> {
  const { id } = request;
  switch (request.op) {
    case 'connect-hub': {
      const t = performance.now();
      await connectMany(request.count, (i) => hubClient(request.url, request.first + i, request.length, request.segments));
      return { id, ok: true, ms: performance.now() - t };
    }
    case 'connect-raw': {
      const t = performance.now();
      rawPayload = new Uint8Array(request.payloadBytes).fill(1);
      await connectMany(request.count, () => rawClient(request.url));
      return { id, ok: true, ms: performance.now() - t };
    }
    case 'echo':
    case 'upload':
      return { id, ok: true, perRoundMs: await rawRounds(request.op, request.rounds) };
    case 'churn':
      return { id, ok: true, sent: startChurn(request.perSecond) };
    case 'stats':
      return { id, ok: true, hub: hubStats, raw: rawStats };
    case 'close':
      startChurn(0);
      for (const s of [...hubSockets, ...rawSockets]) s.disconnect();
      hubSockets.length = 0;
      rawSockets.length = 0;
      return { id, ok: true };
    default: {
      const never: never = request;
      throw new Error(`unknown request ${JSON.stringify(never)}`);
    }
  }
}

/** The scripted participants' process (bench/ingest-clients.ts), driven over IPC. */
export class ClientProcess {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: ClientReply) => void>();

  constructor() {
    // process.execArgv carries tsx's loader, so the child runs TypeScript exactly as this process does.
    this.child = fork(fileURLToPath(import.meta.url), [], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (reply: ClientReply) => this.waiting.get(reply.id)?.(reply));
    this.child.on('exit', (code) => {
      for (const [id, resolve] of this.waiting) resolve({ id, ok: false, error: `the client process exited (${code})` });
    });
  }

  async request(body: DistributiveOmit<ClientRequest, 'id'>, ms = ACK_TIMEOUT_MS): Promise<Extract<ClientReply, { ok: true }>> {
    const id = this.nextId++;
    const reply = await withTimeout(
      new Promise<ClientReply>((resolve) => {
        this.waiting.set(id, resolve);
        this.child.send({ ...body, id });
      }),
      ms,
      `the client process to ${body.op}`,
    ).finally(() => this.waiting.delete(id));
    if (!reply.ok) throw new Error(`client process, ${body.op}: ${reply.error}`);
    return reply;
  }

  async stats(): Promise<{ hub: ClientStats; raw: ClientStats }> {
    const reply = await this.request({ op: 'stats' });
    return { hub: reply.hub!, raw: reply.raw! };
  }

  close(): void {
    this.child.kill();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

// Serve only when forked as this file: bench/ingest.ts imports the types and constants above too.
if (process.send && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.on('message', (request: ClientRequest) => {
    void handle(request)
      .catch((error: unknown): ClientReply => ({
        id: request.id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      }))
      .then((reply) => process.send?.(reply));
  });
  // The parent going away ends this process too.
  process.on('disconnect', () => process.exit(0));
}
