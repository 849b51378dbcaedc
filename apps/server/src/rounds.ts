import {
  MAX_EXAMPLES_PER_REPORT,
  PROTOCOL_VERSION,
  RoundCollector,
  encodeFrame,
  evaluatesIn,
  initialWeights,
  parameterCount,
  roundTask,
  strategyFor,
  type RoundSummary,
  type RoundTask,
  type RunConfig,
  type RunSummary,
  type Strategy,
  type UpdateReceipt,
  type Ack,
} from '@tabula/core';
import type { RegistryEntry } from './registry.js';
import { isStorageFailure, type Store } from './store.js';

/** What the round loop needs from the hub around it; tests and the hub provide these. */
export interface RoundLoopDeps {
  readonly store: Store;
  /** Connected participants whose data fits this run's model. */
  eligible(config: RunConfig): RegistryEntry[];
  /** Sends one task with the weights frame; false when the participant is no longer connected. */
  send(participantId: string, task: RoundTask, frame: Uint8Array): boolean;
  onRound(summary: RoundSummary): void;
  onRun(summary: RunSummary): void;
  onLatency(participantId: string, round: number, latencyMs: number): void;
  /** A round closed: each participant it sent work to answered it, or let it pass (reliability record). */
  onOutcome(participantId: string, answered: boolean): void;
  now(): number;
  log(line: string): void;
}

/** How long the loop sleeps between checks while waiting for participants. */
const POLL_MS = 100;
/** Attempts per round, since the run started or resumed, before it fails (each is recorded with its reason). */
export const MAX_ROUND_ATTEMPTS = 3;
/**
 * A participant that let this many selections in a row pass is skipped while enough others are ready: silent
 * participants (a tab that froze, or sybils that never answer) would otherwise stretch every round to its deadline.
 */
export const SKIP_AFTER_MISSES = 3;
/** Pause before retrying a failed round, so a transient problem (tabs reloading) can clear. */
const RETRY_DELAY_MS = 1000;

/**
 * One run's state and its round loop: configure -> send -> collect with deadline -> aggregate -> persist ->
 * broadcast, as one readable function (`loop`). Updates arrive through `submitUpdate`/`submitEvaluation`
 * while a round is open; the open round's RoundCollector validates them where they arrive.
 */
export class RunController {
  readonly strategy: Strategy;
  readonly length: number;
  private global: Float32Array;
  private completed: number;
  private collector: RoundCollector | null = null;
  private sentAt = new Map<string, number>();
  private stopReason: string | null = null;
  /** Set when the hub shuts down: the loop exits without touching the store, so the run resumes later. */
  private detached = false;
  private wake: (() => void) | null = null;
  private finished: Promise<RunSummary> | null = null;

  constructor(
    private run: RunSummary,
    private readonly deps: RoundLoopDeps,
  ) {
    const config = run.config;
    this.length = parameterCount(config.model);
    this.strategy = strategyFor(config);
    const checkpoint = deps.store.latestCheckpoint(run.id);
    if (checkpoint) {
      if (checkpoint.weights.length !== this.length) throw new Error(`run ${run.id}: checkpoint has ${checkpoint.weights.length} weights, the model ${this.length}`);
      this.global = checkpoint.weights;
      this.strategy.setState(checkpoint.strategyState);
      this.completed = checkpoint.round;
    } else {
      this.global = initialWeights(config.model, config.seed);
      this.completed = 0;
    }
  }

  get id(): string {
    return this.run.id;
  }
  get summary(): RunSummary {
    return this.run;
  }
  get config(): RunConfig {
    return this.run.config;
  }
  /** The current global weights (a copy is not made: callers must not mutate). */
  get weights(): Float32Array {
    return this.global;
  }
  /** The model version is the number of completed rounds. */
  get modelVersion(): number {
    return this.completed;
  }
  get openRound(): number | null {
    return this.collector ? this.completed + 1 : null;
  }

  /**
   * Starts the loop once; resolves with the final run summary. A storage failure (a full disk) pauses the run:
   * the round being saved is lost, every earlier one is kept, and an admin resumes it at that round.
   */
  start(): Promise<RunSummary> {
    this.finished ??= this.loop().catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (!isStorageFailure(error)) return this.finish('failed', `internal error: ${message}`);
      const done = this.completed;
      const saved = done === 0 ? 'no round was saved yet' : done === 1 ? 'round 1 is saved' : `rounds 1-${done} are saved`;
      return this.finish('paused', `storage failure in round ${done + 1}: ${message}; ${saved}: free space, then resume the run`);
    });
    return this.finished;
  }

  /** Asks the loop to stop after closing the open round; resolves when it has. */
  stop(reason = 'stopped by an admin'): Promise<RunSummary> {
    this.stopReason ??= reason;
    this.collector?.close(reason);
    this.wake?.();
    return this.start();
  }

  /** The hub is closing: leave the loop at its next step and write nothing more (the run stays 'running'). */
  detach(): void {
    this.detached = true;
    this.collector?.close('the hub is shutting down');
    this.collector = null;
    this.wake?.();
  }

  submitUpdate(participantId: string, meta: unknown, frame: unknown): Ack<UpdateReceipt> {
    const collector = this.collector;
    if (!collector) return { ok: false, error: `no round of run ${this.run.id} is open (${this.completed} of ${this.config.rounds} completed)` };
    const ack = collector.submitUpdate(participantId, meta, frame);
    if (ack.ok) this.answered(participantId, collector);
    return ack;
  }

  submitEvaluation(participantId: string, report: unknown): Ack<UpdateReceipt> {
    const collector = this.collector;
    if (!collector) return { ok: false, error: `no round of run ${this.run.id} is open` };
    const ack = collector.submitEvaluation(participantId, report);
    if (ack.ok) this.answered(participantId, collector);
    return ack;
  }

  /** A participant disconnected or reported an error: the open round stops waiting for it. */
  participantFailed(participantId: string, reason: string): void {
    if (!this.collector) return;
    this.collector.fail(participantId, reason);
    if (this.collector.complete) this.wake?.();
  }

  private answered(participantId: string, collector: RoundCollector): void {
    const sent = this.sentAt.get(participantId);
    if (sent !== undefined) this.deps.onLatency(participantId, this.completed + 1, this.deps.now() - sent);
    if (collector.complete) this.wake?.();
  }

  private async loop(): Promise<RunSummary> {
    const { deps } = this;
    const config = this.config;
    // After a restart, attempts of the next round that already failed stay on record: continue their count.
    let attempt = 1 + Math.max(0, ...deps.store.listRounds(this.run.id).filter((r) => r.round === this.completed + 1).map((r) => r.attempt));
    // A resumed run gets a round's full attempts again, whatever attempt number the record is at.
    let tries = 1;
    while (this.completed < config.rounds) {
      if (this.detached) return this.run;
      if (this.stopReason) return this.finish('stopped', this.stopReason);
      const round = this.completed + 1;
      const startedAt = deps.now();

      // 1. Wait until enough participants are ready, or give up on this attempt.
      const minimum = config.minParticipants;
      const waitUntil = startedAt + config.waitForParticipantsMs;
      let ready = this.ready();
      while (ready.trainers.length < minimum && deps.now() < waitUntil && !this.stopReason) {
        await this.sleep(Math.min(POLL_MS, waitUntil - deps.now()));
        ready = this.ready();
      }
      if (this.stopReason || this.detached) continue;
      let failure: string | null = null;
      let summary: RoundSummary;
      if (ready.trainers.length < minimum) {
        failure = `only ${ready.trainers.length} of the required ${minimum} participants were ready after ${Math.round(config.waitForParticipantsMs / 1000)} s`;
        summary = this.failedSummary(round, attempt, startedAt, failure);
      } else {
        // 2. Configure and send: each selected participant gets the global weights once, as one frame.
        const trainers = this.strategy.configureFit(round, ready.trainers.map((e) => e.id));
        const evaluators = evaluatesIn(config, round) ? ready.heldOut.map((e) => e.id) : [];
        const deadline = deps.now() + config.roundDeadlineMs;
        const collector = new RoundCollector({
          runId: this.run.id,
          round,
          modelVersion: this.completed,
          length: this.length,
          trainers,
          evaluators,
          strategy: this.strategy,
          deadline,
          maxExamples: MAX_EXAMPLES_PER_REPORT,
          metric: config.model.task === 'regression' ? 'mse' : 'accuracy',
          ...(config.maxUpdateNorm !== undefined ? { maxUpdateNorm: config.maxUpdateNorm } : {}),
          now: deps.now,
        });
        this.collector = collector;
        this.sentAt.clear();
        const frame = encodeFrame({ kind: 'weights', protocolVersion: PROTOCOL_VERSION, runId: this.run.id, round, modelVersion: this.completed, dtype: 'float32', values: this.global });
        let bytesDown = 0;
        for (const [id, mode] of [...trainers.map((id) => [id, 'fit'] as const), ...evaluators.map((id) => [id, 'evaluate'] as const)]) {
          const task = roundTask(config, { runId: this.run.id, round, modelVersion: this.completed, deadline }, id, mode);
          this.sentAt.set(id, deps.now());
          if (deps.send(id, task, frame)) bytesDown += frame.byteLength;
          else collector.fail(id, 'not connected when the round started');
        }

        // 3. Collect until everyone answered or the deadline passed.
        while (!collector.complete && deps.now() < deadline && !this.stopReason && !this.detached) {
          await this.sleep(Math.min(POLL_MS * 10, deadline - deps.now()));
        }
        if (this.detached) return this.run;
        const timedOut = !collector.complete;
        collector.close(this.stopReason ?? 'the deadline passed');
        this.collector = null;
        // An admin's stop is not the participants' fault: only rounds that ran their course count.
        if (!this.stopReason) for (const id of this.sentAt.keys()) deps.onOutcome(id, collector.answered(id));

        // 4. Aggregate, if enough valid updates arrived.
        if (this.stopReason && collector.fits.length < minimum) continue;
        if (collector.fits.length < minimum) {
          failure = `only ${collector.fits.length} valid updates of the required ${minimum}${timedOut ? ` by the ${Math.round(config.roundDeadlineMs / 1000)} s deadline` : ''}`;
        }
        const next = failure ? null : this.strategy.aggregateFit(round, this.global, collector.accumulator, collector.fits, collector.failures);
        if (!failure && (!next || !next.every(Number.isFinite))) failure = 'aggregation produced no finite weights; the previous model is kept';
        summary = {
          runId: this.run.id,
          round,
          attempt,
          status: failure ? 'failed' : 'completed',
          reason: failure,
          startedAt,
          durationMs: deps.now() - startedAt,
          participants: collector.fits.map((f) => f.participantId),
          failures: collector.failures,
          metrics: collector.metrics(),
          bytesUp: collector.bytesUp,
          bytesDown,
        };
        // 5. Persist the round and its checkpoint in one transaction, then adopt the new weights.
        if (!failure && next) {
          deps.store.recordRound(summary, { round, weights: next, strategyState: this.strategy.getState() });
          this.global = next;
          this.completed = round;
          attempt = 1;
          tries = 1;
          this.run = deps.store.getRun(this.run.id) ?? this.run;
          // 6. Broadcast.
          deps.onRound(summary);
          deps.onRun(this.run);
          continue;
        }
      }
      deps.store.recordRound(summary);
      deps.onRound(summary);
      deps.log(`run ${this.run.id} round ${round} attempt ${attempt} failed: ${failure}`);
      if (tries >= MAX_ROUND_ATTEMPTS) return this.finish('failed', `round ${round} failed ${tries} times; last: ${failure}`);
      attempt++;
      tries++;
      await this.sleep(RETRY_DELAY_MS);
    }
    if (this.stopReason) return this.finish('stopped', this.stopReason);
    return this.finish('completed', null);
  }

  private ready(): { trainers: RegistryEntry[]; heldOut: RegistryEntry[] } {
    const eligible = this.deps.eligible(this.config).filter((e) => e.examples > 0);
    const trainers = eligible.filter((e) => !e.heldOut);
    // Prefer participants that answered their last selection (or were never selected), then any that did not let
    // SKIP_AFTER_MISSES pass in a row, as long as enough of them are ready; otherwise everyone.
    const needed = Math.max(this.config.minParticipants, this.config.perRound ?? 0);
    const answeredLast = trainers.filter((e) => e.missStreak === 0);
    const notSkipped = trainers.filter((e) => e.missStreak < SKIP_AFTER_MISSES);
    const preferred = answeredLast.length >= needed ? answeredLast : notSkipped.length >= needed ? notSkipped : trainers;
    return { trainers: preferred, heldOut: eligible.filter((e) => e.heldOut && e.missStreak < SKIP_AFTER_MISSES) };
  }

  /** An attempt that never sent anything (too few participants were ready). */
  private failedSummary(round: number, attempt: number, startedAt: number, reason: string): RoundSummary {
    const none = { loss: null, global: null, personalized: null, heldOutGlobal: null, heldOutPersonalized: null };
    return { runId: this.run.id, round, attempt, status: 'failed', reason, startedAt, durationMs: this.deps.now() - startedAt, participants: [], failures: [], metrics: none, bytesUp: 0, bytesDown: 0 };
  }

  private finish(status: RunSummary['status'], error: string | null): RunSummary {
    if (this.detached) return this.run;
    this.collector?.close(error ?? status);
    this.collector = null;
    const updatedAt = this.deps.now();
    try {
      this.run = this.deps.store.updateRun(this.run.id, { status, error, updatedAt });
    } catch (e) {
      if (!isStorageFailure(e)) throw e;
      // Dashboards still learn the outcome; the store keeps 'running', so a restart resumes at the last checkpoint.
      this.deps.log(`run ${this.run.id}: cannot store its status ${status}: ${e instanceof Error ? e.message : String(e)}`);
      this.run = { ...this.run, status, error, updatedAt };
    }
    this.deps.onRun(this.run);
    return this.run;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
