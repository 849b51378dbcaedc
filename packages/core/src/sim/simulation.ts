import { createScenario, type Examples, type MnistData } from '../data/index.js';
import { systemClock } from '../federation/clock.js';
import { RoundEngine } from '../federation/round-engine.js';
import { strategyFor } from '../federation/strategy-for.js';
import { headline } from '../learn/evaluate.js';
import { adaptationCurveFor, clientUpdateFor, type Engine } from '../learn/fast/engine.js';
import { federatedLength } from '../learn/federated-layout.js';
import { initialFederated } from '../learn/initial-federated.js';
import { imprintedHead } from '../learn/imprint.js';
import { localModel, withHead } from '../learn/local-model.js';
import { Participant, type ParticipantChannel } from '../participant/participant.js';
import { RunConfigSchema, type RunConfig, type RunConfigInput, type RoundMetrics, type RoundTask } from '../protocol.js';
import type { RandomSource } from '../privacy/random-source.js';
import { decodeFrame, encodeFrame } from '../wire/index.js';

/** One round's line: metrics are null where nobody evaluated (see RunConfig.evaluateEvery). */
export interface SimRound extends RoundMetrics {
  readonly round: number;
  readonly participants: number;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly ms: number;
  /** A differentially private run: ε after this round (at the run's δ); null otherwise. */
  readonly epsilon: number | null;
}

export interface MetaTestScores {
  readonly participants: number;
  /** Mean over the participants of the metric after each number of adaptation steps. */
  readonly mean: readonly number[];
  /** Per participant, per step. */
  readonly perParticipant: readonly (readonly number[])[];
}

/** Fine-tuning settings chosen on the validation participants, and what they give the held-out ones. */
export interface TunedFineTuning {
  /** Adaptation learning rate (of SimOptions.adaptLrs) and step count (of the meta-test's steps) best on validation. */
  readonly lr: number;
  readonly steps: number;
  /** The validation participants' mean there, which chose them. */
  readonly validation: number;
  /** The held-out participants' mean and per-participant scores with them. */
  readonly mean: number;
  readonly perParticipant: readonly number[];
}

/** The held-out participants' scores, and apart from them the validation participants' (where settings get chosen). */
export interface MetaTest extends MetaTestScores {
  readonly metric: 'accuracy' | 'mse';
  readonly steps: readonly number[];
  /** Scores at the config's inner lr. */
  readonly validation: MetaTestScores;
  /** Null without validation participants. */
  readonly tuned: TunedFineTuning | null;
}

export interface SimResult {
  readonly config: RunConfig;
  /** Values federated each way per participant and round: the model's parameters (twice them for meta-sgd). */
  readonly parameters: number;
  readonly rounds: readonly SimRound[];
  readonly metaTest: MetaTest;
  /** Why the run completed before its last round ('privacy budget reached'); null when it ran them all. */
  readonly stopReason: string | null;
}

export interface SimOptions {
  /** Needed for the MNIST scenarios. */
  readonly mnist?: MnistData;
  readonly onRound?: (round: SimRound) => void;
  /**
   * Final meta-test only: newcomers replace the trained model's head by a new one, imprinted from their support set,
   * and fit only that (what FedRep's newcomers do), e.g. "FedAvg + a linear head" as a baseline.
   * Meta-SGD, whose learned rates cover every weight, is meta-tested as it is.
   */
  readonly freshHead?: boolean;
  /** Adaptation steps for the final meta-test. */
  readonly metaTestSteps?: readonly number[];
  readonly now?: () => number;
  /** Byzantine participants, to measure robust aggregation: see `Attackers`. */
  readonly attackers?: Attackers;
  /** Who computes client updates and evaluations: 'tfjs' (default, as a tab) or 'fast' (plain JS for MLPs, see learn/fast/). */
  readonly engine?: Engine;
  /**
   * Adaptation learning rates the meta-test chooses from on the validation participants, with the step count
   * (MetaTest.tuned); the config's inner lr alone by default. Meta-SGD adapts at its learned rates and ignores them.
   */
  readonly adaptLrs?: readonly number[];
  /** A DP run's secret randomness (sampling and noise); the platform CSPRNG by default. Tests seed it. */
  readonly random?: RandomSource;
}

/**
 * The first `count` trainers of the scenario (a fixed set, sampled into rounds like everyone else) send
 * `scale` x their honest delta and claim `claimedExamples` examples: finite, well-formed updates that pass
 * every check the hub makes, so only the aggregation rule can limit them. A negative scale flips the sign.
 */
export interface Attackers {
  readonly count: number;
  readonly scale: number;
  readonly claimedExamples?: number;
}

const RUN_ID = 'sim';

/**
 * Federated rounds in one process on the hub's own round engine, with the same participant runtime, codec and
 * strategy, but function calls instead of sockets. Participants train one at a time, in the order they were sent
 * work, and the round waits for all of them (no deadline); a run whose round fails three times throws its reason.
 */
export async function runSimulation(input: RunConfigInput, options: SimOptions = {}): Promise<SimResult> {
  const config = RunConfigSchema.parse(input);
  if (!config.scenario) throw new Error('a simulation needs a scenario');
  // The scenario's own default held-out share (data/scenario.ts), as the hub's tabs get it.
  const scenario = createScenario(config.scenario, options.mnist);
  const length = federatedLength(config.model, config.algorithm);
  const heldOut = new Set(scenario.heldOut);
  // Their records as the hub's registry keeps them, so the engine prefers reliable participants here too.
  const candidates: { id: string; heldOut: boolean; missStreak: number }[] = Array.from({ length: scenario.participants }, (_, i) => ({
    id: String(i),
    heldOut: heldOut.has(i),
    missStreak: 0,
  }));
  // Validation participants take no part in the rounds, as on the hub (apps/server/src/shard-assigner.ts).
  const validation = new Set(scenario.validation);
  const engaged = candidates.filter((c) => !validation.has(Number(c.id)));
  const trainable = engaged.filter((c) => !c.heldOut).map((c) => Number(c.id));
  const attackers = new Set(trainable.slice(0, options.attackers?.count ?? 0));
  const participants = new Map<number, Participant>();
  const clientUpdate = clientUpdateFor(options.engine ?? 'tfjs');
  const adaptationCurve = adaptationCurveFor(options.engine ?? 'tfjs');
  const participantFor = (index: number): Participant => {
    let p = participants.get(index);
    if (p) return p;
    const id = String(index);
    const channel: ParticipantChannel = {
      onTask: () => () => undefined,
      submitUpdate(meta, frame) {
        if (!attackers.has(index) || !options.attackers) return Promise.resolve(engine.submitUpdate(id, meta, frame));
        const { header, values } = decodeFrame(frame);
        const { scale, claimedExamples } = options.attackers;
        const forged = encodeFrame({
          kind: 'delta',
          protocolVersion: header.protocolVersion,
          runId: header.runId,
          round: header.round,
          modelVersion: header.modelVersion,
          dtype: 'float32',
          values: values.map((v) => v * scale),
          segments: header.segments,
        });
        return Promise.resolve(engine.submitUpdate(id, { ...meta, numExamples: claimedExamples ?? meta.numExamples }, forged));
      },
      submitEvaluation(report) {
        return Promise.resolve(engine.submitEvaluation(id, report));
      },
      submitReady(ready) {
        return Promise.resolve(engine.submitReady(id, ready));
      },
    };
    p = new Participant({ channel, data: scenario.participant(index), clientUpdate, adaptationCurve });
    participants.set(index, p);
    return p;
  };

  const rounds: SimRound[] = [];
  let queue = Promise.resolve();
  const engine = new RoundEngine({
    runId: RUN_ID,
    config,
    strategy: strategyFor(config, options.random ? { random: options.random } : {}),
    weights: initialFederated(config.model, config.algorithm, config.seed, config.client.innerLr),
    completed: 0,
    roundDeadlineMs: Number.POSITIVE_INFINITY,
    retryDelayMs: 0,
    host: {
      clock: systemClock(options.now ?? (() => performance.now())),
      candidates: () => engaged,
      send(participantId, task: RoundTask, frame) {
        const index = Number(participantId);
        queue = queue.then(async () => {
          let refused: string | null;
          try {
            const record = await participantFor(index).handleTask(task, frame);
            refused = record.accepted ? null : (record.error ?? 'its answer was refused');
          } catch (error) {
            // As on the hub: a participant that fails (e.g. its update is not finite) is left out of the round.
            refused = error instanceof Error ? error.message : String(error);
          }
          // Without a deadline the round would wait for ever on an answer the collector refused. An accepted answer
          // may have completed the round, and the next one may already be open: it must not count there.
          if (refused !== null && engine.openRound === task.round) engine.participantFailed(participantId, refused);
        });
        return true;
      },
      cancel: (participantId, notice) => participants.get(Number(participantId))?.roundCancelled(notice.runId, notice.round),
      // The same stages as a hub's, by function call: the masks, shares and ring arithmetic are all real.
      secAgg: (participantId, stage, request) => participantFor(Number(participantId)).answerSecAgg(stage, request),
      record: () => undefined,
      onRound(summary) {
        if (summary.status !== 'completed') return;
        const record: SimRound = {
          round: summary.round,
          ...summary.metrics,
          participants: summary.participants.length,
          bytesUp: summary.bytesUp,
          bytesDown: summary.bytesDown,
          ms: summary.durationMs,
          epsilon: summary.privacy?.epsilon ?? null,
        };
        rounds.push(record);
        options.onRound?.(record);
      },
      onLatency: () => undefined,
      onOutcome(participantId, answered) {
        const record = candidates[Number(participantId)]!;
        record.missStreak = answered ? 0 : record.missStreak + 1;
      },
      log: () => undefined,
    },
  });
  const end = await engine.run();
  if (end.status !== 'completed') throw new Error(`the simulation ${end.status}${'reason' in end ? `: ${end.reason}` : ''}`);
  // Meta-test participants never trained: under a personal head (or freshHead) they fit a new one on their support
  // set, starting, as a participant does, from the head imprinted from it (learn/imprint.ts).
  const trained = localModel(config.model, config.algorithm, engine.weights);
  const {
    weights: global,
    rates,
    adaptFrom,
  } = options.freshHead && trained.adaptFrom === 0 && !trained.rates ? withHead(config.model, trained.weights) : trained;
  // One imprint per participant, however many fine-tuning rates score it.
  const starts = new WeakMap<Examples, Float32Array>();
  const startFor = async (support: Examples): Promise<Float32Array> => {
    if (adaptFrom === 0) return global;
    let start = starts.get(support);
    if (!start) starts.set(support, (start = withHead(config.model, global, await imprintedHead(config.model, global, support)).weights));
    return start;
  };

  const steps = [...(options.metaTestSteps ?? [0, 1, 5, 10])].sort((a, b) => a - b);
  const innerLr = config.client.innerLr;
  const score = async (indices: readonly number[], lr = innerLr): Promise<MetaTestScores> => {
    const perParticipant: number[][] = [];
    for (const index of indices) {
      const data = scenario.participant(index);
      const curve = await adaptationCurve(config.model, await startFor(data.support), data.support, data.test, {
        steps,
        lr,
        rates,
        adaptFrom,
      });
      perParticipant.push(curve.scores.map(headline));
    }
    const mean = steps.map((_, s) => perParticipant.reduce((sum, row) => sum + row[s]!, 0) / Math.max(1, perParticipant.length));
    return { participants: perParticipant.length, mean, perParticipant };
  };
  const metric = config.model.task === 'regression' ? 'mse' : 'accuracy';
  const heldOutScores = await score(scenario.heldOut);
  const validationScores = await score(scenario.validation);

  // Fine-tuning chosen as a user would: on participants apart from both the trainers and the held-out ones.
  let tuned: TunedFineTuning | null = null;
  if (validationScores.participants > 0) {
    const lrs = rates ? [innerLr] : [...new Set(options.adaptLrs ?? [innerLr])];
    let best: { lr: number; step: number; value: number } | null = null;
    for (const lr of lrs) {
      const scores = lr === innerLr ? validationScores : await score(scenario.validation, lr);
      for (let step = 0; step < steps.length; step++) {
        const value = scores.mean[step]!;
        if (Number.isFinite(value) && (!best || (metric === 'mse' ? value < best.value : value > best.value))) best = { lr, step, value };
      }
    }
    if (best) {
      const { lr, step, value } = best;
      const held = lr === innerLr ? heldOutScores : await score(scenario.heldOut, lr);
      tuned = {
        lr,
        steps: steps[step]!,
        validation: value,
        mean: held.mean[step]!,
        perParticipant: held.perParticipant.map((row) => row[step]!),
      };
    }
  }
  const metaTest: MetaTest = { metric, steps, ...heldOutScores, validation: validationScores, tuned };
  return { config, parameters: length, rounds, metaTest, stopReason: end.status === 'completed' ? (end.reason ?? null) : null };
}
