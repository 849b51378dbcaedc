import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import {
  HandshakeAuthSchema,
  frameByteLength,
  useBackend,
  type HandshakeRefusal,
  type RunSummary,
  type ScenarioSpec,
  type RoundCancel,
  type RoundTask,
  type SecAggAsk,
} from '@tabula/core';
import { Redis } from 'ioredis';
import { createAdapter } from '@socket.io/redis-adapter';
import { Server } from 'socket.io';
import { handleAdmin } from './admin-socket.js';
import { AdminAuth, type AdminThrottle } from './admin-auth.js';
import { boundedParser, type ParserLimits } from './bounded-parser.js';
import { connectionKit } from './connection-kit.js';
import { openDataDir } from './data-dir.js';
import { createHttpApp } from './http.js';
import type { HubServer, HubSocket } from './hub-socket.js';
import { silentLogger, type Logger } from './logger.js';
import { DEFAULT_ALLOWED_ORIGINS, originPolicy } from './origins.js';
import { handleParticipant } from './participant-socket.js';
import { ParticipantsFeed } from './participants-feed.js';
import type { RateLimit } from './rate-limit.js';
import { Registry } from './registry.js';
import type { RunController } from './run-controller.js';
import { RunService, type CurrentModel, type Outcome } from './run-service.js';
import { ShardAssigner } from './shard-assigner.js';
import { asyncStore, type AsyncStore } from './async-store.js';
import { openPgStore, type PgStore } from './pg-store.js';
import { HubHeartbeat } from './hub-heartbeat.js';
import { HubCluster } from './hub-cluster.js';
import type { Store } from './store.js';

export interface HubOptions {
  /** SQLite file and checkpoints live here (unused with `databaseUrl`). */
  readonly dataDir?: string;
  /**
   * The hub's record (runs, rounds, checkpoints) in PostgreSQL at this URL instead of SQLite in `dataDir`: it survives
   * the hub's machine, and several hubs can share it (design/scale-out.md §4.4).
   */
  readonly databaseUrl?: string;
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
  /** Messages per connection (rate-limit.ts). */
  readonly rateLimit?: RateLimit;
  /** How long a disconnected participant's identity is kept for it to come back; default 15 minutes. */
  readonly participantRetentionMs?: number;
  readonly now?: () => number;
  /** How often the hub pings each socket, and how long it waits for the pong before dropping it. */
  readonly heartbeat?: { readonly pingIntervalMs: number; readonly pingTimeoutMs: number };
  /** The SQLite file may not grow beyond this: a write that would fails as on a full disk, and the run pauses. */
  readonly maxDatabaseBytes?: number;
  /**
   * Redis shared with other hubs (design/scale-out.md): this hub beats its heartbeat there (`tabula:hub:{hubId}`, with
   * its URL and counts) and lists the live hubs at GET /api/hubs. With `databaseUrl` too, the hubs run rounds
   * together: each its own tabs' part, one of them (the lease holder) coordinating (hub-cluster.ts).
   */
  readonly redisUrl?: string;
  /** Several hubs: how long heartbeats and the coordinator lease outlive their last renewal; default 5000 ms each. */
  readonly clusterTimings?: { readonly heartbeatMs?: number; readonly leaseMs?: number };
  /**
   * Pace steering: at most this many connected participants; a new one beyond it is refused ('full'), and with several
   * hubs told the live hub with the most room. Default: no limit.
   */
  readonly maxParticipants?: number;
  /** This hub's name among hubs; default a random one. */
  readonly hubId?: string;
  /** The URL tabs reach this hub at, for other hubs' lists; default http://{listening address}:{port}. */
  readonly publicUrl?: string;
  /** Web origins whose pages may open a socket besides the hub's own (origins.ts); default localhost. */
  readonly allowedOrigins?: readonly string[];
  /** Failed admin sign-ins allowed per address and window, over HTTP and the socket handshake together. */
  readonly adminThrottle?: AdminThrottle;
  /** Reverse proxies whose X-Forwarded-For names the client address (addresses, subnets, or 'loopback'...). */
  readonly trustProxy?: readonly string[];
}

export interface Hub {
  readonly http: HttpServer;
  readonly io: HubServer;
  /** The embedded SQLite store, read synchronously by tools and tests; null when the record is in PostgreSQL. */
  readonly store: Store | null;
  /** The record the hub's runs read and write: SQLite behind AsyncStore, or PostgreSQL. */
  readonly record: AsyncStore;
  readonly registry: Registry;
  /** The running run, if any. */
  active(): RunController | null;
  startRun(input: unknown): Promise<Outcome<RunSummary>>;
  stopRun(runId: string): Promise<Outcome<RunSummary>>;
  /** Continues a paused or failed run from its last checkpoint, while no other run is in progress. */
  resumeRun(runId: string): Promise<Outcome<RunSummary>>;
  /** Forgets a finished run (rounds and checkpoints too); the running one must be stopped first. */
  deleteRun(runId: string): Promise<Outcome<null>>;
  /** The global weights a client would download now: the active run's, or the latest checkpoint. */
  currentModel(): Promise<CurrentModel | null>;
  close(): Promise<void>;
}

/** A hub on its embedded SQLite store (no databaseUrl): its store is there to read. */
export type EmbeddedHub = Hub & { readonly store: Store };

const DEFAULT_MAX_PARAMETERS = 2_000_000;
const ADMIN_ROOM = 'admins';
/**
 * socket.io's default heartbeat (25 s + 20 s) leaves a vanished tab listed as connected, and sampled into
 * rounds, for up to 45 s. Tabs yield between training steps, so they answer pings well within 15 s.
 */
const DEFAULT_HEARTBEAT = { pingIntervalMs: 10_000, pingTimeoutMs: 15_000 };
const DEFAULT_PARTICIPANT_RETENTION_MS = 15 * 60_000;

/**
 * The hub: registry + runs + store behind socket.io and an HTTP API, composed here. Nothing listens until the
 * caller calls `hub.http.listen(port)`, so tests use port 0.
 */
export async function createHub(options: HubOptions & { readonly dataDir: string; readonly databaseUrl?: undefined }): Promise<EmbeddedHub>;
export async function createHub(options: HubOptions): Promise<Hub>;
export async function createHub(options: HubOptions): Promise<Hub> {
  const logger = options.logger ?? silentLogger();
  const now = options.now ?? Date.now;
  const maxParameters = options.maxParameters ?? DEFAULT_MAX_PARAMETERS;
  // A full float32 frame of the largest model plus room for the header and socket.io's framing.
  const maxMessageBytes = frameByteLength(maxParameters, 'float32', 1, 'x'.repeat(64)) + 64 * 1024;
  await useBackend('cpu'); // exporting the model to TF.js format builds a LayersModel

  // Before anything reads the store: a second hub on this directory stops here, having touched nothing.
  let store: Store | null = null;
  let durable: AsyncStore;
  let shared: PgStore | null = null;
  if (options.databaseUrl) durable = shared = await openPgStore(options.databaseUrl);
  else if (options.dataDir) {
    store = openDataDir(options.dataDir, options.maxDatabaseBytes ? { maxBytes: options.maxDatabaseBytes } : {});
    durable = asyncStore(store);
  } else throw new Error('createHub: give a dataDir (SQLite) or a databaseUrl (PostgreSQL)');

  // socket.io wraps the request listeners that exist when it attaches, so the HTTP app must be in place first:
  // a listener added later would also answer /socket.io/ polling requests and crash on a double response.
  let app: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const http = createServer((req, res) => {
    if (app) return app(req, res);
    res.writeHead(503).end('starting');
  });
  const adminAuth = new AdminAuth(options.adminToken, options.adminThrottle, options.trustProxy);
  const originRefusal = originPolicy(options.allowedOrigins ?? DEFAULT_ALLOWED_ORIGINS);
  const heartbeat = options.heartbeat ?? DEFAULT_HEARTBEAT;
  const io: HubServer = new Server(http, {
    maxHttpBufferSize: maxMessageBytes,
    parser: boundedParser(options.parserLimits),
    serveClient: false,
    allowRequest: (req, callback) => {
      const { origin, host } = req.headers;
      // With several hubs, a page another hub served comes here when its own hub goes away.
      const refusal = origin && cluster?.peerOrigins().includes(origin) ? null : originRefusal(origin, host);
      callback(refusal, refusal === null);
    },
    pingInterval: heartbeat.pingIntervalMs,
    pingTimeout: heartbeat.pingTimeoutMs,
  });
  const socketById = (socketId: string): HubSocket | null => io.sockets.sockets.get(socketId) ?? null;

  // A tab that does not answer within the stage's time is a dropout; one whose socket is gone, at once.
  const secAgg: SecAggAsk = (id, stage, request, timeoutMs) => {
    const socket = socketOf(id);
    if (!socket?.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      const gone = (reason: string) => reject(new Error(`disconnected (${reason})`));
      socket.once('disconnect', gone);
      socket
        .timeout(timeoutMs)
        .emitWithAck(`secagg:${stage}` as 'secagg:advertise', request as never)
        .then(resolve, (error: unknown) => reject(new Error(`no answer within ${timeoutMs} ms (${String(error)})`)))
        .finally(() => socket.off('disconnect', gone));
    });
  };
  const hubId = options.hubId ?? `hub-${randomBytes(4).toString('hex')}`;
  // Several hubs when both shared services are given: rounds across hubs, one coordinating (hub-cluster.ts).
  const several = Boolean(options.redisUrl && options.databaseUrl);
  /** This hub's participants; with several hubs each says which hub it is on. */
  const ownParticipants = () => (several ? registry.list().map((p) => ({ ...p, hub: hubId })) : registry.list());
  const participantsFeed = new ParticipantsFeed(
    ownParticipants,
    // With several hubs, a dashboard at any hub hears every hub's diffs (through the adapter).
    () => several || (io.sockets.adapter.rooms.get(ADMIN_ROOM)?.size ?? 0) > 0,
    (diff) => io.to(ADMIN_ROOM).emit('admin:participants', several ? { ...diff, hub: hubId } : diff),
  );
  const registry = new Registry(() => {
    participantsFeed.changed();
    cluster?.tabsChanged();
  });
  const socketOf = (participantId: string): HubSocket | null => {
    const socketId = registry.get(participantId)?.socketId;
    return socketId ? socketById(socketId) : null;
  };
  const shards = new ShardAssigner(
    registry,
    options.defaultScenario ?? { name: 'shards', participants: 20, seed: 1 },
    (id, assignment) => socketOf(id)?.emit('participant:assign', assignment),
    () => cluster?.tabsElsewhere() ?? [],
  );
  const send = (id: string, task: RoundTask, frame: Uint8Array) => {
    const socket = socketOf(id);
    socket?.emit('round:start', task, frame);
    return socket !== null;
  };
  const cancel = (id: string, notice: RoundCancel) => socketOf(id)?.emit('round:cancel', notice);
  /** What this hub beats to the others: where tabs reach it, how many it holds, which run it runs. */
  const ownFacts = () => {
    const address = http.address();
    const port = typeof address === 'object' && address ? address.port : null;
    const host =
      typeof address === 'object' && address && address.address !== '0.0.0.0' && address.address !== '::' ? address.address : 'localhost';
    return {
      url: options.publicUrl ?? (port === null ? null : `http://${host.includes(':') ? `[${host}]` : host}:${port}`),
      participants: registry.connected().length,
      ...(options.maxParticipants !== undefined ? { maxParticipants: options.maxParticipants } : {}),
      ...(several ? { cluster: true } : {}),
      // Read late: the run service is composed after the cluster, whose first beat comes before it exists.
      activeRun: activeRunId(),
    };
  };
  let activeRunId = (): string | null => null;
  let cluster: HubCluster | null = null;
  let adapterClients: Redis[] = [];
  if (options.redisUrl && shared) {
    // Dashboards at any hub hear the coordinator's rounds and every hub's participants; round traffic never goes
    // through the adapter (scale-out.md §2).
    adapterClients = [new Redis(options.redisUrl), new Redis(options.redisUrl)];
    for (const client of adapterClients)
      client.on('error', (error: unknown) => logger.warn({ err: error }, 'redis (dashboards): connection problem'));
    io.adapter(createAdapter(adapterClients[0]!, adapterClients[1]!));
    cluster = await HubCluster.join({
      participants: ownParticipants,
      newestEpoch: () => shared.newestEpoch(),
      redisUrl: options.redisUrl,
      hubId,
      registry,
      compatible: (tab, config) => shards.compatible(tab, config),
      send,
      cancel,
      secAgg,
      facts: ownFacts,
      onRun: (config) => {
        const { scenario } = config;
        // Offer shards none of the other hubs' tabs hold (as they list them now).
        if (scenario) void cluster?.refreshDirectory().finally(() => shards.offer(registry.connected(), scenario));
      },
      // The tab said hello at another hub while its old connection here looked alive: the newer one wins.
      onClaimedElsewhere: (participantId) => {
        const socket = socketOf(participantId);
        if (!socket) return;
        socket.emit('participant:farewell', {
          code: 'replaced',
          reason: `participant ${participantId} connected again at another hub`,
          reconnect: false,
        });
        socket.disconnect(true);
      },
      logger,
      now,
      ...options.clusterTimings,
    });
  }
  const runs: RunService = new RunService({
    store: durable,
    registry,
    shards,
    maxParameters,
    send,
    cancel,
    ...(cluster ? { cluster } : {}),
    secAgg,
    broadcast: {
      run: (run) => io.to(ADMIN_ROOM).emit('admin:run', run),
      round: (round) => io.to(ADMIN_ROOM).emit('admin:round', round),
      state: () => void runs.snapshot().then((snapshot) => io.to(ADMIN_ROOM).emit('admin:state', snapshot), logSnapshotFailure),
    },
    logger,
    now,
  });
  activeRunId = () => runs.active?.id ?? null;
  const logSnapshotFailure = (error: unknown) => logger.error({ err: error }, 'cannot read the store for the dashboards');
  // The run that was running when the hub last stopped continues before the hub takes connections; with several hubs,
  // at whichever hub coordinates.
  if (cluster) runs.joinCluster(cluster);
  else await runs.resumeAfterRestart();

  // Identities of participants gone longer than this are forgotten, so the registry cannot grow without bound.
  const retentionMs = options.participantRetentionMs ?? DEFAULT_PARTICIPANT_RETENTION_MS;
  const evictionTimer = setInterval(
    () => {
      const evicted = registry.evictDisconnected(now() - retentionMs);
      if (evicted) logger.debug(`forgot ${evicted} participants disconnected for over ${Math.round(retentionMs / 1000)} s`);
    },
    Math.max(10, Math.min(retentionMs, 60_000)),
  ).unref();

  /** socket.io hands `data` to the client's connect_error: it switches on the code, never on the sentence. */
  const refusal = (message: string, code: HandshakeRefusal['code']) =>
    Object.assign(new Error(message), { data: { code } satisfies HandshakeRefusal });
  io.use((socket, next) => {
    const auth = HandshakeAuthSchema.safeParse(socket.handshake.auth ?? {});
    if (!auth.success)
      return next(refusal('malformed handshake auth: send { role: "participant" } or { role: "admin", token }', 'invalid'));
    const { role } = auth.data;
    const admit = () => {
      socket.data.role = role;
      next();
    };
    if (auth.data.role !== 'admin') return admit();
    // socket.io ignores what a middleware returns: a rejected check must answer here, not reach the process.
    adminAuth.check(socket.request, auth.data.token).then(
      (result) => (result.ok ? admit() : next(refusal(result.error, result.code === 'throttled' ? 'rate-limited' : 'unauthorized'))),
      (error: unknown) => {
        logger.error({ err: error }, 'admin sign-in check failed');
        next(refusal('the hub could not check the token', 'internal'));
      },
    );
  });

  const admission = async () => {
    const limit = options.maxParticipants ?? Infinity;
    const connected = registry.connected().length;
    if (connected < limit) return null;
    const error = `this hub holds its budget of ${limit} participants`;
    const roomiest = await cluster?.roomiest().catch(() => null);
    return roomiest ? { error: `${error}: join ${roomiest}`, redirect: roomiest } : { error: `${error}: try again later` };
  };

  io.on('connection', (socket: HubSocket) => {
    const kit = connectionKit(socket, logger, options.rateLimit);
    const isAdmin = socket.data.role === 'admin';
    if (isAdmin) {
      void socket.join(ADMIN_ROOM);
      runs.snapshot().then((snapshot) => socket.emit('admin:state', snapshot), logSnapshotFailure);
    }
    handleParticipant(socket, kit, {
      registry,
      rounds: () => (cluster ? cluster.inbox : runs.active),
      runningScenario: () => (cluster ? cluster.config?.scenario : runs.active?.config.scenario),
      ...(options.maxParticipants !== undefined ? { admission } : {}),
      ...(cluster ? { beforeShard: () => cluster.refreshDirectory().catch(() => undefined) } : {}),
      ...(cluster
        ? {
            identities: {
              refusal: (participantId: string, secret: string | undefined) => cluster.identityRefusal(participantId, secret),
              claimed: (participantId: string, secret: string) => cluster.claimed(participantId, secret),
            },
          }
        : {}),
      shards,
      maxMessageBytes,
      socketById,
      now,
      logger,
    });
    handleAdmin(isAdmin, kit, runs);
  });

  // Other hubs, through Redis: this hub's heartbeat, and theirs for GET /api/hubs.
  let redis: Redis | null = null;
  let beat: HubHeartbeat | null = null;
  if (options.redisUrl && !cluster) {
    redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 2 });
    // Every client needs a listener: ioredis reconnects by itself, and an unheard error would end the process.
    redis.on('error', (error: unknown) => logger.warn({ err: error }, 'redis connection problem'));
    beat = new HubHeartbeat(redis, hubId);
    await beat.start(ownFacts);
  }
  // The first beat went out before the hub listened: the others learn its URL as soon as it does.
  http.on('listening', () => void (cluster ? cluster.beat() : beat?.beat().catch(() => undefined)));
  const liveHubs = async () => (cluster ? cluster.liveHubs() : redis ? HubHeartbeat.live(redis) : [{ id: hubId, facts: ownFacts() }]);

  const hub: Hub = {
    http,
    io,
    store,
    record: durable,
    registry,
    active: () => runs.active,
    startRun: (input) => runs.start(input),
    stopRun: (runId) => runs.stop(runId),
    resumeRun: (runId) => runs.resume(runId),
    deleteRun: (runId) => runs.delete(runId),
    currentModel: () => runs.currentModel(),
    async close() {
      // Closing the hub is not stopping the run: it stays 'running' in the store and resumes on restart.
      runs.detach();
      participantsFeed.close();
      clearInterval(evictionTimer);
      const closed = new Promise<void>((resolve) => void io.close(() => resolve()));
      // io.close() waits for every connection to end: a WebSocket whose peer never answers the close handshake
      // (a frozen tab) would hold shutdown for ws's 30 s close timeout. The hub is going away: cut them all.
      http.closeAllConnections();
      await closed;
      if (http.listening) await new Promise<void>((resolve) => http.close(() => resolve()));
      await beat?.stop({ forget: true }).catch(() => undefined);
      await cluster?.close();
      for (const client of adapterClients) await client.quit().catch(() => undefined);
      await redis?.quit().catch(() => undefined);
      await durable.close();
    },
  };
  app = createHttpApp(
    {
      health: () => {
        const active = runs.active;
        return {
          participants: registry.connected().length,
          activeRun: active ? { id: active.id, completedRounds: active.modelVersion, rounds: active.config.rounds } : null,
        };
      },
      hubs: liveHubs,
      participants: () => runs.participants(),
      runs: () => durable.listRuns(),
      latestRun: () => durable.latestRun(),
      run: (id) => durable.getRun(id),
      rounds: (runId) => durable.listRounds(runId),
      currentModel: () => runs.currentModel(),
      startRun: (input) => hub.startRun(input),
      stopRun: (runId) => hub.stopRun(runId),
      resumeRun: (runId) => hub.resumeRun(runId),
      deleteRun: (runId) => hub.deleteRun(runId),
    },
    { adminAuth, webRoot: options.webRoot, ...(cluster ? { peerOrigins: () => cluster.peerOrigins() } : {}) },
  );
  return hub;
}
