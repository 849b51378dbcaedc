import { FedAvgStrategy, type EvaluateResult, type FitResult } from './aggregate/index.js';
import { createScenario, type MnistData } from './data/index.js';
import { adaptationCurve, headline } from './learn/evaluate.js';
import { parameterCount } from './model/layout.js';
import { initialWeights } from './model/params.js';
import { Participant, type ParticipantChannel } from './participant.js';
import {
  PROTOCOL_VERSION,
  RunConfigSchema,
  type Ack,
  type RunConfig,
  type RunConfigInput,
  type RoundTask,
  type UpdateReceipt,
} from './protocol.js';
import { deriveSeed } from './rng.js';
import { decodeFrame, encodeFrame } from './wire/index.js';

export interface SimRound {
  readonly round: number;
  /** Mean training loss reported by the round's participants (example-weighted). */
  readonly loss: number;
  /** The metric of the global model on the trainers' own test data (accuracy, or MSE for regression); null in rounds without evaluation. */
  readonly global: number | null;
  /** The same after `adaptSteps` local steps on each trainer's support set. */
  readonly personalized: number | null;
  /** Both again for held-out meta-test participants, which never train. */
  readonly heldOutGlobal: number | null;
  readonly heldOutPersonalized: number | null;
  readonly participants: number;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly ms: number;
}

export interface MetaTest {
  readonly metric: 'accuracy' | 'mse';
  readonly participants: number;
  readonly steps: readonly number[];
  /** Mean over held-out participants of the metric after each number of adaptation steps. */
  readonly mean: readonly number[];
  /** Per participant, per step. */
  readonly perParticipant: readonly (readonly number[])[];
}

export interface SimResult {
  readonly config: RunConfig;
  readonly parameters: number;
  readonly rounds: readonly SimRound[];
  readonly metaTest: MetaTest;
}

export interface SimOptions {
  /** Needed for the MNIST scenarios. */
  readonly mnist?: MnistData;
  readonly onRound?: (round: SimRound) => void;
  /** Adaptation steps for the final meta-test. */
  readonly metaTestSteps?: readonly number[];
  readonly now?: () => number;
}

const RUN_ID = 'sim';

/**
 * Federated rounds in one process, with the same participant runtime, codec and strategy as the hub but
 * function calls instead of sockets: configure -> send weights -> collect deltas -> aggregate -> evaluate.
 */
export async function runSimulation(input: RunConfigInput, options: SimOptions = {}): Promise<SimResult> {
  const config = RunConfigSchema.parse(input);
  if (!config.scenario) throw new Error('a simulation needs a scenario');
  const now = options.now ?? (() => performance.now());
  const scenario = createScenario({ ...config.scenario, heldOut: config.scenario.heldOut ?? Math.max(1, Math.round(config.scenario.participants / 10)) }, options.mnist);
  const length = parameterCount(config.model);
  const strategy = new FedAvgStrategy({
    seed: config.seed,
    ...(config.perRound !== undefined ? { perRound: config.perRound } : { fraction: config.fraction }),
    minFit: config.minParticipants,
    optimizer: config.server,
  });

  // The hub side of every in-process channel: validate each frame where it arrives, fold it in at once.
  let accumulator = strategy.createAccumulator(length);
  let fits: FitResult[] = [];
  let evals: (EvaluateResult & { heldOut: boolean })[] = [];
  let currentRound = 0;
  let bytesUp = 0;
  const handlers = new Map<number, (task: RoundTask, weights: Uint8Array) => void>();
  const participants = new Map<number, Participant>();
  const heldOut = new Set(scenario.heldOut);
  const participantFor = (index: number): Participant => {
    let p = participants.get(index);
    if (p) return p;
    const id = String(index);
    const channel: ParticipantChannel = {
      onTask(handler) {
        handlers.set(index, handler);
        return () => handlers.delete(index);
      },
      async submitUpdate(meta, frame): Promise<Ack<UpdateReceipt>> {
        try {
          const { values } = decodeFrame(frame, { kind: 'delta', protocolVersion: PROTOCOL_VERSION, runId: RUN_ID, round: currentRound, modelVersion: currentRound - 1, length });
          accumulator.add(values, meta.numExamples);
        } catch (error) {
          return { ok: false, error: error instanceof Error ? error.message : String(error) };
        }
        bytesUp += frame.byteLength;
        fits.push({ participantId: id, numExamples: meta.numExamples, metrics: { loss: meta.loss } });
        if (meta.evaluation) evals.push({ participantId: id, numExamples: meta.evaluation.testExamples, metrics: { before: meta.evaluation.before, after: meta.evaluation.after }, heldOut: false });
        return { ok: true, data: { round: meta.round, received: fits.length } };
      },
      async submitEvaluation(report) {
        evals.push({ participantId: id, numExamples: report.evaluation.testExamples, metrics: { before: report.evaluation.before, after: report.evaluation.after }, heldOut: true });
        return { ok: true, data: { round: report.round, received: fits.length } };
      },
    };
    p = new Participant({ channel, data: scenario.participant(index) });
    p.start();
    participants.set(index, p);
    return p;
  };

  let global = initialWeights(config.model, config.seed);
  const trainable = Array.from({ length: scenario.participants }, (_, i) => i).filter((i) => !heldOut.has(i));
  const rounds: SimRound[] = [];
  for (let round = 1; round <= config.rounds; round++) {
    const started = now();
    currentRound = round;
    accumulator = strategy.createAccumulator(length);
    fits = [];
    evals = [];
    bytesUp = 0;
    const selected = strategy.configureFit(round, trainable.map(String)).map(Number);
    const frame = encodeFrame({ kind: 'weights', protocolVersion: PROTOCOL_VERSION, runId: RUN_ID, round, modelVersion: round - 1, dtype: 'float32', values: global });
    const evaluating = round % config.evaluateEvery === 0 || round === config.rounds;
    const targets: [number, RoundTask['mode']][] = [
      ...selected.map((i): [number, RoundTask['mode']] => [i, 'fit']),
      ...(evaluating ? scenario.heldOut.map((i): [number, RoundTask['mode']] => [i, 'evaluate']) : []),
    ];
    for (const [index, mode] of targets) {
      const participant = participantFor(index);
      const task: RoundTask = {
        runId: RUN_ID,
        round,
        modelVersion: round - 1,
        mode,
        evaluate: evaluating,
        algorithm: config.algorithm,
        model: config.model,
        hyper: config.client,
        codec: config.codec,
        seed: deriveSeed(config.seed, 'client', round, index),
        deadline: Number.MAX_SAFE_INTEGER,
      };
      await participant.handleTask(task, frame);
    }
    const next = strategy.aggregateFit(round, global, accumulator, fits, []);
    if (next) global = next;
    const trainers = strategy.aggregateEvaluate(round, evals.filter((e) => !e.heldOut));
    const testers = evals.some((e) => e.heldOut) ? strategy.aggregateEvaluate(round, evals.filter((e) => e.heldOut)) : null;
    const loss = strategy.aggregateEvaluate(round, fits).loss ?? Number.NaN;
    const record: SimRound = {
      round,
      loss,
      global: trainers.before ?? null,
      personalized: trainers.after ?? null,
      heldOutGlobal: testers?.before ?? null,
      heldOutPersonalized: testers?.after ?? null,
      participants: fits.length,
      bytesUp,
      bytesDown: frame.byteLength * targets.length,
      ms: now() - started,
    };
    rounds.push(record);
    options.onRound?.(record);
  }

  const steps = [...(options.metaTestSteps ?? [0, 1, 5, 10])].sort((a, b) => a - b);
  const perParticipant: number[][] = [];
  for (const index of scenario.heldOut) {
    const data = scenario.participant(index);
    const curve = await adaptationCurve(config.model, global, data.support, data.test, { steps, lr: config.client.innerLr });
    perParticipant.push(curve.scores.map(headline));
  }
  const mean = steps.map((_, s) => perParticipant.reduce((sum, row) => sum + row[s]!, 0) / Math.max(1, perParticipant.length));
  const metaTest: MetaTest = { metric: config.model.task === 'regression' ? 'mse' : 'accuracy', participants: perParticipant.length, steps, mean, perParticipant };
  return { config, parameters: length, rounds, metaTest };
}
