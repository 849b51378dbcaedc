import { samplingRateFor } from '../aggregate/dp-fedavg.js';
import { FitBatch, type FitFailure, type Strategy, type StrategyState } from '../aggregate/index.js';
import { PrivacyLedger } from '../privacy/ledger.js';
import {
  MAX_EXAMPLES_PER_REPORT,
  PROTOCOL_VERSION,
  type Ack,
  type RoundMetrics,
  type RoundPrivacy,
  type RoundSummary,
  type SecureRoundReport,
  type RoundTask,
  type RunConfig,
  type ServerToClientEvents,
  type UpdateReceipt,
} from '../protocol.js';
import { secureGroup } from '../secagg/secure-group.js';
import type { SecAggAsk } from '../secagg/secure-round.js';
import { encodeFrame } from '../wire/index.js';
import { sleep, type Clock } from './clock.js';
import { RoundCollector, type RoundSettlement } from './round-collector.js';
import { combineShares, roundMetrics, type RoundShare } from './round-share.js';
import { roundTask, type RoundAddress } from './round-task.js';

/** Attempts per round, since the run started or resumed, before it fails (each is recorded with its reason). */
export const MAX_ROUND_ATTEMPTS = 3;
/**
 * A participant that let this many selections in a row pass is skipped while enough others are ready: silent
 * participants (a tab that froze, or sybils that never answer) would otherwise stretch every round to its deadline.
 */
export const SKIP_AFTER_MISSES = 3;
/** How often the engine looks again while too few participants are ready (the registry sends no events). */
const POLL_MS = 100;
/** Pause before retrying a failed round, so a transient problem (tabs reloading) can clear. */
const RETRY_DELAY_MS = 1000;
/** Why a differentially private run completed before its last round. */
export const PRIVACY_BUDGET_REACHED = 'privacy budget reached';

/** A participant ready to take part, with its record: selections in a row it let pass. */
export interface Candidate {
  readonly id: string;
  readonly heldOut: boolean;
  readonly missStreak: number;
}

/** What a completed round leaves to resume from. */
export interface RoundCheckpoint {
  readonly round: number;
  readonly weights: Float32Array;
  readonly strategyState: StrategyState;
}

/** Why a participant's round was abandoned: the hub stopped the run, or the participant missed the deadline. */
export type RoundCancel = Parameters<ServerToClientEvents['round:cancel']>[0];

/** What the engine needs from around it: the hub (sockets, registry, SQLite) or the simulation (function calls). */
export interface RoundEngineHost {
  readonly clock: Clock;
  /** Participants connected now whose data fits this run. */
  candidates(): readonly Candidate[];
  /** Sends one task with the weights frame; false when the participant is no longer there. */
  send(participantId: string, task: RoundTask, frame: Uint8Array): boolean;
  cancel(participantId: string, notice: RoundCancel): void;
  /**
   * Persists an attempt; a completed one with its checkpoint, in one transaction (awaited: a hub's store may be a
   * database server). A throw or rejection (a full disk) ends the run with that error, before the engine adopts the
   * round's weights.
   */
  record(summary: RoundSummary, checkpoint?: RoundCheckpoint): void | Promise<void>;
  /** An attempt was recorded (and, if it completed, its weights adopted): tell whoever watches. */
  onRound(summary: RoundSummary): void;
  onLatency(participantId: string, round: number, latencyMs: number): void;
  /** A round closed: each participant it sent work to answered it, or let it pass (reliability record). */
  onOutcome(participantId: string, answered: boolean): void;
  log(line: string): void;
  /** Asks a participant a secure aggregation stage's question (a run with secureAggregation needs it). */
  readonly secAgg?: SecAggAsk;
  /**
   * Several hubs (design/scale-out.md §4.2): the round's tabs are on other hubs, so instead of sending and collecting
   * here, the engine hands the round to this and waits for the hubs' shares. Plain FedAvg only: the shares are sums.
   */
  gather?(round: RoundGathering): Promise<GatheredRound>;
}

/** A round handed to the hubs that hold its tabs. */
export interface RoundGathering {
  readonly address: RoundAddress;
  readonly attempt: number;
  readonly trainers: readonly string[];
  readonly evaluators: readonly string[];
  /** The global weights as the frame every selected tab gets. */
  readonly frame: Uint8Array;
  /** Aborted when the run stops (the hubs close the round and send what arrived) or the hub detaches. */
  readonly signal: AbortSignal;
}

/** What the hubs sent back: their shares in the order to add them (sorted by hub), and the tabs no hub answered for. */
export interface GatheredRound {
  readonly settlement: RoundSettlement;
  readonly shares: readonly RoundShare[];
  readonly failures: readonly FitFailure[];
  readonly bytesDown: number;
}

/** A round's answers, wherever they were collected: the engine aggregates and records these. */
interface Collected {
  readonly settlement: RoundSettlement;
  /** Whose updates are in the round's fits (with several hubs' secure groups, more tabs than fits). */
  readonly participants: readonly string[];
  readonly secure?: SecureRoundReport;
  readonly failures: readonly FitFailure[];
  readonly metrics: RoundMetrics;
  readonly bytesUp: number;
  readonly bytesDown: number;
}

export interface RoundEngineOptions {
  readonly runId: string;
  readonly config: RunConfig;
  /** Restored from the checkpoint when the run resumes. */
  readonly strategy: Strategy;
  /** The global weights after `completed` rounds. */
  readonly weights: Float32Array;
  readonly completed: number;
  readonly host: RoundEngineHost;
  /** Default `config.roundDeadlineMs`; Infinity waits for every answer (the simulation's in-process participants). */
  readonly roundDeadlineMs?: number;
  /** Default 1 s. */
  readonly retryDelayMs?: number;
  /** A differentially private run that resumes: the sampling rate of each round it completed, for its accountant. */
  readonly privacyHistory?: readonly number[];
}

/** How `run` ended. 'detached': the hub is shutting down and nothing was written; the run resumes later. */
export type RunEnd =
  | { readonly status: 'completed'; readonly reason?: string }
  | { readonly status: 'stopped' | 'failed'; readonly reason: string }
  | { readonly status: 'detached' };

/** A recorded attempt; `samplingRate` is what a completed DP round commits to the accountant. */
type Attempt = { readonly summary: RoundSummary; readonly next: Float32Array | null; readonly samplingRate?: number };

const NO_METRICS: RoundMetrics = { loss: null, global: null, personalized: null, heldOutGlobal: null, heldOutPersonalized: null };

/**
 * A run's rounds, transport-free, for the hub and the simulation alike: wait for participants -> the strategy
 * picks trainers and evaluators -> send the global weights once, as one frame -> await the collector's `settled`
 * (complete, deadline or closed) -> aggregate -> metrics -> record -> adopt. A failed round is retried up to
 * MAX_ROUND_ATTEMPTS times, each attempt recorded with its reason. Updates reach the open round's collector
 * through `submitUpdate`/`submitEvaluation`.
 */
export class RoundEngine {
  private readonly runId: string;
  private readonly config: RunConfig;
  private readonly strategy: Strategy;
  private readonly host: RoundEngineHost;
  private readonly roundDeadlineMs: number;
  private readonly retryDelayMs: number;
  /** Reset by each round's collector: one accumulator for the whole run. */
  private readonly fits: FitBatch;
  private global: Float32Array;
  private completed: number;
  private collector: RoundCollector | null = null;
  private readonly sentAt = new Map<string, number>();
  private stopReason: string | null = null;
  private detached = false;
  /** Aborted by stop and detach: cuts short whatever the engine is waiting for. */
  private readonly abort = new AbortController();
  /** The accountant of a differentially private run; null otherwise. */
  private readonly ledger: PrivacyLedger | null;

  constructor(options: RoundEngineOptions) {
    this.runId = options.runId;
    this.config = options.config;
    this.strategy = options.strategy;
    this.host = options.host;
    this.global = options.weights;
    this.completed = options.completed;
    this.roundDeadlineMs = options.roundDeadlineMs ?? options.config.roundDeadlineMs;
    this.retryDelayMs = options.retryDelayMs ?? RETRY_DELAY_MS;
    this.fits = new FitBatch(this.strategy.createAccumulator(options.weights.length));
    const privacy = options.config.privacy;
    this.ledger = privacy
      ? new PrivacyLedger({
          noiseMultiplier: privacy.noiseMultiplier,
          delta: privacy.delta,
          ...(privacy.epsilonBudget !== undefined ? { epsilonBudget: privacy.epsilonBudget } : {}),
          committed: options.privacyHistory ?? [],
        })
      : null;
  }

  /** What participants' evaluations measure in this run. */
  private get metric(): 'accuracy' | 'mse' {
    return this.config.model.task === 'regression' ? 'mse' : 'accuracy';
  }

  /** The current global weights (not a copy: callers must not mutate). */
  get weights(): Float32Array {
    return this.global;
  }
  /** The number of completed rounds. */
  get modelVersion(): number {
    return this.completed;
  }
  get openRound(): number | null {
    return this.collector ? this.completed + 1 : null;
  }

  /**
   * Runs the remaining rounds; `firstAttempt` numbers the next round's first attempt (a restarted hub continues the
   * count on record), while the round gets its full MAX_ROUND_ATTEMPTS tries again. Rejects with what `record` threw.
   */
  async run(firstAttempt = 1): Promise<RunEnd> {
    const { host } = this;
    let attempt = firstAttempt;
    let tries = 1;
    while (this.completed < this.config.rounds) {
      if (this.detached) return { status: 'detached' };
      if (this.stopReason) return { status: 'stopped', reason: this.stopReason };
      const round = this.completed + 1;
      const result = await this.attempt(round, attempt);
      if (result === 'budget') return { status: 'completed', reason: PRIVACY_BUDGET_REACHED };
      if (!result) continue;
      const { summary, next } = result;
      if (next) {
        await host.record(summary, { round, weights: next, strategyState: this.strategy.getState() });
        if (result.samplingRate !== undefined) this.ledger?.commit(result.samplingRate);
        this.global = next;
        this.completed = round;
        attempt = 1;
        tries = 1;
        host.onRound(summary);
        continue;
      }
      await host.record(summary);
      host.onRound(summary);
      host.log(`run ${this.runId} round ${round} attempt ${attempt} failed: ${summary.reason}`);
      if (tries >= MAX_ROUND_ATTEMPTS) return { status: 'failed', reason: `round ${round} failed ${tries} times; last: ${summary.reason}` };
      attempt++;
      tries++;
      await sleep(host.clock, this.retryDelayMs, this.abort.signal);
    }
    if (this.detached) return { status: 'detached' };
    return this.stopReason ? { status: 'stopped', reason: this.stopReason } : { status: 'completed' };
  }

  /** Stops after closing the open round, abandoning it for those still working on it (a round with enough updates is kept). */
  stop(reason: string): void {
    this.stopReason ??= reason;
    const collector = this.collector;
    if (collector) this.cancel(collector.close(this.stopReason), this.stopReason);
    this.abort.abort();
  }

  /** The hub is closing: leave at the next step and record nothing more. */
  detach(): void {
    this.detached = true;
    this.collector?.close('the hub is shutting down');
    this.collector = null;
    this.abort.abort();
  }

  submitUpdate(participantId: string, meta: unknown, frame: unknown): Ack<UpdateReceipt> {
    const collector = this.collector;
    if (!collector)
      return {
        ok: false,
        code: 'late',
        error: `no round of run ${this.runId} is open (${this.completed} of ${this.config.rounds} completed)`,
      };
    const ack = collector.submitUpdate(participantId, meta, frame);
    if (ack.ok) this.answered(participantId);
    return ack;
  }

  /** A secure aggregation run's trainer announces its trained update (see RoundCollector.submitReady). */
  submitReady(participantId: string, ready: unknown): Ack<UpdateReceipt> {
    const collector = this.collector;
    if (!collector) return { ok: false, code: 'late', error: `no round of run ${this.runId} is open` };
    const ack = collector.submitReady(participantId, ready);
    if (ack.ok) this.answered(participantId);
    return ack;
  }

  submitEvaluation(participantId: string, report: unknown): Ack<UpdateReceipt> {
    const collector = this.collector;
    if (!collector) return { ok: false, code: 'late', error: `no round of run ${this.runId} is open` };
    const ack = collector.submitEvaluation(participantId, report);
    if (ack.ok) this.answered(participantId);
    return ack;
  }

  /** A participant disconnected or reported an error: the open round stops waiting for it. */
  participantFailed(participantId: string, reason: string): void {
    this.collector?.fail(participantId, reason);
  }

  /**
   * One attempt at `round`; null when a stop or detach abandoned it (nothing to record); 'budget' when a DP run's next
   * round would take ε past its budget (checked before anyone is sampled).
   */
  private async attempt(round: number, attempt: number): Promise<Attempt | null | 'budget'> {
    const { host, config } = this;
    const clock = host.clock;
    const startedAt = clock.now();
    const minimum = config.minParticipants;
    const summary = (
      reason: string | null,
      fields: Pick<RoundSummary, 'participants' | 'failures' | 'metrics' | 'bytesUp' | 'bytesDown'>,
    ): RoundSummary => ({
      runId: this.runId,
      round,
      attempt,
      status: reason ? 'failed' : 'completed',
      reason,
      startedAt,
      durationMs: clock.now() - startedAt,
      ...fields,
    });

    // 1. Wait until enough participants are ready, or give up on this attempt.
    const waitUntil = startedAt + config.waitForParticipantsMs;
    let ready = this.ready();
    while (ready.trainers.length < minimum && clock.now() < waitUntil && !this.stopReason && !this.detached) {
      await sleep(clock, Math.min(POLL_MS, waitUntil - clock.now()), this.abort.signal);
      ready = this.ready();
    }
    if (this.stopReason || this.detached) return null;
    if (ready.trainers.length < minimum) {
      const reason = `only ${ready.trainers.length} of the required ${minimum} participants were ready after ${Math.round(config.waitForParticipantsMs / 1000)} s`;
      return { summary: summary(reason, { participants: [], failures: [], metrics: NO_METRICS, bytesUp: 0, bytesDown: 0 }), next: null };
    }

    // A DP round's sampling rate is known once the pool is: refuse the round if it would exceed the budget.
    const samplingRate = config.privacy ? samplingRateFor(config.privacy, ready.trainers.length) : undefined;
    if (samplingRate !== undefined && this.ledger && !this.ledger.allows(samplingRate)) return 'budget';

    // 2. Configure: the strategy picks; each selected participant gets the global weights once, as one frame.
    const trainers = this.strategy.configureFit(round, ready.trainers);
    const evaluators = this.strategy.configureEvaluate(round, ready.heldOut);
    const deadline = clock.now() + this.roundDeadlineMs;
    const frame = encodeFrame({
      kind: 'weights',
      protocolVersion: PROTOCOL_VERSION,
      runId: this.runId,
      round,
      modelVersion: this.completed,
      dtype: 'float32',
      values: this.global,
    });
    const address: RoundAddress = {
      runId: this.runId,
      round,
      modelVersion: this.completed,
      deadline: Number.isFinite(deadline) ? deadline : Number.MAX_SAFE_INTEGER,
      evaluate: evaluators !== null,
    };

    // 3. Collect: here, or through the hubs that hold the tabs.
    if (host.gather) {
      let gathered: GatheredRound;
      try {
        gathered = await host.gather({ address, attempt, trainers, evaluators: evaluators ?? [], frame, signal: this.abort.signal });
      } catch (error) {
        if (this.detached) return null;
        // The hubs could not be reached (Redis restarting): this attempt fails with the reason, and the round is retried.
        const reason = `the round could not be gathered from the hubs: ${error instanceof Error ? error.message : String(error)}`;
        return { summary: summary(reason, { participants: [], failures: [], metrics: NO_METRICS, bytesUp: 0, bytesDown: 0 }), next: null };
      }
      if (this.detached) return null;
      this.fits.reset();
      const combined = combineShares(this.fits, gathered.shares);
      return this.conclude(round, summary, samplingRate, {
        settlement: gathered.settlement,
        participants: combined.participants,
        ...(combined.secure ? { secure: combined.secure } : {}),
        failures: [...combined.failures, ...gathered.failures],
        metrics: roundMetrics(this.strategy, round, this.fits.results, combined.evaluations),
        bytesUp: combined.bytesUp,
        bytesDown: gathered.bytesDown,
      });
    }
    const collector = new RoundCollector({
      runId: this.runId,
      round,
      modelVersion: this.completed,
      trainers,
      evaluators: evaluators ?? [],
      fits: this.fits,
      strategy: this.strategy,
      deadline,
      maxExamples: MAX_EXAMPLES_PER_REPORT,
      metric: this.metric,
      hideCounts: config.privacy !== undefined,
      secure: config.secureAggregation !== undefined,
      ...(config.maxUpdateNorm !== undefined ? { maxUpdateNorm: config.maxUpdateNorm } : {}),
      clock,
    });
    this.collector = collector;
    this.sentAt.clear();
    try {
      let bytesDown = 0;
      for (const [id, mode] of [
        ...trainers.map((id) => [id, 'fit'] as const),
        ...(evaluators ?? []).map((id) => [id, 'evaluate'] as const),
      ]) {
        this.sentAt.set(id, clock.now());
        if (host.send(id, roundTask(config, address, id, mode), frame)) bytesDown += frame.byteLength;
        else collector.fail(id, 'not connected when the round started');
      }

      // Until everyone answered, the deadline passed, or the run was stopped.
      const settlement = await collector.settled;
      if (this.detached) return null;
      const closing = this.stopReason ?? (settlement === 'deadline' ? 'the deadline passed' : 'the round is over');
      this.cancel(collector.close(closing), closing);
      this.collector = null;
      // An admin's stop is not the participants' fault: only rounds that ran their course count.
      if (!this.stopReason) for (const id of this.sentAt.keys()) host.onOutcome(id, collector.answered(id));

      if (config.secureAggregation) {
        if (this.stopReason) return null;
        const reported = await this.secureReport(round, attempt, collector, bytesDown, summary);
        // The hub began shutting down during the stages: record nothing (the run resumes later).
        return this.detached ? null : reported;
      }
      return this.conclude(round, summary, samplingRate, {
        settlement,
        participants: collector.fits.results.map((f) => f.participantId),
        failures: collector.failures,
        metrics: collector.metrics(),
        bytesUp: collector.bytesUp,
        bytesDown,
      });
    } finally {
      // Only an exception leaves it open: the run ends, so nobody may keep submitting to it.
      if (this.collector === collector) {
        collector.close('the round failed');
        this.collector = null;
      }
    }
  }

  /**
   * 4. Aggregate, if enough valid updates arrived. A DP round aggregates whatever arrived (noise over the expected
   * count), so neither its outcome nor its record depends on how many sampled participants answered; a stopped one is
   * abandoned whatever arrived.
   */
  private conclude(
    round: number,
    summary: (
      reason: string | null,
      fields: Pick<RoundSummary, 'participants' | 'failures' | 'metrics' | 'bytesUp' | 'bytesDown'>,
    ) => RoundSummary,
    samplingRate: number | undefined,
    collected: Collected,
  ): Attempt | null {
    const { config } = this;
    const minimum = config.minParticipants;
    const fits = this.fits;
    const updates = collected.participants.length;
    const dp = samplingRate !== undefined;
    if (this.stopReason && (dp || updates < minimum)) return null;
    let failure: string | null = null;
    if (!dp && updates < minimum) {
      failure = `only ${updates} valid updates of the required ${minimum}${collected.settlement === 'deadline' ? ` by the ${Math.round(config.roundDeadlineMs / 1000)} s deadline` : ''}`;
    }
    const next = failure ? null : this.strategy.aggregateFit(round, this.global, fits, collected.failures);
    if (!failure && (!next || !next.every(Number.isFinite))) failure = 'aggregation produced no finite weights; the previous model is kept';
    const fields = {
      participants: [...collected.participants],
      failures: [...collected.failures],
      metrics: collected.metrics,
      bytesUp: collected.bytesUp,
      bytesDown: collected.bytesDown,
    };
    const secure = collected.secure ? { secureAggregation: collected.secure } : {};
    if (failure || samplingRate === undefined || !this.ledger)
      return { summary: { ...summary(failure, fields), ...secure }, next: failure ? null : next };
    const spent = this.ledger.spentAfter(samplingRate);
    const privacy: RoundPrivacy = { epsilon: spent.epsilon, delta: spent.delta, order: spent.order, samplingRate };
    return { summary: { ...summary(null, fields), privacy }, next, samplingRate };
  }

  /**
   * 4'. The reporting phase of a secure aggregation run (privacy.md §2.3): the trainers that finished mask their
   * updates, the hub unmasks only their sum, and FedAvg takes its mean. Any abort fails the attempt with its reason.
   */
  private async secureReport(
    round: number,
    attempt: number,
    collector: RoundCollector,
    bytesDown: number,
    summary: (
      reason: string | null,
      fields: Pick<RoundSummary, 'participants' | 'failures' | 'metrics' | 'bytesUp' | 'bytesDown'>,
    ) => RoundSummary,
  ): Promise<Attempt> {
    const { config, host } = this;
    const secure = config.secureAggregation!;
    const heldOut = collector.metrics();
    const failures = [...collector.failures];
    const base = { failures, metrics: { ...heldOut, loss: null, global: null, personalized: null }, bytesUp: collector.bytesUp, bytesDown };
    const fail = (reason: string, extra: Partial<RoundSummary> = {}): Attempt => ({
      summary: { ...summary(reason, { participants: [], ...base }), ...extra },
      next: null,
    });
    const group = await secureGroup({
      runId: this.runId,
      round,
      attempt,
      modelVersion: this.completed,
      length: this.global.length,
      terms: secure,
      minParticipants: config.minParticipants,
      metric: this.metric,
      finished: collector.ready,
      ask: host.secAgg,
      cancel: (participantId, reason) => host.cancel(participantId, { runId: this.runId, round, reason }),
    });
    failures.push(...group.failures);
    if (!group.ok) return fail(group.reason, group.report ? { secureAggregation: group.report } : {});
    const { figures } = group;
    const fields = { ...base, participants: [...group.survivors], bytesUp: collector.bytesUp + group.bytesUp };
    const metrics = { ...heldOut, loss: figures.loss, global: figures.global, personalized: figures.personalized };
    // The mean enters the strategy as one update of weight 1: FedAvg's mean of it is itself, exactly.
    this.fits.reset();
    this.fits.add(figures.mean, { participantId: 'secure-aggregate', numExamples: 1, metrics: {} });
    const next = this.strategy.aggregateFit(round, this.global, this.fits, failures);
    const finite = next !== null && next.every(Number.isFinite);
    const reason = finite ? null : 'aggregation produced no finite weights; the previous model is kept';
    return {
      summary: { ...summary(reason, { ...fields, metrics }), secureAggregation: group.report },
      next: finite ? next : null,
    };
  }

  /**
   * Ready trainers and held-out participants. Prefers trainers that answered their last selection (or were never
   * selected), then any that did not let SKIP_AFTER_MISSES pass in a row, as long as enough of them are ready;
   * otherwise everyone.
   */
  private ready(): { trainers: string[]; heldOut: string[] } {
    const candidates = this.host.candidates();
    const trainers = candidates.filter((c) => !c.heldOut);
    const needed = Math.max(this.config.minParticipants, this.config.perRound ?? 0);
    const answeredLast = trainers.filter((c) => c.missStreak === 0);
    const notSkipped = trainers.filter((c) => c.missStreak < SKIP_AFTER_MISSES);
    // A DP run samples from every connected trainer: a pool that shrank by who missed the last round would tell, through
    // q = expected / pool, how many of the secret sample missed it.
    const preferred = this.config.privacy
      ? trainers
      : answeredLast.length >= needed
        ? answeredLast
        : notSkipped.length >= needed
          ? notSkipped
          : trainers;
    return {
      trainers: preferred.map((c) => c.id),
      heldOut: candidates.filter((c) => c.heldOut && c.missStreak < SKIP_AFTER_MISSES).map((c) => c.id),
    };
  }

  private answered(participantId: string): void {
    const sent = this.sentAt.get(participantId);
    if (sent !== undefined) this.host.onLatency(participantId, this.completed + 1, this.host.clock.now() - sent);
  }

  private cancel(participants: readonly string[], reason: string): void {
    const round = this.completed + 1;
    for (const id of participants) this.host.cancel(id, { runId: this.runId, round, reason });
  }
}
