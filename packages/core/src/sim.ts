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
import { encodeFrame } from './wire/index.js';

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
  const closed: Ack<UpdateReceipt> = { ok: false, error: 'no round is open' };
  const participantFor = (index: number): Participant => {
    let p = participants.get(index);
    if (p) return p;
    const id = String(index);
    const channel: ParticipantChannel = {
      onTask: () => () => undefined,
      async submitUpdate(meta, frame) {
        return collector ? collector.submitUpdate(id, meta, frame) : closed;
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
  const trainable = Array.from({ length: scenario.participants }, (_, i) => i).filter((i) => !heldOut.has(i));
  const rounds: SimRound[] = [];
  for (let round = 1; round <= config.rounds; round++) {
    const started = now();
    const selected = strategy.configureFit(round, trainable.map(String)).map(Number);
    const frame = encodeFrame({ kind: 'weights', protocolVersion: PROTOCOL_VERSION, runId: RUN_ID, round, modelVersion: round - 1, dtype: 'float32', values: global });
    const evaluators = evaluatesIn(config, round) ? scenario.heldOut : [];
    collector = new RoundCollector({ runId: RUN_ID, round, modelVersion: round - 1, length, trainers: selected.map(String), evaluators: evaluators.map(String), strategy, deadline: Number.MAX_SAFE_INTEGER });
    const targets: [number, RoundTask['mode']][] = [
      ...selected.map((i): [number, RoundTask['mode']] => [i, 'fit']),
      ...evaluators.map((i): [number, RoundTask['mode']] => [i, 'evaluate']),
    ];
    for (const [index, mode] of targets) {
      const participant = participantFor(index);
      const task = roundTask(config, { runId: RUN_ID, round, modelVersion: round - 1, deadline: Number.MAX_SAFE_INTEGER }, index, mode);
      await participant.handleTask(task, frame);
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
