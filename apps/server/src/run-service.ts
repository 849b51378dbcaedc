import { randomBytes } from 'node:crypto';
import {
  RunConfigSchema,
  completeRunConfig,
  federatedLength,
  parseOrError,
  type AckErrorCode,
  type AdminSnapshot,
  type ParticipantInfo,
  type RoundCancel,
  type RoundSummary,
  type RoundTask,
  type RunConfig,
  type RunSummary,
  type SecAggAsk,
} from '@tabula/core';
import type { Logger } from './logger.js';
import type { Registry } from './registry.js';
import { RunController } from './run-controller.js';
import type { ShardAssigner } from './shard-assigner.js';
import { fencedStore, type AsyncStore } from './async-store.js';
import type { HubCluster } from './hub-cluster.js';
import { isStorageFailure } from './store.js';

/** Every hub operation answers with this: the data, or a code (HTTP maps it to a status once) and a sentence. */
export type Outcome<T> = { ok: true; data: T } | { ok: false; code: AckErrorCode; error: string };

export interface CurrentModel {
  readonly config: RunConfig;
  readonly weights: Float32Array;
  readonly modelVersion: number;
  readonly runId: string;
}

export interface RunServiceDeps {
  readonly store: AsyncStore;
  readonly registry: Registry;
  readonly shards: ShardAssigner;
  /** Largest model a run may use (it sized the socket message limit). */
  readonly maxParameters: number;
  /** Sends one round's task with the weights frame; false when the participant is not connected. */
  send(participantId: string, task: RoundTask, frame: Uint8Array): boolean;
  /** Tells a participant its round was abandoned (the run stopped, or it missed the deadline). */
  cancel(participantId: string, notice: RoundCancel): void;
  /** Asks a participant a secure aggregation stage's question, with its bounded wait. */
  readonly secAgg: SecAggAsk;
  /** Tells dashboards. */
  readonly broadcast: { run(run: RunSummary): void; round(round: RoundSummary): void; state(): void };
  readonly logger: Logger;
  readonly now: () => number;
  /**
   * One of several hubs (design/scale-out.md): runs live in the shared store, and only the hub holding the coordinator
   * lease runs one; starts and stops at any hub reach it through the store and Redis.
   */
  readonly cluster?: HubCluster;
}

/** How often a coordinator without a run looks for one started at another hub. */
const ADOPT_EVERY_MS = 500;

/**
 * Runs: start, stop, resume, delete, and the one that is running (one at a time). Owns the run controller; the
 * sockets and the HTTP API only call these and map the outcome.
 */
export class RunService {
  private controller: RunController | null = null;
  /** The hub is closing: a start or resume still reading the store launches nothing (the run stays 'running'). */
  private detached = false;
  /** Starting, resuming and deleting take turns: each checks the running run, then awaits the store. */
  private turn: Promise<unknown> = Promise.resolve();
  /** Several hubs: the epoch this hub coordinates under, and what it runs meanwhile. */
  private coordinating: { epoch: number; stop(): void } | null = null;

  constructor(private readonly deps: RunServiceDeps) {}

  /**
   * Several hubs: seek the coordinator lease; while held, run the newest running run of the shared store (one started
   * at any hub), and stop it when any hub asks. Losing the lease leaves the run to the next coordinator.
   */
  joinCluster(cluster: HubCluster): void {
    cluster.onStopRequest((runId, reason) => {
      if (this.controller?.id === runId) void this.controller.stop(reason);
    });
    cluster.coordinate({
      acquired: (epoch) => {
        this.coordinating?.stop();
        const stopWatching = cluster.watchDirectory();
        const timer = setInterval(() => {
          if (!this.controller && !this.detached) void this.resumeAfterRestart();
        }, ADOPT_EVERY_MS);
        this.coordinating = {
          epoch,
          stop: () => {
            stopWatching();
            clearInterval(timer);
          },
        };
        void this.resumeAfterRestart();
      },
      lost: () => {
        this.coordinating?.stop();
        this.coordinating = null;
        const running = this.controller;
        this.controller = null;
        running?.detach();
      },
    });
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.turn.then(work);
    this.turn = result.catch(() => undefined);
    return result;
  }

  /** The running run's controller, if any. */
  get active(): RunController | null {
    return this.controller;
  }

  start(input: unknown): Promise<Outcome<RunSummary>> {
    return this.exclusive(() => this.startNow(input));
  }

  private async startNow(input: unknown): Promise<Outcome<RunSummary>> {
    const parsed = parseOrError(RunConfigSchema, completeRunConfig(input));
    if (!parsed.ok) return { ok: false, code: 'invalid', error: parsed.error };
    const config = parsed.data;
    // A Meta-SGD run federates a learned rate per weight too: its frames carry twice the model's parameters.
    const parameters = federatedLength(config.model, config.algorithm);
    if (parameters > this.deps.maxParameters)
      return {
        ok: false,
        code: 'invalid',
        error: `model: ${parameters} federated values exceed this hub's limit of ${this.deps.maxParameters}`,
      };
    if (this.controller) return { ok: false, code: 'conflict', error: `run ${this.controller.id} is in progress: stop it first` };
    const { store, now, cluster } = this.deps;
    if (cluster) {
      if (config.aggregation.kind !== 'fedavg' || config.privacy)
        return {
          ok: false,
          code: 'invalid',
          error:
            'several hubs add their tabs’ updates as partial sums, so a run across hubs is FedAvg (secure aggregation runs per hub): robust aggregation needs every delta in one place, and differential privacy across hubs is not supported yet',
        };
      const [other] = await store.runningRuns();
      if (other) return { ok: false, code: 'conflict', error: `run ${other.id} is in progress: stop it first` };
    }
    const id = `run-${now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const run = await store.createRun({ id, config, createdAt: now() });
    // At a hub that does not coordinate, the coordinator finds the run in the shared store within ADOPT_EVERY_MS.
    if (!cluster || this.coordinating) await this.launch(run);
    this.log(`run ${id} started: ${config.algorithm} · ${config.model.kind} · ${config.rounds} rounds`);
    this.deps.broadcast.run(run);
    return { ok: true, data: run };
  }

  async stop(runId: string): Promise<Outcome<RunSummary>> {
    if (!this.controller || this.controller.id !== runId) {
      const run = await this.deps.store.getRun(runId);
      if (run?.status === 'running' && this.deps.cluster) return this.stopElsewhere(run);
      return run
        ? { ok: false, code: 'conflict', error: `run ${runId} is not running (${run.status})` }
        : { ok: false, code: 'not-found', error: `no run ${runId}` };
    }
    return { ok: true, data: await this.controller.stop() };
  }

  /** Another hub coordinates the run: ask it through Redis, and answer once the store says the run ended. */
  private async stopElsewhere(run: RunSummary): Promise<Outcome<RunSummary>> {
    const { store, cluster } = this.deps;
    await cluster!.requestStop(run.id, 'stopped by an admin');
    const until = Date.now() + run.config.roundDeadlineMs + 15_000;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const now = await store.getRun(run.id);
      if (now && now.status !== 'running') return { ok: true, data: now };
    }
    return { ok: false, code: 'unavailable', error: `no coordinator stopped run ${run.id} in time: is a hub coordinating?` };
  }

  /**
   * Continues a paused or failed run from its last checkpoint (from round 1 when it has none), while no other run
   * is in progress. A refusal changes nothing.
   */
  resume(runId: string): Promise<Outcome<RunSummary>> {
    return this.exclusive(() => this.resumeNow(runId));
  }

  private async resumeNow(runId: string): Promise<Outcome<RunSummary>> {
    const { store, now } = this.deps;
    const run = await store.getRun(runId);
    if (!run) return { ok: false, code: 'not-found', error: `no run ${runId}` };
    if (this.controller)
      return {
        ok: false,
        code: 'conflict',
        error: this.controller.id === runId ? `run ${runId} is already running` : `run ${this.controller.id} is in progress: stop it first`,
      };
    if (run.status === 'completed' || run.status === 'stopped')
      return { ok: false, code: 'conflict', error: `run ${runId} is ${run.status}: only a paused or failed run can be resumed` };
    const valid = parseOrError(RunConfigSchema, run.config);
    if (!valid.ok)
      return { ok: false, code: 'conflict', error: `cannot resume run ${runId}: its stored config is not valid any more: ${valid.error}` };
    let resumed: RunSummary;
    try {
      resumed = await store.updateRun(runId, { status: 'running', error: null, updatedAt: now() });
    } catch (error) {
      if (!isStorageFailure(error)) throw error;
      return {
        ok: false,
        code: 'unavailable',
        error: `cannot resume run ${runId}: the store cannot be written (${(error as Error).message})`,
      };
    }
    try {
      // At a hub that does not coordinate, the coordinator reads the checkpoint when it adopts the run.
      if (!this.deps.cluster || this.coordinating) await this.launch(resumed); // reads and verifies the last checkpoint
    } catch (error) {
      await store.updateRun(runId, { status: run.status, error: run.error, updatedAt: run.updatedAt });
      return {
        ok: false,
        code: 'conflict',
        error: `cannot resume run ${runId}: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    this.log(`run ${runId} resumed after round ${this.active?.modelVersion ?? 0} of ${run.config.rounds}`);
    this.deps.broadcast.run(resumed);
    return { ok: true, data: resumed };
  }

  /** Forgets a finished run with its rounds and checkpoints; the running one must be stopped first. */
  delete(runId: string): Promise<Outcome<null>> {
    return this.exclusive(() => this.deleteNow(runId));
  }

  private async deleteNow(runId: string): Promise<Outcome<null>> {
    // With several hubs the run may be in progress at the coordinator, not here: the shared store says so.
    const inProgress = this.controller?.id === runId || (this.deps.cluster && (await this.deps.store.getRun(runId))?.status === 'running');
    if (inProgress) return { ok: false, code: 'conflict', error: `run ${runId} is in progress: stop it first` };
    if (!(await this.deps.store.deleteRun(runId))) return { ok: false, code: 'not-found', error: `no run ${runId}` };
    this.log(`run ${runId} deleted`);
    this.deps.broadcast.state();
    return { ok: true, data: null };
  }

  /** The global weights a client would download now: the running run's, or the newest checkpoint. */
  async currentModel(): Promise<CurrentModel | null> {
    const c = this.controller;
    if (c) return { config: c.config, weights: c.weights, modelVersion: c.modelVersion, runId: c.id };
    for (const run of await this.deps.store.listRuns()) {
      const checkpoint = await this.deps.store.latestCheckpoint(run.id);
      if (checkpoint) return { config: run.config, weights: checkpoint.weights, modelVersion: checkpoint.round, runId: run.id };
    }
    return null;
  }

  /** What a dashboard that just connected needs. */
  async snapshot(): Promise<AdminSnapshot> {
    const run = this.controller?.summary ?? (await this.deps.store.latestRun());
    return { participants: await this.participants(), run, rounds: run ? await this.deps.store.listRounds(run.id) : [] };
  }

  /**
   * The participants: with several hubs, this hub's as they are now, and the others' connected ones as their hubs
   * listed them in Redis (within a heartbeat's fifth).
   */
  async participants(): Promise<ParticipantInfo[]> {
    const { cluster, registry } = this.deps;
    if (!cluster) return registry.list();
    const own = registry.list().map((p) => ({ ...p, hub: cluster.hubId }));
    const here = new Set(own.filter((p) => p.connected).map((p) => p.id));
    const elsewhere = (await cluster.participants().catch(() => [])).filter((p) => p.hub !== cluster.hubId && !here.has(p.id));
    const connectedElsewhere = new Set(elsewhere.map((p) => p.id));
    return [...own.filter((p) => p.connected || !connectedElsewhere.has(p.id)), ...elsewhere];
  }

  /**
   * After a restart: the newest running run continues, older ones cannot share the hub. One whose stored config the
   * hub would refuse today (say a scenario it cannot build) or whose checkpoint is corrupt fails with the reason
   * instead: resuming it would refuse every participant, or serve a corrupt model.
   */
  resumeAfterRestart(): Promise<void> {
    return this.exclusive(() => this.resumeAfterRestartNow());
  }

  private async resumeAfterRestartNow(): Promise<void> {
    const { store, now } = this.deps;
    // Several hubs: only the coordinator runs a run, one at a time.
    if (this.controller || (this.deps.cluster && !this.coordinating)) return;
    const running = [];
    for (const run of await store.runningRuns()) {
      const valid = parseOrError(RunConfigSchema, run.config);
      if (valid.ok) running.push(run);
      else
        await store.updateRun(run.id, {
          status: 'failed',
          error: `cannot resume: its stored config is not valid any more: ${valid.error}`,
          updatedAt: now(),
        });
    }
    for (const [i, run] of running.entries()) {
      if (i > 0) {
        await store.updateRun(run.id, {
          status: 'stopped',
          error: `superseded by run ${running[0]!.id} when the hub restarted`,
          updatedAt: now(),
        });
        continue;
      }
      try {
        await this.launch(run);
      } catch (error) {
        const reason = `cannot resume: ${error instanceof Error ? error.message : String(error)}`;
        await store.updateRun(run.id, { status: 'failed', error: reason, updatedAt: now() });
        this.log(`run ${run.id} ${reason}`);
        continue;
      }
      this.log(`run ${run.id} resumes after round ${this.active?.modelVersion ?? 0} of ${run.config.rounds}`);
    }
  }

  /** The hub is closing: the running run stays 'running' in the store and resumes on restart. */
  detach(): void {
    this.detached = true;
    this.coordinating?.stop();
    this.coordinating = null;
    const running = this.controller;
    this.controller = null;
    running?.detach();
  }

  /** Creates the controller (which reads the checkpoint: it may reject), offers shards, starts the loop. */
  private async launch(run: RunSummary): Promise<void> {
    const { registry, shards, cluster } = this.deps;
    const epoch = this.coordinating?.epoch;
    if (cluster && epoch === undefined) throw new Error('only the coordinating hub runs a run');
    const controller: RunController = await RunController.open(run, {
      store: cluster ? fencedStore(this.deps.store, epoch!) : this.deps.store,
      eligible: cluster
        ? (config) => cluster.candidates(config)
        : (config) => registry.connected().filter((e) => e.state !== 'paused' && shards.compatible(e, config)),
      ...(cluster ? { gather: (round) => cluster.gather(round, run.config, epoch!), retryStorage: true } : {}),
      onStale: () => {
        if (this.controller === controller) this.controller = null;
      },
      send: (id, task, frame) => this.deps.send(id, task, frame),
      cancel: (id, notice) => this.deps.cancel(id, notice),
      secAgg: this.deps.secAgg,
      onRound: (summary) => {
        this.deps.broadcast.round(summary);
        this.log(roundLine(summary, run.config));
      },
      onRun: (summary) => {
        this.deps.broadcast.run(summary);
        if (summary.status === 'running') return;
        this.log(`run ${summary.id} ${summary.status}${summary.error ? `: ${summary.error}` : ''}`);
        if (this.controller?.id === summary.id) this.controller = null;
      },
      onLatency: (id, round, latencyMs) => registry.update(id, { lastRound: round, lastLatencyMs: latencyMs }),
      onOutcome: (id, answered) => registry.recordOutcome(id, answered),
      now: this.deps.now,
      log: (line) => this.log(line),
    });
    if (this.detached || (cluster && this.coordinating?.epoch !== epoch)) return;
    this.controller = controller;
    if (run.config.scenario) shards.offer(registry.connected(), run.config.scenario);
    if (cluster) void cluster.announceRun(run.config);
    void controller.start();
  }

  private log(line: string): void {
    this.deps.logger.info(line);
  }
}

/** The CLI's line per round. */
function roundLine(summary: RoundSummary, config: RunConfig): string {
  // A secure round's answers per stage, e.g. "secure 6/6 6/6 5/6 5/5": who dropped out, and where.
  const secure = summary.secureAggregation
    ? ` · secure ${summary.secureAggregation.stages.map((s) => `${s.answered}/${s.asked}`).join(' ')}`
    : '';
  if (summary.status !== 'completed')
    return `round ${summary.round}/${config.rounds} attempt ${summary.attempt} failed: ${summary.reason}${secure}`;
  const m = summary.metrics;
  const figure = (x: number | null) => (x === null ? '-' : config.model.task === 'regression' ? x.toFixed(3) : `${(100 * x).toFixed(1)}%`);
  return `round ${summary.round}/${config.rounds} · ${summary.participants.length} participants · loss ${m.loss?.toFixed(3) ?? '-'} · global ${figure(m.global)} · personalized ${figure(m.personalized)} · ${(summary.durationMs / 1000).toFixed(1)} s${summary.privacy ? ` · ε ${summary.privacy.epsilon.toFixed(3)}` : ''}${secure}`;
}
