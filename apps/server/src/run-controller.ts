import {
  RoundEngine,
  federatedLength,
  initialFederated,
  strategyFor,
  systemClock,
  type Ack,
  type Candidate,
  type Clock,
  type GatheredRound,
  type RoundCancel,
  type RoundGathering,
  type RoundSummary,
  type RoundTask,
  type RunConfig,
  type RunSummary,
  type SecAggAsk,
  type UpdateReceipt,
} from '@tabula/core';
import { StaleCoordinatorError, type AsyncStore } from './async-store.js';
import { isStorageFailure, type Checkpoint } from './store.js';

/** What a run controller needs from the hub around it; tests and the hub provide these. */
export interface RunControllerDeps {
  readonly store: AsyncStore;
  /** Connected participants whose data fits this run's model (on every hub, when there are several). */
  eligible(config: RunConfig): readonly (Candidate & { readonly examples: number })[];
  /** Sends one task with the weights frame; false when the participant is no longer connected. */
  send(participantId: string, task: RoundTask, frame: Uint8Array): boolean;
  /** Tells a participant its round was abandoned (the run stopped, or it missed the deadline). */
  cancel(participantId: string, notice: RoundCancel): void;
  /** Asks a participant a secure aggregation stage's question, with its bounded wait. */
  readonly secAgg?: SecAggAsk;
  /** Several hubs: the round goes to the hubs that hold its tabs (hub-cluster.ts), instead of `send` here. */
  gather?(round: RoundGathering): Promise<GatheredRound>;
  /** A newer coordinator has written to the run: this hub stops running it, writing nothing more. */
  onStale?(error: StaleCoordinatorError): void;
  /**
   * Several hubs: the shared database is down. Instead of pausing the run for an admin, retry the round's record with
   * backoff (starting no new round meanwhile) until it is written, or this hub stops coordinating.
   */
  readonly retryStorage?: boolean;
  onRound(summary: RoundSummary): void;
  onRun(summary: RunSummary): void;
  onLatency(participantId: string, round: number, latencyMs: number): void;
  /** A round closed: each participant it sent work to answered it, or let it pass (reliability record). */
  onOutcome(participantId: string, answered: boolean): void;
  now(): number;
  /** Deadlines and pauses; default `now` with real timers. */
  readonly clock?: Clock;
  log(line: string): void;
}

/**
 * One run on the hub: the core's RoundEngine over the registry, the sockets and the store. It restores the run from
 * its checkpoint, persists every attempt, tells dashboards, and turns the engine's end into the run's status: a
 * storage failure pauses the run, so an admin resumes it once the disk has room.
 */
export class RunController {
  private readonly engine: RoundEngine;
  /** Set when the hub shuts down: nothing more is written, so the run resumes later. */
  private detached = false;
  private finished: Promise<RunSummary> | null = null;

  /** Reads the run's last checkpoint (it may be corrupt: then this rejects) and what else it resumes from. */
  static async open(run: RunSummary, deps: RunControllerDeps): Promise<RunController> {
    const checkpoint = await deps.store.latestCheckpoint(run.id);
    // A DP run resumes its accountant from the sampling rates of the rounds it completed, up to the checkpoint.
    const resumeAt = checkpoint?.round ?? 0;
    const privacyHistory = run.config.privacy
      ? (await deps.store.listRounds(run.id))
          .filter((r) => r.status === 'completed' && r.round <= resumeAt)
          .map((r) => r.privacy?.samplingRate ?? 1) // none on record: count the round at q = 1, the worst case
      : [];
    return new RunController(run, deps, checkpoint, privacyHistory);
  }

  private constructor(
    private run: RunSummary,
    private readonly deps: RunControllerDeps,
    checkpoint: Checkpoint | null,
    privacyHistory: readonly number[],
  ) {
    const config = run.config;
    const length = federatedLength(config.model, config.algorithm);
    const strategy = strategyFor(config);
    if (checkpoint && checkpoint.weights.length !== length) {
      throw new Error(`run ${run.id}: checkpoint has ${checkpoint.weights.length} weights, the model ${length}`);
    }
    if (checkpoint) strategy.setState(checkpoint.strategyState);
    const resumeAt = checkpoint?.round ?? 0;
    this.engine = new RoundEngine({
      runId: run.id,
      config,
      strategy,
      weights: checkpoint?.weights ?? initialFederated(config.model, config.algorithm, config.seed, config.client.innerLr),
      completed: resumeAt,
      privacyHistory,
      host: {
        clock: deps.clock ?? systemClock(() => deps.now()),
        candidates: () => deps.eligible(this.config).filter((e) => e.examples > 0),
        send: (id, task, frame) => deps.send(id, task, frame),
        cancel: (id, notice) => deps.cancel(id, notice),
        ...(deps.secAgg ? { secAgg: deps.secAgg } : {}),
        ...(deps.gather ? { gather: (round: RoundGathering) => deps.gather!(round) } : {}),
        record: async (summary, checkpoint) => {
          await this.persisting(`round ${summary.round}`, () => deps.store.recordRound(summary, checkpoint));
          // The run's summary as stored now (its completed rounds), for onRound to announce.
          if (summary.status === 'completed') this.run = (await deps.store.getRun(this.run.id)) ?? this.run;
        },
        onRound: (summary) => {
          deps.onRound(summary);
          if (summary.status === 'completed') deps.onRun(this.run);
        },
        onLatency: (id, round, latencyMs) => deps.onLatency(id, round, latencyMs),
        onOutcome: (id, answered) => deps.onOutcome(id, answered),
        log: (line) => deps.log(line),
      },
    });
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
    return this.engine.weights;
  }
  /** The model version is the number of completed rounds. */
  get modelVersion(): number {
    return this.engine.modelVersion;
  }
  get openRound(): number | null {
    return this.engine.openRound;
  }

  /**
   * Starts the rounds once; resolves with the final run summary. A storage failure (a full disk) pauses the run:
   * the round being saved is lost, every earlier one is kept, and an admin resumes it at that round.
   */
  start(): Promise<RunSummary> {
    this.finished ??= this.execute().catch(async (error: unknown) => {
      if (error instanceof StaleCoordinatorError) {
        // Not this run's failure: the hub that now coordinates carries on from what is stored.
        this.detach();
        this.deps.log(`run ${this.run.id}: ${error.message}; stepping down`);
        this.deps.onStale?.(error);
        return this.run;
      }
      const message = error instanceof Error ? error.message : String(error);
      if (!isStorageFailure(error)) return await this.finish('failed', `internal error: ${message}`);
      const done = this.modelVersion;
      const saved = done === 0 ? 'no round was saved yet' : done === 1 ? 'round 1 is saved' : `rounds 1-${done} are saved`;
      return await this.finish('paused', `storage failure in round ${done + 1}: ${message}; ${saved}: free space, then resume the run`);
    });
    return this.finished;
  }

  /** Stops after closing the open round; resolves when it has. */
  stop(reason = 'stopped by an admin'): Promise<RunSummary> {
    this.engine.stop(reason);
    return this.start();
  }

  /** The hub is closing: leave at the next step and write nothing more (the run stays 'running'). */
  detach(): void {
    this.detached = true;
    this.engine.detach();
  }

  submitUpdate(participantId: string, meta: unknown, frame: unknown): Ack<UpdateReceipt> {
    return this.engine.submitUpdate(participantId, meta, frame);
  }

  submitEvaluation(participantId: string, report: unknown): Ack<UpdateReceipt> {
    return this.engine.submitEvaluation(participantId, report);
  }

  submitReady(participantId: string, ready: unknown): Ack<UpdateReceipt> {
    return this.engine.submitReady(participantId, ready);
  }

  /** A participant disconnected or reported an error: the open round stops waiting for it. */
  participantFailed(participantId: string, reason: string): void {
    this.engine.participantFailed(participantId, reason);
  }

  /** Writes once; with `retryStorage`, again after 0.5, 1, 2... (at most 30) s while the database cannot be reached. */
  private async persisting(what: string, write: () => Promise<void>): Promise<void> {
    for (let delayMs = 500; ; delayMs = Math.min(2 * delayMs, 30_000)) {
      try {
        return await write();
      } catch (error) {
        if (!this.deps.retryStorage || !isStorageFailure(error) || this.detached) throw error;
        this.deps.log(`run ${this.run.id}: cannot store ${what} (${(error as Error).message}); retrying in ${delayMs / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (this.detached) throw error;
      }
    }
  }

  private async execute(): Promise<RunSummary> {
    // After a restart, attempts of the next round that already failed stay on record: continue their count.
    const next = this.modelVersion + 1;
    const attempt =
      1 + Math.max(0, ...(await this.deps.store.listRounds(this.run.id)).filter((r) => r.round === next).map((r) => r.attempt));
    const end = await this.engine.run(attempt);
    switch (end.status) {
      case 'detached':
        return this.run;
      case 'completed':
        return this.finish('completed', end.reason ?? null);
      case 'stopped':
      case 'failed':
        return this.finish(end.status, end.reason);
      default: {
        const never: never = end;
        throw new Error(`unknown run end ${JSON.stringify(never)}`);
      }
    }
  }

  private async finish(status: RunSummary['status'], error: string | null): Promise<RunSummary> {
    if (this.detached) return this.run;
    const updatedAt = this.deps.now();
    try {
      this.run = await this.deps.store.updateRun(this.run.id, { status, error, updatedAt });
    } catch (e) {
      if (!isStorageFailure(e)) throw e;
      // Dashboards still learn the outcome; the store keeps 'running', so a restart resumes at the last checkpoint.
      this.deps.log(`run ${this.run.id}: cannot store its status ${status}: ${e instanceof Error ? e.message : String(e)}`);
      this.run = { ...this.run, status, error, updatedAt };
    }
    this.deps.onRun(this.run);
    return this.run;
  }
}
