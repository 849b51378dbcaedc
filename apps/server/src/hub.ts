import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import {
  HelloSchema,
  PARTICIPANT_STATES,
  PROTOCOL_VERSION,
  RunConfigSchema,
  frameByteLength,
  isHeldOut,
  parameterCount,
  parseOrError,
  useBackend,
  type Ack,
  type AckErrorCode,
  type AdminSnapshot,
  type ClientToServerEvents,
  type Farewell,
  type ParticipantState,
  type RunConfig,
  type RunSummary,
  type ScenarioSpec,
  type ServerToClientEvents,
  type UpdateReceipt,
  type Welcome,
} from '@tabula/core';
import { Server, type Socket } from 'socket.io';
import { AdminAuth, type AdminThrottle } from './admin-auth.js';
import { boundedParser, type ParserLimits } from './bounded-parser.js';
import { createHttpApp } from './http.js';
import { silentLogger, type Logger } from './logger.js';
import { DEFAULT_ALLOWED_ORIGINS, originPolicy } from './origins.js';
import { ParticipantsFeed } from './participants-feed.js';
import { Registry, scenarioKeyOf, type RegistryEntry } from './registry.js';
import { RunController } from './run-controller.js';
import { ackOf, clientText, guarded } from './socket-guard.js';
import { openDataDir } from './data-dir.js';
import { isStorageFailure, type Store } from './store.js';

export interface HubOptions {
  /** SQLite file and checkpoints live here. */
  readonly dataDir: string;
  readonly adminToken: string;
  /** The built web app (apps/web/dist); the hub serves the API alone when absent. */
  readonly webRoot?: string | undefined;
  /** Largest model a run may use: it sizes socket.io's message limit. */
  readonly maxParameters?: number;
  /** The scenario whose shards are handed to tabs that ask for one while no run says otherwise. */
  readonly defaultScenario?: ScenarioSpec;
  /** Structured logger (pino); silent when absent. */
  readonly logger?: Logger;
  /** What incomplete binary packets may hold (bounded-parser.ts). */
  readonly parserLimits?: ParserLimits;
  /** How long a disconnected participant's identity is kept for it to come back; default 15 minutes. */
  readonly participantRetentionMs?: number;
  readonly now?: () => number;
  /** How often the hub pings each socket, and how long it waits for the pong before dropping it. */
  readonly heartbeat?: { readonly pingIntervalMs: number; readonly pingTimeoutMs: number };
  /** The SQLite file may not grow beyond this: a write that would fails as on a full disk, and the run pauses. */
  readonly maxDatabaseBytes?: number;
  /** Web origins whose pages may open a socket besides the hub's own (origins.ts); default localhost. */
  readonly allowedOrigins?: readonly string[];
  /** Failed admin sign-ins allowed per address and window, over HTTP and the socket handshake together. */
  readonly adminThrottle?: AdminThrottle;
  /** Reverse proxies whose X-Forwarded-For names the client address (addresses, subnets, or 'loopback'...). */
  readonly trustProxy?: readonly string[];
}

export interface Hub {
  readonly http: HttpServer;
  readonly io: Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
  readonly store: Store;
  readonly registry: Registry;
  /** The running run, if any. */
  active(): RunController | null;
  startRun(input: unknown): Ack<RunSummary> | { ok: false; error: string; status: 400 | 409 };
  stopRun(runId: string): Promise<Ack<RunSummary>>;
  /**
   * Continues a paused or failed run from its last checkpoint (from round 1 when it has none), while no other run
   * is in progress. 503: the store still cannot be written.
   */
  resumeRun(runId: string): { ok: true; data: RunSummary } | { ok: false; error: string; status: 404 | 409 | 503 };
  /** Forgets a finished run (rounds and checkpoints too); the running one must be stopped first. */
  deleteRun(runId: string): { ok: true } | { ok: false; error: string; status: 404 | 409 };
  /** The global weights a client would download now: the active run's, or the latest checkpoint. */
  currentModel(): { config: RunConfig; weights: Float32Array; modelVersion: number; runId: string } | null;
  close(): Promise<void>;
}

interface SocketData {
  role: 'participant' | 'admin';
}

type HubSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

const DEFAULT_MAX_PARAMETERS = 2_000_000;
const ADMIN_ROOM = 'admins';
/**
 * socket.io's default heartbeat (25 s + 20 s) leaves a vanished tab listed as connected, and sampled into
 * rounds, for up to 45 s. Tabs yield between training steps, so they answer pings well within 15 s.
 */
const DEFAULT_HEARTBEAT = { pingIntervalMs: 10_000, pingTimeoutMs: 15_000 };
/**
 * Messages per socket: a tab sends a handful per round (hello, a few state changes, one update), so a socket far
 * above this is broken or hostile. Beyond the burst, messages are refused with a reason; a socket that keeps
 * going is disconnected, so one client cannot keep the hub's event loop busy for everyone else.
 */
const RATE_LIMIT = { perSecond: 50, burst: 200, refusalsBeforeDisconnect: 500 };
/** Refusals of one connection logged per window; the rest are counted in one line. */
const REFUSAL_LOG_LINES = 5;
const REFUSAL_LOG_WINDOW_MS = 10_000;
const DEFAULT_PARTICIPANT_RETENTION_MS = 15 * 60_000;
const KNOWN_EVENTS = new Set(['participant:hello', 'participant:status', 'update:submit', 'eval:submit', 'admin:start-run', 'admin:stop-run']);

export { tokenMatches } from './admin-auth.js';

/**
 * The hub: registry + round loop + store behind socket.io and an HTTP API. Nothing listens until the caller
 * calls `hub.http.listen(port)`, so tests use port 0.
 */
export async function createHub(options: HubOptions): Promise<Hub> {
  const logger = options.logger ?? silentLogger();
  const log = (line: string) => logger.info(line);
  const now = options.now ?? Date.now;
  const maxParameters = options.maxParameters ?? DEFAULT_MAX_PARAMETERS;
  // A full float32 frame of the largest model plus room for the header and socket.io's framing.
  const maxMessageBytes = frameByteLength(maxParameters, 'float32', 1, 'x'.repeat(64)) + 64 * 1024;
  const defaultScenario = options.defaultScenario ?? { name: 'shards', participants: 20, seed: 1 };
  await useBackend('cpu'); // exporting the model to TF.js format builds a LayersModel

  // Before anything reads the store: a second hub on this directory stops here, having touched nothing.
  const store = openDataDir(options.dataDir, options.maxDatabaseBytes ? { maxBytes: options.maxDatabaseBytes } : {});

  // socket.io wraps the request listeners that exist when it attaches, so the HTTP app must be in place first:
  // a listener added later would also answer /socket.io/ polling requests and crash on a double response.
  let app: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const http = createServer((req, res) => {
    if (app) return app(req, res);
    res.writeHead(503).end('starting');
  });
  const adminAuth = new AdminAuth(options.adminToken, options.adminThrottle, options.trustProxy);
  const originRefusal = originPolicy(options.allowedOrigins ?? DEFAULT_ALLOWED_ORIGINS);
  const parser = boundedParser(options.parserLimits);
  const io: Hub['io'] = new Server(http, {
    maxHttpBufferSize: maxMessageBytes,
    parser: parser,
    serveClient: false,
    allowRequest: (req, callback) => {
      const refusal = originRefusal(req.headers.origin, req.headers.host);
      callback(refusal, refusal === null);
    },
    pingInterval: (options.heartbeat ?? DEFAULT_HEARTBEAT).pingIntervalMs,
    pingTimeout: (options.heartbeat ?? DEFAULT_HEARTBEAT).pingTimeoutMs,
  });
  let controller: RunController | null = null;

  const participantsFeed = new ParticipantsFeed(
    () => registry.list(),
    () => (io.sockets.adapter.rooms.get(ADMIN_ROOM)?.size ?? 0) > 0,
    (diff) => io.to(ADMIN_ROOM).emit('admin:participants', diff),
  );
  const registry = new Registry(() => participantsFeed.changed());

  // Identities of participants gone longer than this are forgotten, so the registry cannot grow without bound.
  const retentionMs = options.participantRetentionMs ?? DEFAULT_PARTICIPANT_RETENTION_MS;
  const evictionTimer = setInterval(
    () => {
      const evicted = registry.evictDisconnected(now() - retentionMs);
      if (evicted) logger.debug(`forgot ${evicted} participants disconnected for over ${Math.round(retentionMs / 1000)} s`);
    },
    Math.max(10, Math.min(retentionMs, 60_000)),
  ).unref();

  const socketOf = (participantId: string): HubSocket | null => {
    const socketId = registry.get(participantId)?.socketId;
    return socketId ? (io.sockets.sockets.get(socketId) ?? null) : null;
  };

  /**
   * Who may take part in a run: a scenario run only the tabs that hold a shard of exactly that scenario (so a
   * simulation never mixes in other data); a run without a scenario any tab whose data fits the model's task.
   */
  const compatible = (entry: RegistryEntry, config: RunConfig): boolean => {
    if (config.scenario) return entry.dataSource === 'assigned' && entry.scenario !== null && scenarioKeyOf(entry.scenario) === scenarioKeyOf(config.scenario);
    const holdsSines = entry.dataSource === 'assigned' && entry.scenario?.name === 'sinusoid';
    return holdsSines === (config.model.task === 'regression');
  };

  /** The lowest shard of `scenario` no connected participant but `except` holds (nor is `offered`), or null when all are. */
  const freeIndex = (scenario: ScenarioSpec, except: string, offered: ReadonlySet<number> = new Set()): number | null => {
    const taken = registry.takenIndices(scenarioKeyOf(scenario), except);
    let index = 0;
    while (taken.has(index) || offered.has(index)) index++;
    return index < scenario.participants ? index : null;
  };

  /**
   * Offers the given tabs holding an assigned shard of another scenario a free shard of this one (a tab whose
   * address pins its shard declines). `offered` holds indices already offered and not yet taken.
   */
  const offerShards = (entries: readonly RegistryEntry[], scenario: ScenarioSpec, offered = new Set<number>()): void => {
    const key = scenarioKeyOf(scenario);
    for (const entry of entries) {
      if (entry.dataSource !== 'assigned' || (entry.scenario && scenarioKeyOf(entry.scenario) === key)) continue;
      const index = freeIndex(scenario, entry.id, offered);
      if (index === null) return;
      offered.add(index);
      socketOf(entry.id)?.emit('participant:assign', { scenario, index });
    }
  };

  const makeController = (run: RunSummary) =>
    new RunController(run, {
      store,
      eligible: (config) => registry.connected().filter((e) => compatible(e, config)),
      send: (id, task, frame) => {
        const socket = socketOf(id);
        if (!socket) return false;
        socket.emit('round:start', task, frame);
        return true;
      },
      cancel: (id, notice) => socketOf(id)?.emit('round:cancel', notice),
      onRound: (summary) => {
        io.to(ADMIN_ROOM).emit('admin:round', summary);
        const m = summary.metrics;
        const pct = (x: number | null) => (x === null ? '-' : run.config.model.task === 'regression' ? x.toFixed(3) : `${(100 * x).toFixed(1)}%`);
        log(
          summary.status === 'completed'
            ? `round ${summary.round}/${run.config.rounds} · ${summary.participants.length} participants · loss ${m.loss?.toFixed(3) ?? '-'} · global ${pct(m.global)} · personalized ${pct(m.personalized)} · ${(summary.durationMs / 1000).toFixed(1)} s`
            : `round ${summary.round}/${run.config.rounds} attempt ${summary.attempt} failed: ${summary.reason}`,
        );
      },
      onRun: (summary) => {
        io.to(ADMIN_ROOM).emit('admin:run', summary);
        if (summary.status !== 'running') {
          log(`run ${summary.id} ${summary.status}${summary.error ? `: ${summary.error}` : ''}`);
          if (controller?.id === summary.id) controller = null;
        }
      },
      onLatency: (id, round, latencyMs) => registry.update(id, { lastRound: round, lastLatencyMs: latencyMs }),
      onOutcome: (id, answered) => registry.recordOutcome(id, answered),
      now,
      log,
    });

  const startRun: Hub['startRun'] = (input) => {
    const parsed = parseOrError(RunConfigSchema, input);
    if (!parsed.ok) return { ok: false, status: 400, error: parsed.error };
    const config = parsed.data;
    const parameters = parameterCount(config.model);
    if (parameters > maxParameters) return { ok: false, status: 400, error: `model: ${parameters} parameters exceed this hub's limit of ${maxParameters}` };
    if (controller) return { ok: false, status: 409, error: `run ${controller.id} is in progress: stop it first` };
    const id = `run-${now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const run = store.createRun({ id, config, createdAt: now() });
    controller = makeController(run);
    if (config.scenario) offerShards(registry.connected(), config.scenario);
    void controller.start();
    log(`run ${id} started: ${config.algorithm} · ${config.model.kind} · ${config.rounds} rounds`);
    io.to(ADMIN_ROOM).emit('admin:run', run);
    return { ok: true, data: run };
  };

  const stopRun: Hub['stopRun'] = async (runId) => {
    if (!controller || controller.id !== runId) {
      const run = store.getRun(runId);
      return { ok: false, error: run ? `run ${runId} is not running (${run.status})` : `no run ${runId}` };
    }
    return { ok: true, data: await controller.stop() };
  };

  const resumeRun: Hub['resumeRun'] = (runId) => {
    const run = store.getRun(runId);
    if (!run) return { ok: false, status: 404, error: `no run ${runId}` };
    if (controller) return { ok: false, status: 409, error: controller.id === runId ? `run ${runId} is already running` : `run ${controller.id} is in progress: stop it first` };
    if (run.status === 'completed' || run.status === 'stopped') return { ok: false, status: 409, error: `run ${runId} is ${run.status}: only a paused or failed run can be resumed` };
    const valid = parseOrError(RunConfigSchema, run.config);
    if (!valid.ok) return { ok: false, status: 409, error: `cannot resume run ${runId}: its stored config is not valid any more: ${valid.error}` };
    let resumed: RunSummary;
    try {
      resumed = store.updateRun(runId, { status: 'running', error: null, updatedAt: now() });
    } catch (error) {
      if (!isStorageFailure(error)) throw error;
      return { ok: false, status: 503, error: `cannot resume run ${runId}: the store cannot be written (${(error as Error).message})` };
    }
    try {
      // reads and verifies the last checkpoint
      controller = makeController(resumed);
    } catch (error) {
      store.updateRun(runId, { status: run.status, error: run.error, updatedAt: run.updatedAt });
      return { ok: false, status: 409, error: `cannot resume run ${runId}: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (run.config.scenario) offerShards(registry.connected(), run.config.scenario);
    void controller.start();
    log(`run ${runId} resumed after round ${controller.modelVersion} of ${run.config.rounds}`);
    io.to(ADMIN_ROOM).emit('admin:run', resumed);
    return { ok: true, data: resumed };
  };

  const deleteRun: Hub['deleteRun'] = (runId) => {
    if (controller?.id === runId) return { ok: false, status: 409, error: `run ${runId} is in progress: stop it first` };
    if (!store.deleteRun(runId)) return { ok: false, status: 404, error: `no run ${runId}` };
    log(`run ${runId} deleted`);
    io.to(ADMIN_ROOM).emit('admin:state', snapshot());
    return { ok: true };
  };

  const currentModel: Hub['currentModel'] = () => {
    if (controller) return { config: controller.config, weights: controller.weights, modelVersion: controller.modelVersion, runId: controller.id };
    for (const run of store.listRuns()) {
      const checkpoint = store.latestCheckpoint(run.id);
      if (checkpoint) return { config: run.config, weights: checkpoint.weights, modelVersion: checkpoint.round, runId: run.id };
    }
    return null;
  };

  const snapshot = (): AdminSnapshot => {
    const run = controller?.summary ?? store.listRuns()[0] ?? null;
    return { participants: registry.list(), run, rounds: run ? store.listRounds(run.id) : [] };
  };

  // Resume what was running when the hub stopped: the newest run continues, older ones cannot share the hub.
  // A run stored before a check existed may hold a config this hub now refuses (say a scenario it cannot build):
  // resuming it would refuse every tab, so it fails with the reason instead.
  const running = store.runningRuns().filter((run) => {
    const valid = parseOrError(RunConfigSchema, run.config);
    if (!valid.ok) store.updateRun(run.id, { status: 'failed', error: `cannot resume: its stored config is not valid any more: ${valid.error}`, updatedAt: now() });
    return valid.ok;
  });
  for (const [i, run] of running.entries()) {
    if (i === 0) {
      try {
        controller = makeController(run);
      } catch (error) {
        // a corrupt checkpoint: the run is not served it, and the hub starts without it
        const reason = `cannot resume: ${error instanceof Error ? error.message : String(error)}`;
        store.updateRun(run.id, { status: 'failed', error: reason, updatedAt: now() });
        log(`run ${run.id} ${reason}`);
        continue;
      }
      log(`run ${run.id} resumes after round ${controller.modelVersion} of ${run.config.rounds}`);
      void controller.start();
    } else {
      store.updateRun(run.id, { status: 'stopped', error: `superseded by run ${running[0]!.id} when the hub restarted`, updatedAt: now() });
    }
  }

  io.use(async (socket, next) => {
    const auth = (socket.handshake.auth ?? {}) as { role?: unknown; token?: unknown };
    if (auth.role === 'admin') {
      const result = await adminAuth.check(socket.request, auth.token);
      if (!result.ok) return next(new Error(result.error));
      socket.data.role = 'admin';
    } else {
      socket.data.role = 'participant';
    }
    next();
  });

  io.on('connection', (socket: HubSocket) => {
    const isAdmin = socket.data.role === 'admin';
    // A connection that keeps being refused would otherwise write a log line per message.
    let refusalsLogged = 0;
    let refusalWindowStart = Date.now();
    const logRefusal = (what: string) => {
      const t = Date.now();
      if (t - refusalWindowStart > REFUSAL_LOG_WINDOW_MS) {
        if (refusalsLogged > REFUSAL_LOG_LINES) logger.warn({ socket: socket.id, suppressed: refusalsLogged - REFUSAL_LOG_LINES }, 'further refusals of this connection were not logged');
        refusalWindowStart = t;
        refusalsLogged = 0;
      }
      if (++refusalsLogged <= REFUSAL_LOG_LINES) logger.warn({ socket: socket.id }, what);
    };
    const refuse = (args: readonly unknown[], error: string, code?: AckErrorCode) => {
      ackOf(args)?.(code ? { ok: false, code, error } : { ok: false, error });
    };
    const reportFailure = (event: string, error: unknown) => logger.error({ socket: socket.id, event, err: error }, `handler for ${event} failed`);
    const on = (event: keyof ClientToServerEvents, handler: (...args: unknown[]) => void | Promise<void>) => {
      socket.on(event, guarded(event, handler, reportFailure) as never);
    };
    /** Closes this connection on purpose, telling a participant why first. */
    const farewell = (target: HubSocket, notice: Farewell) => {
      target.emit('participant:farewell', notice);
      target.disconnect(true);
    };

    if (isAdmin) {
      void socket.join(ADMIN_ROOM);
      socket.emit('admin:state', snapshot());
    }

    let tokens = RATE_LIMIT.burst;
    let filledAt = Date.now();
    let refusals = 0;
    socket.use((packet, next) => {
      const t = Date.now();
      tokens = Math.min(RATE_LIMIT.burst, tokens + ((t - filledAt) * RATE_LIMIT.perSecond) / 1000);
      filledAt = t;
      if (tokens >= 1) {
        tokens -= 1;
        return next();
      }
      refusals++;
      refuse(packet, `rate limit: more than ${RATE_LIMIT.perSecond} messages per second from this connection`, 'rate-limited');
      if (refusals === RATE_LIMIT.refusalsBeforeDisconnect) {
        logger.warn({ socket: socket.id, refusals }, 'messages over the rate limit; disconnecting the connection');
        farewell(socket, { code: 'flooding', reason: `${refusals} messages over the rate limit of ${RATE_LIMIT.perSecond} per second`, reconnect: false });
      }
    });

    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === 'string' && KNOWN_EVENTS.has(event)) return;
      logRefusal(`unknown event ${clientText(event)} ignored`);
      refuse(args, `unknown event ${clientText(event)}`);
    });

    on('participant:hello', (raw, ack) => {
      if (typeof ack !== 'function') return;
      const reply = ack as (reply: Ack<Welcome>) => void;
      if (isAdmin) return reply({ ok: false, error: 'an admin connection cannot join as a participant' });
      const version = (raw as { protocolVersion?: unknown } | null)?.protocolVersion;
      if (version !== PROTOCOL_VERSION) {
        const reason = `protocol version ${clientText(version)} is not supported: this hub speaks version ${PROTOCOL_VERSION}; reload the page`;
        reply({ ok: false, error: reason });
        farewell(socket, { code: 'protocol-version', reason, reconnect: false });
        return;
      }
      const parsed = parseOrError(HelloSchema, raw);
      if (!parsed.ok) return reply({ ok: false, error: `malformed hello: ${parsed.error}` });
      const hello = parsed.data;
      // Which shard an 'assigned' participant holds: the one it names, else its previous one, else a free one.
      const previous = registry.get(registry.idOf(socket.id) ?? hello.participantId ?? '');
      let assignment: Welcome['assignment'] = null;
      if (hello.dataSource === 'assigned') {
        const scenario = hello.scenario ?? controller?.config.scenario ?? previous?.scenario ?? defaultScenario;
        let index = hello.assignedIndex ?? null;
        if (index === null && previous?.scenario && scenarioKeyOf(previous.scenario) === scenarioKeyOf(scenario)) index = previous.assignedIndex;
        if (index === null) {
          index = freeIndex(scenario, previous?.id ?? '');
          if (index === null) return reply({ ok: false, error: `all ${scenario.participants} participants of scenario ${scenario.name} are taken` });
        }
        if (index >= scenario.participants) return reply({ ok: false, error: `participant ${index} does not exist in a ${scenario.participants}-participant scenario` });
        assignment = { scenario, index };
      }
      const heldOut = assignment ? isHeldOut(assignment.scenario, assignment.index) : hello.heldOut;
      const claim = registry.join(socket.id, { ...hello, heldOut, ...(assignment ? { scenario: assignment.scenario, assignedIndex: assignment.index } : {}) }, now());
      if (!claim.ok) {
        logRefusal(`hello refused: ${claim.error}`);
        return reply({ ok: false, code: 'identity-refused', error: claim.error });
      }
      const id = claim.entry.id;
      if (claim.replacedSocket) {
        const replaced = io.sockets.sockets.get(claim.replacedSocket);
        if (replaced) farewell(replaced, { code: 'replaced', reason: `participant ${id} connected again from a newer connection (a reload)`, reconnect: false });
      }
      reply({ ok: true, data: { participantId: id, participantSecret: claim.secret, maxMessageBytes, assignment } });
      // A tab that rejoins holding another scenario than the running run's is offered a shard of it too.
      const running = controller?.config.scenario;
      if (running) offerShards([claim.entry], running);
    });

    on('participant:status', (status) => {
      const id = registry.idOf(socket.id);
      if (!id || typeof status !== 'object' || status === null) return;
      const state = (status as { state?: unknown }).state;
      // 'connecting' is the hub's own word for a participant whose socket is gone; a live tab cannot claim it.
      if (!PARTICIPANT_STATES.includes(state as ParticipantState) || state === 'connecting') return;
      registry.update(id, { state: state as ParticipantState, lastSeen: now() });
      if (state === 'error' && controller) {
        const message = (status as { message?: unknown }).message;
        controller.participantFailed(id, `participant error: ${typeof message === 'string' ? message.slice(0, 200) : 'unknown'}`);
      }
    });

    on('update:submit', (...args) => {
      const ack = ackOf(args);
      if (!ack) return logRefusal('update:submit without an acknowledgement callback ignored');
      const reply = ack as (reply: Ack<UpdateReceipt>) => void;
      // The ack must come third: (meta, frame, ack). With two arguments the frame is missing.
      if (args.length !== 3) return reply({ ok: false, error: `update:submit takes (meta, frame, ack); got ${args.length - 1} argument${args.length === 2 ? '' : 's'} before the acknowledgement: the binary frame is missing` });
      const [meta, frame] = args;
      const id = registry.idOf(socket.id);
      if (!id) return reply({ ok: false, error: 'say participant:hello first' });
      if (!controller) return reply({ ok: false, error: 'no run is in progress' });
      registry.update(id, { lastSeen: now() });
      const result = controller.submitUpdate(id, meta, frame);
      if (!result.ok) logRefusal(`update from ${id} rejected: ${result.error}`);
      reply(result);
    });

    on('eval:submit', (report, ack) => {
      if (typeof ack !== 'function') return;
      const reply = ack as (reply: Ack<UpdateReceipt>) => void;
      const id = registry.idOf(socket.id);
      if (!id) return reply({ ok: false, error: 'say participant:hello first' });
      if (!controller) return reply({ ok: false, error: 'no run is in progress' });
      const result = controller.submitEvaluation(id, report);
      if (!result.ok) logRefusal(`evaluation from ${id} rejected: ${result.error}`);
      reply(result);
    });

    on('admin:start-run', (config, ack) => {
      if (typeof ack !== 'function') return;
      const reply = ack as (reply: Ack<RunSummary>) => void;
      if (!isAdmin) return reply({ ok: false, error: 'admin token required' });
      const result = startRun(config);
      reply(result.ok ? result : { ok: false, error: result.error });
    });

    on('admin:stop-run', async (request, ack) => {
      if (typeof ack !== 'function') return;
      const reply = ack as (reply: Ack<RunSummary>) => void;
      if (!isAdmin) return reply({ ok: false, error: 'admin token required' });
      const runId = (request as { runId?: unknown } | null)?.runId;
      if (typeof runId !== 'string') return reply({ ok: false, error: 'runId: expected a string' });
      reply(await stopRun(runId));
    });

    socket.on('disconnect', (reason) => {
      try {
        const entry = registry.leave(socket.id, now());
        if (entry && controller) controller.participantFailed(entry.id, `disconnected (${reason})`);
        if (entry && reason !== 'client namespace disconnect' && reason !== 'server namespace disconnect') logger.info(`participant ${entry.id} disconnected: ${reason}`);
      } catch (error) {
        reportFailure('disconnect', error);
      }
    });
  });

  const hub: Hub = {
    http,
    io,
    store,
    registry,
    active: () => controller,
    startRun,
    stopRun,
    resumeRun,
    currentModel,
    deleteRun,
    async close() {
      // Closing the hub is not stopping the run: it stays 'running' in the store and resumes on restart.
      const running = controller;
      controller = null;
      participantsFeed.close();
      clearInterval(evictionTimer);
      running?.detach();
      const closed = new Promise<void>((resolve) => io.close(() => resolve()));
      // io.close() waits for every connection to end: a WebSocket whose peer never answers the close handshake
      // (a frozen tab) would hold shutdown for ws's 30 s close timeout. The hub is going away: cut them all.
      http.closeAllConnections();
      await closed;
      if (http.listening) await new Promise<void>((resolve) => http.close(() => resolve()));
      store.close();
    },
  };
  app = createHttpApp(hub, { adminAuth, webRoot: options.webRoot });
  return hub;
}
