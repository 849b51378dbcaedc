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
  type RoundMetrics,
  type RoundTask,
  type UpdateReceipt,
} from './protocol.js';
import { RoundCollector } from './round-collector.js';
import { evaluatesIn, roundTask, strategyFor } from './round-task.js';
import { decodeFrame, encodeFrame } from './wire/index.js';

/** One round's line: metrics are null where nobody evaluated (see RunConfig.evaluateEvery). */
export interface SimRound extends RoundMetrics {
  readonly round: number;
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
  /** Byzantine participants, to measure robust aggregation: see `Attackers`. */
  readonly attackers?: Attackers;
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
 * Federated rounds in one process, with the same participant runtime, codec and strategy as the hub but
 * function calls instead of sockets: configure -> send weights -> collect deltas -> aggregate -> evaluate.
 */
export async function runSimulation(input: RunConfigInput, options: SimOptions = {}): Promise<SimResult> {
  const config = RunConfigSchema.parse(input);
  if (!config.scenario) throw new Error('a simulation needs a scenario');
  const now = options.now ?? (() => performance.now());
  const scenario = createScenario({ ...config.scenario, heldOut: config.scenario.heldOut ?? Math.max(1, Math.round(config.scenario.participants / 10)) }, options.mnist);
  const length = parameterCount(config.model);
  const strategy = strategyFor(config);

  // The hub side of every in-process channel: the same RoundCollector the hub uses.
  let collector: RoundCollector | null = null;
  const participants = new Map<number, Participant>();
  const heldOut = new Set(scenario.heldOut);
  const trainable = Array.from({ length: scenario.participants }, (_, i) => i).filter((i) => !heldOut.has(i));
  const attackers = new Set(trainable.slice(0, options.attackers?.count ?? 0));
  const closed: Ack<UpdateReceipt> = { ok: false, error: 'no round is open' };
  const participantFor = (index: number): Participant => {
    let p = participants.get(index);
    if (p) return p;
    const id = String(index);
    const channel: ParticipantChannel = {
      onTask: () => () => undefined,
      async submitUpdate(meta, frame) {
        if (!collector) return closed;
        if (!attackers.has(index) || !options.attackers) return collector.submitUpdate(id, meta, frame);
        const { header, values } = decodeFrame(frame);
        const { scale, claimedExamples } = options.attackers;
        const forged = encodeFrame({ kind: 'delta', protocolVersion: header.protocolVersion, runId: header.runId, round: header.round, modelVersion: header.modelVersion, dtype: 'float32', values: values.map((v) => v * scale), segments: header.segments });
        return collector.submitUpdate(id, { ...meta, numExamples: claimedExamples ?? meta.numExamples }, forged);
      },
      async submitEvaluation(report) {
        return collector ? collector.submitEvaluation(id, report) : closed;
      },
    };
    p = new Participant({ channel, data: scenario.participant(index) });
    participants.set(index, p);
    return p;
  };

  let global = initialWeights(config.model, config.seed);
  const rounds: SimRound[] = [];
  for (let round = 1; round <= config.rounds; round++) {
    const started = now();
    const selected = strategy.configureFit(round, trainable.map(String)).map(Number);
    const frame = encodeFrame({ kind: 'weights', protocolVersion: PROTOCOL_VERSION, runId: RUN_ID, round, modelVersion: round - 1, dtype: 'float32', values: global });
    const evaluators = evaluatesIn(config, round) ? scenario.heldOut : [];
    collector = new RoundCollector({ runId: RUN_ID, round, modelVersion: round - 1, length, trainers: selected.map(String), evaluators: evaluators.map(String), strategy, deadline: Number.MAX_SAFE_INTEGER, metric: config.model.task === 'regression' ? 'mse' : 'accuracy' });
    const targets: [number, RoundTask['mode']][] = [
      ...selected.map((i): [number, RoundTask['mode']] => [i, 'fit']),
      ...evaluators.map((i): [number, RoundTask['mode']] => [i, 'evaluate']),
    ];
    for (const [index, mode] of targets) {
      const participant = participantFor(index);
      const task = roundTask(config, { runId: RUN_ID, round, modelVersion: round - 1, deadline: Number.MAX_SAFE_INTEGER }, index, mode);
      try {
        await participant.handleTask(task, frame);
      } catch (error) {
        // As on the hub: a participant that fails (e.g. its update is not finite) is left out of the round.
        collector.fail(String(index), error instanceof Error ? error.message : String(error));
      }
    }
    collector.close('the round is over');
    const next = strategy.aggregateFit(round, global, collector.accumulator, collector.fits, collector.failures);
    if (next) global = next;
    const record: SimRound = {
      round,
      ...collector.metrics(),
      participants: collector.fits.length,
      bytesUp: collector.bytesUp,
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
