/**
 * A hub as one of several (design/scale-out.md §4): every hub holds its own tabs and runs their part of each round
 * (the same RoundCollector and checks as one hub), and posts its share, a float64 partial sum with its tabs' counts,
 * losses and evaluations, to Redis. One hub, the holder of the coordinator lease, selects over every hub's tabs,
 * announces each round with its assignment per hub, gathers the shares (not waiting for a hub whose heartbeat is gone)
 * and commits under its fencing epoch. Round traffic never goes through socket.io's adapter: the weights are stored
 * once per round, the announcements are one Redis stream every hub reads, the shares are keys plus a stream per round.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  FitBatch,
  HelloSchema,
  MAX_EXAMPLES_PER_REPORT,
  PARTICIPANT_STATES,
  RoundCollector,
  RoundShareMetaSchema,
  RunConfigSchema,
  ScenarioSpecSchema,
  secureGroup,
  parseOrError,
  roundTask,
  strategyFor,
  systemClock,
  federatedLength,
  type Ack,
  type Candidate,
  type FitFailure,
  type GatheredRound,
  type ParticipantInfo,
  type RoundCancel,
  type RoundGathering,
  type RoundShare,
  type RoundTask,
  type RunConfig,
  type SecAggAsk,
  type UpdateReceipt,
} from '@tabula/core';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { CoordinatorLease } from './coordinator-lease.js';
import type { Logger } from './logger.js';
import type { Registry, RegistryEntry } from './registry.js';
import { HubHeartbeat } from './hub-heartbeat.js';
import { RoundPartials } from './round-partials.js';

/** What a tab sends about the open round: the hub's own RunController takes these in one-hub mode, its local part here. */
export interface RoundInbox {
  submitUpdate(participantId: string, meta: unknown, frame: unknown): Ack<UpdateReceipt>;
  submitEvaluation(participantId: string, report: unknown): Ack<UpdateReceipt>;
  submitReady(participantId: string, ready: unknown): Ack<UpdateReceipt>;
  participantFailed(participantId: string, reason: string): void;
}

/**
 * A tab as the other hubs see it: its ParticipantInfo, of which selection and data compatibility need these fields
 * (checked; the rest, for dashboards, passes through).
 */
const DirectoryTabSchema = z.looseObject({
  id: z.string().min(1).max(128),
  examples: z.number().int().nonnegative(),
  heldOut: z.boolean(),
  validation: z.boolean(),
  dataSource: HelloSchema.shape.dataSource,
  scenario: ScenarioSpecSchema.nullable(),
  assignedIndex: z.number().int().nonnegative().nullable(),
  missStreak: z.number().int().nonnegative(),
  state: z.enum(PARTICIPANT_STATES),
});
export type DirectoryTab = z.infer<typeof DirectoryTabSchema> & { readonly hub: string };

const id = z.string().min(1).max(128);
const AnnouncementSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('open'),
    runId: id,
    round: z.number().int().positive(),
    attempt: z.number().int().positive(),
    epoch: z.number().int().nonnegative(),
    modelVersion: z.number().int().nonnegative(),
    deadline: z.number(),
    evaluate: z.boolean(),
    config: z.unknown(),
    assignment: z.record(z.string(), z.object({ fit: z.array(id), evaluate: z.array(id) })),
  }),
  z.object({
    kind: z.literal('close'),
    runId: id,
    round: z.number().int().positive(),
    epoch: z.number().int(),
    reason: z.string().max(500),
  }),
]);
type Announcement = z.infer<typeof AnnouncementSchema>;
type OpenAnnouncement = Extract<Announcement, { kind: 'open' }>;

/** How long after a round's deadline the coordinator still waits for hubs to post (they close at the deadline, then post). */
const POST_GRACE_MS = 2000;
/** How long announcements, weights and shares stay in Redis. */
const ROUND_TTL_MS = 10 * 60_000;
/** The announcement stream keeps about this many entries (two per round). */
const ANNOUNCEMENTS_KEPT = 1000;

export interface HubClusterOptions {
  readonly redisUrl: string;
  readonly hubId: string;
  readonly registry: Registry;
  /** This hub's participants as dashboards list them (with the hub's id). */
  participants(): readonly ParticipantInfo[];
  /** Whether a tab's data fits a run (shard-assigner.ts). */
  compatible(tab: RegistryEntry | DirectoryTab, config: RunConfig): boolean;
  /** Sends one tab of this hub its task with the weights frame; false when it is not connected. */
  send(participantId: string, task: RoundTask, frame: Uint8Array): boolean;
  cancel(participantId: string, notice: RoundCancel): void;
  /** Asks one of this hub's tabs a secure aggregation stage's question (its hub runs its group: scale-out.md §4.6). */
  readonly secAgg?: SecAggAsk;
  /** This hub's URL and counts, beaten with its heartbeat. */
  facts(): Record<string, unknown>;
  /** The newest epoch the shared store has seen written: the lease's epochs stay above it (coordinator-lease.ts). */
  newestEpoch(): Promise<number>;
  /** The coordinator began running a run: this hub offers its tabs shards of its scenario. */
  onRun?(config: RunConfig): void;
  /** A participant said hello at another hub (it moved): this hub drops its old connection, if it still has one. */
  onClaimedElsewhere?(participantId: string): void;
  readonly logger: Logger;
  readonly now: () => number;
  /** How long a hub's heartbeat and tab list outlive its last beat; default 5000 ms. */
  readonly heartbeatMs?: number;
  /** The coordinator lease's time to live; default 5000 ms. */
  readonly leaseMs?: number;
  /** Key prefix; default 'tabula:'. */
  readonly prefix?: string;
}

/** The local part of an open round on this hub. */
interface LocalRound {
  readonly announcement: OpenAnnouncement;
  readonly config: RunConfig;
  readonly collector: RoundCollector;
  readonly sentAt: Map<string, number>;
}

export class HubCluster {
  readonly hubId: string;
  private readonly prefix: string;
  private readonly heartbeatMs: number;
  private readonly partials: RoundPartials;
  private readonly heartbeat: HubHeartbeat;
  private readonly lease: CoordinatorLease;
  private local: LocalRound | null = null;
  /** The config of the newest run announced to this hub: a hello gets a shard of its scenario. */
  private announcedConfig: RunConfig | null = null;
  private directory: DirectoryTab[] = [];
  private directoryTimer: ReturnType<typeof setInterval> | null = null;
  private peersTimer: ReturnType<typeof setInterval> | null = null;
  /** The web origins of the live hubs, as their heartbeats give their URLs. */
  private peers: readonly string[] = [];
  private publishTimer: ReturnType<typeof setTimeout> | null = null;
  /** The tab list as last written to Redis (publishTabs). */
  private publishedTabs: string | null = null;
  private closed = false;
  private reading: Promise<void> = Promise.resolve();
  private stopHandler: (runId: string, reason: string) => void = () => undefined;
  private coordinatorHandlers: { acquired(epoch: number): void; lost(epoch: number, reason: string): void } | null = null;

  private constructor(
    private readonly options: HubClusterOptions,
    /** Commands. */
    private readonly redis: Redis,
    /** XREAD BLOCK on the announcements: a connection of its own (scale-out.md §8). */
    private readonly listening: Redis,
    /** XREAD BLOCK on a round's shares, at the coordinator. */
    private readonly gathering: Redis,
    /** Control messages (a stop asked at another hub's dashboard). */
    private readonly subscriber: Redis,
    private readonly leaseConnection: Redis,
  ) {
    this.hubId = options.hubId;
    this.prefix = options.prefix ?? 'tabula:';
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.partials = new RoundPartials(redis, { prefix: this.prefix, ttlMs: ROUND_TTL_MS });
    this.heartbeat = new HubHeartbeat(redis, this.hubId, this.heartbeatMs, { prefix: this.prefix });
    this.lease = new CoordinatorLease({
      redis: leaseConnection,
      hubId: this.hubId,
      ttlMs: options.leaseMs ?? 5000,
      prefix: this.prefix,
      floor: () => options.newestEpoch(),
      onAcquired: (epoch) => {
        options.logger.info(`hub ${this.hubId} coordinates (epoch ${epoch})`);
        this.coordinatorHandlers?.acquired(epoch);
      },
      onLost: (epoch, reason) => {
        options.logger.warn(`hub ${this.hubId} stops coordinating (epoch ${epoch}): ${reason}`);
        this.coordinatorHandlers?.lost(epoch, reason);
      },
    });
  }

  /** Connects to Redis, beats, lists this hub's tabs, and listens for rounds. The lease is sought once `coordinate` is called. */
  static async join(options: HubClusterOptions): Promise<HubCluster> {
    const connect = (name: string) => {
      const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, connectionName: `tabula-${options.hubId}-${name}` });
      // Every client needs a listener: ioredis reconnects by itself, and an unheard error would end the process.
      connection.on('error', (error: unknown) => options.logger.warn({ err: error }, `redis (${name}): connection problem`));
      return connection;
    };
    const cluster = new HubCluster(
      options,
      connect('commands'),
      connect('rounds'),
      connect('shares'),
      connect('control'),
      connect('lease'),
    );
    await cluster.start();
    return cluster;
  }

  private async start(): Promise<void> {
    const { logger } = this.options;
    await this.heartbeat.start(() => this.options.facts());
    await this.publishTabs();
    // The tab list lives as long as a heartbeat: refreshed with it, and soon after every change in the registry.
    this.directoryTimer = setInterval(() => void this.publishTabs(), Math.max(50, Math.floor(this.heartbeatMs / 5)));
    // A page served by one hub connects to another when its hub goes away: each hub knows the others' origins.
    await this.refreshPeers();
    this.peersTimer = setInterval(() => void this.refreshPeers(), this.heartbeatMs);
    await this.subscriber.subscribe(this.key('control'));
    this.subscriber.on('message', (_channel: string, text: string) => {
      const message = safeJson(text);
      const stop = z.object({ stop: id, reason: z.string().max(500) }).safeParse(message);
      if (stop.success) return this.stopHandler(stop.data.stop, stop.data.reason);
      const claimed = z.object({ claimed: id, hub: z.string() }).safeParse(message);
      if (claimed.success) {
        if (claimed.data.hub !== this.hubId) this.options.onClaimedElsewhere?.(claimed.data.claimed);
        return;
      }
      const run = z.object({ run: RunConfigSchema }).safeParse(message);
      if (run.success) {
        this.announcedConfig = run.data.run;
        this.options.onRun?.(run.data.run);
      }
    });
    // Only rounds announced from now on concern this hub.
    const last = await this.redis.xrevrange(this.key('rounds'), '+', '-', 'COUNT', 1);
    this.reading = this.listen(last[0]?.[0] ?? '0-0').catch((error: unknown) =>
      logger.error({ err: error }, 'round announcements stopped'),
    );
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** The registry changed: the other hubs see this hub's tabs soon, not only at the next beat. */
  tabsChanged(): void {
    if (this.closed || this.publishTimer) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = null;
      void this.publishTabs();
    }, 50);
  }

  /**
   * Writes this hub's tab list when it changed; when it did not, only extends its life (a list of thousands of tabs is
   * megabytes, and it is refreshed several times a heartbeat). A list Redis lost (a restart) is written again.
   */
  private async publishTabs(): Promise<void> {
    if (this.closed) return;
    const key = this.key(`tabs:${this.hubId}`);
    const list = JSON.stringify(this.options.participants().filter((p) => p.connected));
    try {
      if (list === this.publishedTabs && (await this.redis.pexpire(key, this.heartbeatMs)) === 1) return;
      await this.redis.set(key, list, 'PX', this.heartbeatMs);
      this.publishedTabs = list;
    } catch {
      this.publishedTabs = null; // Redis unreachable: write it whole next time
    }
  }

  // --- the coordinator ---------------------------------------------------------------------------------------------

  /** Seeks the lease now and keeps seeking; the handlers hear when this hub starts and stops coordinating. */
  coordinate(handlers: { acquired(epoch: number): void; lost(epoch: number, reason: string): void }): void {
    this.coordinatorHandlers = handlers;
    this.lease.start();
  }

  /** The epoch this hub coordinates under, or null. */
  get epoch(): number | null {
    return this.lease.epoch;
  }

  /** Reads every live hub's tabs; the coordinator calls it on a timer while it runs a run. */
  async refreshDirectory(): Promise<void> {
    const hubs = await HubHeartbeat.live(this.redis, this.prefix);
    if (hubs.length === 0) {
      this.directory = [];
      return;
    }
    const lists = await this.redis.mget(hubs.map((h) => this.key(`tabs:${h.id}`)));
    const seen = new Map<string, DirectoryTab>();
    hubs.forEach((hub, i) => {
      const parsed = z.array(DirectoryTabSchema).safeParse(safeJson(lists[i] ?? '[]'));
      if (!parsed.success) return this.options.logger.warn(`hub ${hub.id} lists malformed tabs: ignored`);
      // A tab that moved keeps its id: while its old hub has not noticed yet, the first hub (by id) wins, never both.
      for (const tab of parsed.data) if (!seen.has(tab.id)) seen.set(tab.id, { ...tab, hub: hub.id });
    });
    this.directory = [...seen.values()];
  }

  /** Every live hub's connected participants as they listed them (read now, for a dashboard that connects). */
  async participants(): Promise<ParticipantInfo[]> {
    await this.refreshDirectory();
    return this.directory as unknown as ParticipantInfo[];
  }

  /** Other hubs' connected tabs as last read (refreshDirectory): the shards they hold are not free here. */
  tabsElsewhere(): readonly DirectoryTab[] {
    return this.directory.filter((tab) => tab.hub !== this.hubId);
  }

  /** Keeps the directory fresh while `active` says so; returns the stopper. */
  watchDirectory(periodMs = 200): () => void {
    let stopped = false;
    const tick = async () => {
      if (stopped || this.closed) return;
      await this.refreshDirectory().catch((error: unknown) => this.options.logger.warn({ err: error }, 'cannot read the hubs’ tabs'));
      if (!stopped && !this.closed) timer = setTimeout(() => void tick(), periodMs);
    };
    let timer: ReturnType<typeof setTimeout> = setTimeout(() => void tick(), 0);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  /** Every hub's tabs whose data fits the run, as the round engine selects from. */
  candidates(config: RunConfig): (Candidate & { examples: number })[] {
    return this.directory.filter((tab) => tab.state !== 'paused' && this.options.compatible(tab, config));
  }

  /**
   * One round across hubs, for the coordinator's round engine: the weights are stored once, the round announced with
   * each hub's tabs, and the hubs' shares gathered in sorted hub order. A hub whose heartbeat stops is not waited for:
   * its tabs are failures of the round. A stop (the signal) closes the round at every hub, which post what arrived.
   */
  async gather(round: RoundGathering, config: RunConfig, epoch: number): Promise<GatheredRound> {
    const { runId, round: number, modelVersion, deadline, evaluate } = round.address;
    const hubOf = new Map(this.directory.map((tab) => [tab.id, tab.hub]));
    const assignment: Record<string, { fit: string[]; evaluate: string[] }> = {};
    const failures: FitFailure[] = [];
    const assign = (ids: readonly string[], mode: 'fit' | 'evaluate') => {
      for (const tab of ids) {
        const hub = hubOf.get(tab);
        if (hub === undefined) {
          if (mode === 'fit') failures.push({ participantId: tab, reason: 'no hub holds it any more' });
          continue;
        }
        (assignment[hub] ??= { fit: [], evaluate: [] })[mode].push(tab);
      }
    };
    assign(round.trainers, 'fit');
    assign(round.evaluators, 'evaluate');
    const hubs = Object.keys(assignment).sort();
    await this.redis.set(this.key(`weights:${runId}:${modelVersion}`), Buffer.from(round.frame), 'PX', ROUND_TTL_MS);
    const announce = (announcement: Announcement) =>
      this.redis.xadd(this.key('rounds'), 'MAXLEN', '~', ANNOUNCEMENTS_KEPT, '*', 'a', JSON.stringify(announcement));
    await announce({
      kind: 'open',
      runId,
      round: number,
      attempt: round.attempt,
      epoch,
      modelVersion,
      deadline,
      evaluate,
      config,
      assignment,
    });
    const stop = () =>
      void announce({ kind: 'close', runId, round: number, epoch, reason: 'the run was stopped' }).catch((error: unknown) =>
        this.options.logger.warn({ err: error }, 'cannot tell the hubs the round is closed'),
      );
    if (round.signal.aborted) stop();
    else round.signal.addEventListener('abort', stop, { once: true });
    const length = federatedLength(config.model, config.algorithm);
    let collected;
    try {
      collected = await this.partials.collect({ runId, round: number, attempt: round.attempt, epoch }, hubs, {
        length,
        live: (hub) => HubHeartbeat.alive(this.redis, hub, this.prefix),
        deadline: deadline + POST_GRACE_MS,
        blocking: this.gathering,
      });
    } finally {
      round.signal.removeEventListener('abort', stop);
    }
    const shares: RoundShare[] = [];
    const accepted: string[] = [];
    for (const { hub, partial, meta } of collected.partials) {
      const mine = assignment[hub]!;
      const parsed = parseOrError(RoundShareMetaSchema, safeJson(meta));
      const assigned = new Set(mine.fit);
      const listed = parsed.ok ? (parsed.data.participants ?? parsed.data.results.map((r) => r.participantId)) : [];
      const problem = !parsed.ok
        ? `malformed share: ${parsed.error}`
        : parsed.data.results.length !== partial.count
          ? `its sums hold ${partial.count} updates but it lists ${parsed.data.results.length}`
          : listed.some((tab) => !assigned.has(tab))
            ? 'it lists tabs it was not assigned'
            : (parsed.data.secure !== undefined) !== (config.secureAggregation !== undefined)
              ? 'its share is not the kind this run aggregates'
              : null;
      if (problem || !parsed.ok) {
        this.options.logger.warn(`hub ${hub}'s share of round ${number} refused: ${problem}`);
        for (const tab of mine.fit) failures.push({ participantId: tab, reason: `hub ${hub} sent a share the coordinator refused` });
        continue;
      }
      shares.push({ partial, ...parsed.data });
      accepted.push(`${hub} (${partial.count})`);
    }
    for (const { hub, reason } of collected.missing) {
      const why = reason === 'gone' ? `hub ${hub} stopped beating` : `hub ${hub} sent no share by the deadline`;
      for (const tab of assignment[hub]!.fit) failures.push({ participantId: tab, reason: why });
    }
    this.options.logger.debug(
      `round ${number}.${round.attempt}: tabs per hub ${hubs.map((hub) => `${hub} ${assignment[hub]!.fit.length}+${assignment[hub]!.evaluate.length}`).join(', ')}; shares from ${accepted.join(', ') || 'none'}; missing ${collected.missing.map((m) => `${m.hub} (${m.reason})`).join(', ') || 'none'}`,
    );
    const settlement = round.signal.aborted ? 'closed' : collected.missing.some((m) => m.reason === 'deadline') ? 'deadline' : 'complete';
    const tabsSent = hubs.reduce((n, hub) => n + assignment[hub]!.fit.length + assignment[hub]!.evaluate.length, 0);
    return { settlement, shares, failures, bytesDown: tabsSent * round.frame.byteLength };
  }

  /** Tells every hub which run the coordinator now runs (they offer their tabs its scenario's shards). */
  async announceRun(config: RunConfig): Promise<void> {
    await this.redis.publish(this.key('control'), JSON.stringify({ run: config }));
  }

  private async refreshPeers(): Promise<void> {
    const hubs = await HubHeartbeat.live(this.redis, this.prefix).catch(() => null);
    if (!hubs) return;
    const origins = new Set<string>();
    for (const { facts } of hubs) {
      const url = (facts as { url?: unknown } | null)?.url;
      if (typeof url !== 'string') continue;
      try {
        origins.add(new URL(url).origin);
      } catch {
        // a hub that beats no usable URL is not a peer a page can reach
      }
    }
    this.peers = [...origins].sort();
  }

  /** The live hubs' web origins (refreshed every heartbeat): the pages they serve may connect here. */
  peerOrigins(): readonly string[] {
    return this.peers;
  }

  /** The URL of the live hub other than this one with the most room under its budget (or the fewest tabs), if any. */
  async roomiest(): Promise<string | null> {
    let best: { url: string; room: number } | null = null;
    for (const { id: hub, facts } of await HubHeartbeat.live(this.redis, this.prefix)) {
      const f = (facts ?? {}) as { url?: unknown; participants?: unknown; maxParticipants?: unknown };
      if (hub === this.hubId || typeof f.url !== 'string' || typeof f.participants !== 'number') continue;
      const room = (typeof f.maxParticipants === 'number' ? f.maxParticipants : Number.MAX_SAFE_INTEGER) - f.participants;
      if (room > 0 && (!best || room > best.room)) best = { url: f.url, room };
    }
    return best?.url ?? null;
  }

  /** Beats now: the facts changed (the hub began listening, so its URL is known). */
  async beat(): Promise<void> {
    await this.heartbeat.beat().catch(() => undefined);
    await this.refreshPeers();
  }

  /** Every hub whose heartbeat is current, with its URL and counts. */
  liveHubs(): Promise<{ id: string; facts: unknown }[]> {
    return HubHeartbeat.live(this.redis, this.prefix);
  }

  /** Asks the coordinator, wherever it is, to stop a run. */
  async requestStop(runId: string, reason: string): Promise<void> {
    await this.redis.publish(this.key('control'), JSON.stringify({ stop: runId, reason }));
  }

  /** Hears stop requests made at any hub (the coordinator acts on them). */
  onStopRequest(handler: (runId: string, reason: string) => void): void {
    this.stopHandler = handler;
  }

  // --- identities across hubs ---------------------------------------------------------------------------------------

  /**
   * Whether a hello may take `participantId`, which this hub has not seen: only with the secret issued for it at
   * whichever hub first saw it (sha256 in `tabula:secrets`). Null when it may; else why not.
   */
  async identityRefusal(participantId: string, secret: string | undefined): Promise<string | null> {
    const stored = await this.redis.hget(this.key('secrets'), participantId);
    if (stored === null) return null;
    const matches = secret !== undefined && timingSafeEqual(sha256(secret), Buffer.from(stored, 'hex'));
    return matches
      ? null
      : `participant id ${participantId} is taken: the secret ${secret ? 'does not match' : 'is missing'} (a tab keeps it beside its id)`;
  }

  /** A hello took `participantId` here: its secret is recorded for every hub, and any other hub drops its old connection. */
  async claimed(participantId: string, secret: string): Promise<void> {
    await this.redis.hsetnx(this.key('secrets'), participantId, sha256(secret).toString('hex'));
    await this.redis.publish(this.key('control'), JSON.stringify({ claimed: participantId, hub: this.hubId }));
  }

  // --- every hub: its tabs' part of each round -----------------------------------------------------------------------

  /** The newest run announced to this hub. */
  get config(): RunConfig | null {
    return this.announcedConfig;
  }

  /** Where this hub's tabs' answers go: the local part of the open round. */
  readonly inbox: RoundInbox = {
    submitUpdate: (participantId, meta, frame) => this.toLocal((c) => c.submitUpdate(participantId, meta, frame), participantId),
    submitEvaluation: (participantId, report) => this.toLocal((c) => c.submitEvaluation(participantId, report), participantId),
    submitReady: (participantId, ready) => this.toLocal((c) => c.submitReady(participantId, ready), participantId),
    participantFailed: (participantId, reason) => this.local?.collector.fail(participantId, reason),
  };

  private toLocal(submit: (collector: RoundCollector) => Ack<UpdateReceipt>, participantId: string): Ack<UpdateReceipt> {
    const local = this.local;
    if (!local) return { ok: false, code: 'late', error: 'no round is open on this hub' };
    const ack = submit(local.collector);
    const sent = local.sentAt.get(participantId);
    if (ack.ok && sent !== undefined)
      this.options.registry.update(participantId, {
        lastRound: local.announcement.round,
        lastLatencyMs: this.options.now() - sent,
      });
    return ack;
  }

  private async listen(from: string): Promise<void> {
    let cursor = from;
    while (!this.closed) {
      let reply;
      try {
        reply = await this.listening.xread('BLOCK', 1000, 'STREAMS', this.key('rounds'), cursor);
      } catch (error) {
        if (this.closed) return;
        this.options.logger.warn({ err: error }, 'cannot read round announcements; retrying');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [entryId, fields] of entries) {
          cursor = entryId;
          const parsed = AnnouncementSchema.safeParse(safeJson(fields[1] ?? ''));
          if (!parsed.success) {
            this.options.logger.warn(`malformed round announcement ${entryId} ignored`);
            continue;
          }
          await this.onAnnouncement(parsed.data).catch((error: unknown) =>
            this.options.logger.error({ err: error }, `round announcement ${entryId} failed on this hub`),
          );
        }
      }
    }
  }

  private async onAnnouncement(a: Announcement): Promise<void> {
    const local = this.local;
    if (a.kind === 'close') {
      const open = local?.announcement;
      if (open && open.runId === a.runId && open.round === a.round && open.epoch === a.epoch) local.collector.close(a.reason);
      return;
    }
    const config = RunConfigSchema.parse(a.config);
    this.announcedConfig = config;
    // A newer round (or a new coordinator's retry) supersedes whatever this hub still had open.
    local?.collector.close(`superseded by round ${a.round} (attempt ${a.attempt})`);
    const mine = a.assignment[this.hubId];
    if (!mine) return;
    const frame = await this.redis.getBuffer(this.key(`weights:${a.runId}:${a.modelVersion}`));
    const strategy = strategyFor(config);
    const length = federatedLength(config.model, config.algorithm);
    const clock = systemClock(this.options.now);
    const collector = new RoundCollector({
      runId: a.runId,
      round: a.round,
      modelVersion: a.modelVersion,
      trainers: mine.fit,
      evaluators: mine.evaluate,
      fits: new FitBatch(strategy.createAccumulator(length)),
      strategy,
      deadline: a.deadline,
      maxExamples: MAX_EXAMPLES_PER_REPORT,
      metric: metricOf(config),
      secure: config.secureAggregation !== undefined,
      ...(config.maxUpdateNorm !== undefined ? { maxUpdateNorm: config.maxUpdateNorm } : {}),
      clock,
    });
    const round: LocalRound = { announcement: a, config, collector, sentAt: new Map() };
    this.local = round;
    const address = { runId: a.runId, round: a.round, modelVersion: a.modelVersion, deadline: a.deadline, evaluate: a.evaluate };
    for (const [tab, mode] of [...mine.fit.map((t) => [t, 'fit'] as const), ...mine.evaluate.map((t) => [t, 'evaluate'] as const)]) {
      round.sentAt.set(tab, clock.now());
      if (!frame) collector.fail(tab, 'this hub could not fetch the round’s weights');
      else if (!this.options.send(tab, roundTask(config, address, tab, mode), frame))
        collector.fail(tab, 'not connected when the round started');
    }
    void this.finishLocal(round);
  }

  /** Once the local part settles: close it, tell the tabs still working, keep their record, post the share. */
  private async finishLocal(round: LocalRound): Promise<void> {
    const { collector, announcement: a } = round;
    const settlement = await collector.settled;
    const reason = settlement === 'deadline' ? 'the deadline passed' : 'the round is over';
    for (const tab of collector.close(reason)) this.options.cancel(tab, { runId: a.runId, round: a.round, reason });
    if (this.local === round) this.local = null;
    for (const tab of round.sentAt.keys()) this.options.registry.recordOutcome(tab, collector.answered(tab));
    if (this.closed) return;
    const share = round.config.secureAggregation ? await this.secureShare(round) : collector.share();
    if (this.closed) return;
    const { partial, ...meta } = share;
    this.options.logger.debug(
      `round ${a.round}.${a.attempt} here: ${settlement}; ${meta.participants?.length ?? meta.results.length} updates, ${meta.failures.length} failures`,
    );
    await this.partials
      .post({ runId: a.runId, round: a.round, attempt: a.attempt, epoch: a.epoch }, this.hubId, partial, JSON.stringify(meta))
      .catch((error: unknown) => this.options.logger.error({ err: error }, `cannot post this hub's share of round ${a.round}`));
  }

  /**
   * A secure aggregation run: this hub's tabs that finished form one group, and what leaves the hub is the group's
   * decoded figures (its weighted sum, total weight, loss and evaluation), never a tab's own (scale-out.md §4.6).
   */
  private async secureShare(round: LocalRound): Promise<RoundShare> {
    const { collector, announcement: a, config } = round;
    const clear = collector.share();
    const terms = config.secureAggregation!;
    const length = federatedLength(config.model, config.algorithm);
    const group = await secureGroup({
      runId: a.runId,
      round: a.round,
      attempt: a.attempt,
      modelVersion: a.modelVersion,
      length,
      terms,
      // The run's minimum is the round's, over every hub: a group needs only enough tabs to hide each one.
      minParticipants: 0,
      metric: metricOf(config),
      finished: collector.ready,
      ask: this.options.secAgg,
      cancel: (participantId, reason) => this.options.cancel(participantId, { runId: a.runId, round: a.round, reason }),
    });
    const failures = [...clear.failures, ...group.failures];
    const heldOut = clear.evaluations.filter((e) => e.heldOut);
    if (!group.ok) {
      const failed = new Set(failures.map((f) => f.participantId));
      for (const id of collector.ready) if (!failed.has(id)) failures.push({ participantId: id, reason: group.reason });
      return {
        partial: { sum: new Float64Array(length), weight: 0, count: 0 },
        results: [],
        evaluations: heldOut,
        failures,
        bytesUp: clear.bytesUp,
        participants: [],
        ...(group.report ? { secure: group.report } : {}),
      };
    }
    const { figures } = group;
    const name = `secure group of ${this.hubId}`;
    return {
      partial: { sum: Float64Array.from(figures.mean, (v) => v * figures.totalWeight), weight: figures.totalWeight, count: 1 },
      results: [{ participantId: name, numExamples: figures.totalWeight, metrics: { loss: figures.loss } }],
      evaluations: [
        ...heldOut,
        ...(figures.global !== null && figures.personalized !== null
          ? [
              {
                participantId: name,
                numExamples: figures.testWeight,
                metrics: { before: figures.global, after: figures.personalized },
                heldOut: false,
              },
            ]
          : []),
      ],
      failures,
      bytesUp: clear.bytesUp + group.bytesUp,
      participants: [...group.survivors],
      secure: group.report,
    };
  }

  /** Leaves the cluster: no more beats (the key is deleted), the lease released, the open local round abandoned. */
  async close(options: { release?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.directoryTimer) clearInterval(this.directoryTimer);
    if (this.peersTimer) clearInterval(this.peersTimer);
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.local?.collector.close('the hub is shutting down');
    await this.lease.stop(options).catch(() => undefined);
    await this.heartbeat.stop({ forget: true }).catch(() => undefined);
    await this.redis.del(this.key(`tabs:${this.hubId}`)).catch(() => undefined);
    this.listening.disconnect();
    this.gathering.disconnect();
    await this.reading;
    for (const connection of [this.redis, this.subscriber, this.leaseConnection]) await connection.quit().catch(() => undefined);
  }
}

function metricOf(config: RunConfig): 'accuracy' | 'mse' {
  return config.model.task === 'regression' ? 'mse' : 'accuracy';
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
