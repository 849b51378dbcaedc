/**
 * The only contract between the hub and its participants (browser tabs or Node): typed socket events, the
 * run configuration, and runtime schemas for everything that crosses a trust boundary. Weights and deltas
 * travel as binary frames (see wire/); everything else is small JSON.
 */
import { z } from 'zod';
import { AlgorithmSchema, ClientHyperSchema } from './learn/hyper.js';
import { federatedLength, headProblem, keepsHead } from './learn/federated-layout.js';
import { ModelSpecSchema } from './model/spec.js';
import { MAX_LABEL_PERMUTATIONS, scenarioProblem } from './data/scenario.js';
import { strictObject } from './strict-object.js';
import { FRAME_DTYPES } from './wire/codec.js';
import { MAX_SECAGG_GROUP, type SecAggAnswers, type SecAggRequests, type SecAggStage } from './secagg/messages.js';

/**
 * Bump when a hub and a participant built from different versions would misunderstand each other: an event, a
 * field or an ack code is added, removed, renamed or changes meaning, or the frame layout changes (wire/). Do not
 * bump for changes only one side sees (a new HTTP route, a dashboard-only event, tighter bounds on a field).
 * A hello with another version is refused with `client-too-old` (reload the page) or `server-too-old`.
 * 2: participant secrets, farewells, ack codes, validated status reports.
 * 3: algorithms meta-sgd, per-fedavg-fo and per-fedavg-hf; a meta-sgd run's frames carry learned rates after the weights.
 *    Scenarios gain validation, supportShots and freshPoints (a v2 tab's schema would refuse an assignment naming them).
 * 4: algorithms fedrep and fedper (frames carry the body alone; the head stays on the participant), model.head,
 *    client.headEpochs.
 * 5: RoundTask.clip: in a differentially private run the participant clips its delta to this L2 norm before uploading;
 *    acks in such a run say 0 updates received.
 * 6: scenario.labelPermutations (a v5 tab's schema would refuse an assignment naming it).
 * 7: secure aggregation: RoundTask.secureAggregation, the `update:ready` event, the `secagg:*` stage events and the
 *    `masked` frame kind.
 * 8: several hubs: a hello refused with the code 'full' names the hub to use instead (`redirect`), and participants
 *    listed to dashboards say which hub they are on.
 * 9: the participant state 'paused' (a v8 hub's schema would refuse the status report).
 */
export const PROTOCOL_VERSION = 9;

export const CodecSchema = z.enum(FRAME_DTYPES);
export type Codec = z.infer<typeof CodecSchema>;

/**
 * FedAdam: β1, β2 and τ as in Reddi et al.'s experiments. lr 0.01: without bias correction the first step moves each
 * weight by about lr (m/√v ≈ sign Δ when |Δ| ≫ τ), and the paper's best server rates for FedAdam sit around 10^-2.
 */
export const ServerOptimizerSchema = z.discriminatedUnion('kind', [
  strictObject({ kind: z.literal('sgd'), lr: z.number().positive().max(100).default(1) }),
  strictObject({
    kind: z.literal('fedavgm'),
    lr: z.number().positive().max(100).default(1),
    momentum: z.number().min(0).max(0.999).default(0.9),
  }),
  strictObject({
    kind: z.literal('fedadam'),
    lr: z.number().positive().max(100).default(0.01),
    beta1: z.number().min(0).max(0.999).default(0.9),
    beta2: z.number().min(0).max(0.9999).default(0.99),
    tau: z.number().positive().max(1).default(1e-3),
  }),
]);

/**
 * How the hub combines a round's updates. fedavg: the mean weighted by example counts, folded as updates arrive
 * (O(parameters) memory). trimmed-mean (Yin et al. 2018) and median: per parameter, unweighted, robust to a
 * minority of arbitrary updates (a client that cannot be trusted could inflate its example count); they keep
 * every delta of a round, O(participants x parameters) memory.
 */
export const AggregationSchema = z.discriminatedUnion('kind', [
  strictObject({ kind: z.literal('fedavg') }),
  strictObject({ kind: z.literal('trimmed-mean'), trim: z.number().min(0).lt(0.5).default(0.1) }),
  strictObject({ kind: z.literal('median') }),
]);
export type Aggregation = z.infer<typeof AggregationSchema>;
export const AGGREGATIONS = AggregationSchema.options.map((o) => o.shape.kind.value);
export const SERVER_OPTIMIZERS = ServerOptimizerSchema.options.map((o) => o.shape.kind.value);
export const CODECS = CodecSchema.options;
/** Robust aggregation holds perRound deltas: at most this many float32 values (1 GiB). */
export const MAX_HELD_VALUES = 2 ** 28;

/**
 * Central DP-FedAvg (McMahan et al. 2018; privacy.md §3.2): each eligible participant takes part in a round
 * independently with probability q, drawn from secret randomness; participants and then the hub clip each delta to L2
 * norm `clip`; the hub adds Gaussian noise of standard deviation noiseMultiplier·clip per coordinate to the unweighted
 * sum and divides by the expected count q·(eligible participants), whatever number arrived. Give q as `samplingRate`,
 * or as `expectedPerRound` (q = min(1, expectedPerRound / eligible), per round). ε after each round is accounted at
 * `delta`; with `epsilonBudget` the run completes before a round that would take ε past it.
 */
export const PrivacySchema = strictObject({
  mode: z.literal('central'),
  clip: z.number().positive().max(1e6),
  noiseMultiplier: z.number().positive().max(1e6),
  samplingRate: z.number().positive().max(1).optional(),
  expectedPerRound: z.number().positive().max(100_000).optional(),
  delta: z.number().positive().lt(1),
  epsilonBudget: z.number().positive().max(1e6).optional(),
}).superRefine((privacy, ctx) => {
  if ((privacy.samplingRate === undefined) === (privacy.expectedPerRound === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['samplingRate'], message: 'give exactly one of samplingRate and expectedPerRound' });
  }
});
export type PrivacyConfig = z.infer<typeof PrivacySchema>;

/**
 * Secure aggregation (Bonawitz et al. 2017, SecAgg+ of Bell et al. 2020; privacy.md §2): after training, the tabs
 * that finished mask their quantised, example-weighted updates so that the hub learns only their sum, and the sum
 * survives tabs that leave mid-protocol. `clip` bounds each coordinate of w·Δ (w = min(examples, maxExamples) /
 * maxExamples) before it is rounded into the 32-bit ring, sized for `maxGroup` tabs; `neighbours` (even) switches to
 * SecAgg+'s sparse graph, each tab sharing with and masking against that many others (absent, with no threshold set:
 * every other tab in groups up to 30, 20 neighbours beyond); `threshold` shares rebuild a secret (default a majority of
 * each tab's holders); fewer than `minSurvivors` masked inputs abort the attempt.
 * Each of the four stages waits at most `stageTimeoutMs` for a tab, then counts it as dropped.
 */
export const SecureAggregationSchema = strictObject({
  neighbours: z
    .number()
    .int()
    .min(2)
    .max(MAX_SECAGG_GROUP - 1)
    .optional(),
  threshold: z.number().int().min(2).max(MAX_SECAGG_GROUP).optional(),
  clip: z.number().positive().max(1e4).default(1),
  maxGroup: z.number().int().min(3).max(MAX_SECAGG_GROUP).default(100),
  minSurvivors: z.number().int().min(3).max(MAX_SECAGG_GROUP).default(3),
  maxExamples: z.number().int().min(1).max(1_000_000).default(10_000),
  stageTimeoutMs: z.number().int().min(100).max(20_000).default(10_000),
}).superRefine((secure, ctx) => {
  if (secure.neighbours !== undefined && secure.neighbours % 2 !== 0)
    ctx.addIssue({
      code: 'custom',
      path: ['neighbours'],
      message: `must be even (the neighbour graph is a ring with k/2 on each side), got ${secure.neighbours}`,
    });
  if (secure.minSurvivors > secure.maxGroup)
    ctx.addIssue({ code: 'custom', path: ['minSurvivors'], message: `must not exceed maxGroup (${secure.maxGroup})` });
  const holders = Math.min(secure.neighbours ?? secure.maxGroup - 1, secure.maxGroup - 1) + 1;
  if (secure.threshold !== undefined && secure.threshold > holders)
    ctx.addIssue({
      code: 'custom',
      path: ['threshold'],
      message: `${secure.threshold} shares can never be gathered: each secret has ${holders} holders`,
    });
  if (secure.threshold !== undefined && secure.neighbours !== undefined && 2 * secure.threshold <= secure.neighbours + 1)
    ctx.addIssue({
      code: 'custom',
      path: ['threshold'],
      message: `must be a majority of each tab's ${secure.neighbours + 1} holders (more than ${(secure.neighbours + 1) / 2}), or a hub could gather both secrets of one tab`,
    });
});
export type SecureAggregationConfig = z.infer<typeof SecureAggregationSchema>;

export const SCENARIOS = ['iid', 'shards', 'dirichlet', 'rotated', 'sinusoid'] as const;
export const ScenarioNameSchema = z.enum(SCENARIOS);

/** Which simulated data a tab without data of its own is assigned (the hub hands out participant indices). */
/** Seeds of scenarios and runs: what the PRNG takes (31 bits). */
const SeedSchema = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1)
  .default(1);

export const ScenarioSpecSchema = strictObject({
  name: ScenarioNameSchema,
  participants: z.number().int().min(1).max(10_000),
  seed: SeedSchema,
  heldOut: z.number().int().min(0).optional(),
  /** Participants that neither train nor join the held-out meta-test: where settings get tuned (default 0). */
  validation: z.number().int().min(0).optional(),
  dirichletAlpha: z.number().positive().max(1000).optional(),
  /** MNIST few-shot: labelled support digits per participant; query and test split the rest evenly. */
  supportShots: z.number().int().min(1).max(1000).optional(),
  /** MNIST: trainers in this many groups, each with its own permutation of the labels; newcomers get unseen ones. */
  labelPermutations: z.number().int().min(0).max(MAX_LABEL_PERMUTATIONS).optional(),
  kShot: z.number().int().min(1).max(1000).optional(),
  /** Sinusoid: fresh support and query points every round, seeded by the round. */
  freshPoints: z.boolean().optional(),
}).superRefine((spec, ctx) => {
  // One definition of a valid scenario: what the resolver would refuse never gets past the schema.
  const problem = scenarioProblem(spec);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
export type ScenarioSpec = z.infer<typeof ScenarioSpecSchema>;

export const RunConfigSchema = strictObject({
  name: z.string().trim().max(100).default(''),
  algorithm: AlgorithmSchema,
  model: ModelSpecSchema,
  scenario: ScenarioSpecSchema.optional(),
  rounds: z.number().int().min(1).max(100_000),
  /** Participants trained per round; `fraction` of the ready ones when absent. */
  perRound: z.number().int().min(1).max(100_000).optional(),
  fraction: z.number().positive().max(1).default(1),
  /** Fewer valid updates than this at the deadline: the round is retried. */
  minParticipants: z.number().int().min(1).max(100_000).default(1),
  waitForParticipantsMs: z.number().int().min(0).max(86_400_000).default(60_000),
  roundDeadlineMs: z.number().int().min(100).max(86_400_000).default(120_000),
  client: ClientHyperSchema.default(ClientHyperSchema.parse({})),
  server: ServerOptimizerSchema.default({ kind: 'sgd', lr: 1 }),
  aggregation: AggregationSchema.default({ kind: 'fedavg' }),
  codec: CodecSchema.default('float32'),
  /** Updates with a larger L2 norm are rejected (a cheap guard against scaled or exploding deltas). */
  maxUpdateNorm: z.number().positive().optional(),
  seed: SeedSchema,
  /** Trainers evaluate (before/after adaptation) every this many rounds, and in the last one. */
  evaluateEvery: z.number().int().min(1).max(100_000).default(1),
  /** Differential privacy; absent: none. */
  privacy: PrivacySchema.optional(),
  /** Secure aggregation; absent: none (the hub sees each update). */
  secureAggregation: SecureAggregationSchema.optional(),
}).superRefine((config, ctx) => {
  const secure = config.secureAggregation;
  if (secure) {
    const refuse = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (config.aggregation.kind !== 'fedavg')
      refuse(
        'aggregation',
        `secure aggregation gives the hub only the sum of the updates; ${config.aggregation.kind} needs each update's coordinates: use fedavg`,
      );
    if (config.privacy)
      refuse(
        'privacy',
        'secure aggregation with differential privacy is not supported yet: the hub clips and noises each update, which it no longer sees',
      );
    if (config.maxUpdateNorm !== undefined)
      refuse(
        'maxUpdateNorm',
        'the hub never sees one update under secure aggregation, so it cannot check its norm: bound it with secureAggregation.clip',
      );
    if (config.codec !== 'float32')
      refuse('codec', `masked inputs are 32-bit ring words, so the ${config.codec} codec would not apply: leave codec at float32`);
    if (config.perRound !== undefined && config.perRound > secure.maxGroup)
      refuse('perRound', `a secure aggregation group holds at most secureAggregation.maxGroup (${secure.maxGroup}) tabs`);
    if (config.minParticipants > secure.maxGroup)
      refuse('minParticipants', `a secure aggregation group holds at most secureAggregation.maxGroup (${secure.maxGroup}) tabs`);
  }
  if (config.privacy) {
    // What the clipping, noise calibration and accountant do not cover, or what would leak the secret sample.
    if (config.aggregation.kind !== 'fedavg')
      ctx.addIssue({
        code: 'custom',
        path: ['aggregation'],
        message: `a differentially private run needs fedavg: the noise and the accountant are calibrated for the clipped sum of DP-FedAvg, not for ${config.aggregation.kind}`,
      });
    if (config.perRound !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['perRound'],
        message:
          'a differentially private run samples each participant independently (privacy.samplingRate or expectedPerRound): leave perRound out',
      });
    if (config.maxUpdateNorm !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['maxUpdateNorm'],
        message:
          'a differentially private run clips updates to privacy.clip; rejecting those above a norm would leak whether they exceeded it',
      });
  }
  if (config.algorithm === 'maml' && config.model.kind === 'cnn') {
    ctx.addIssue({
      code: 'custom',
      path: ['algorithm'],
      message: 'maml (second order) cannot train a cnn in TF.js: use fomaml or reptile',
    });
  }
  const noBody = keepsHead(config.algorithm) ? headProblem(config.model) : null;
  if (noBody) {
    // Nothing to federate: every size below would be meaningless.
    ctx.addIssue({ code: 'custom', path: ['model', 'head'], message: noBody });
    return;
  }
  if (config.aggregation.kind !== 'fedavg') {
    if (config.perRound === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['perRound'],
        message: `${config.aggregation.kind} keeps every delta of a round: set perRound`,
      });
    } else {
      const values = federatedLength(config.model, config.algorithm);
      const held = config.perRound * values;
      if (held > MAX_HELD_VALUES) {
        ctx.addIssue({
          code: 'custom',
          path: ['aggregation'],
          message: `${config.aggregation.kind} would hold ${config.perRound} deltas of ${values} parameters (${((held * 4) / 2 ** 30).toFixed(1)} GiB): at most ${MAX_HELD_VALUES / 2 ** 20} M values; lower perRound or use fedavg`,
        });
      }
    }
  }
  if (config.perRound !== undefined && config.minParticipants > config.perRound) {
    ctx.addIssue({ code: 'custom', path: ['minParticipants'], message: `must not exceed perRound (${config.perRound})` });
  }
  if (config.scenario && (config.scenario.name === 'sinusoid') !== (config.model.task === 'regression')) {
    ctx.addIssue({
      code: 'custom',
      path: ['model', 'task'],
      message: `scenario ${config.scenario.name} needs a ${config.scenario.name === 'sinusoid' ? 'regression' : 'classification'} model`,
    });
  }
});
export type RunConfig = z.infer<typeof RunConfigSchema>;
/** What a caller may send: everything with a default is optional. */
export type RunConfigInput = z.input<typeof RunConfigSchema>;

/** Parses untrusted input into a value of the schema or one readable message naming each bad field. */
export function parseOrError<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { ok: true; data: z.infer<S> } | { ok: false; error: string } {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, data: result.data };
  const error = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
  return { ok: false, error };
}

/**
 * Failure codes: clients switch on these, never on the sentence next to them.
 * - `invalid`: the payload does not match its schema (the sentence names the field).
 * - `unauthorized`: an admin operation without the right token.
 * - `not-found` / `conflict`: no such run; the run is in a state that does not allow this (e.g. another is running).
 * - `no-run`: no run is in progress. `not-selected`: this participant was not asked for this round.
 * - `stale`: for another run, round or model version. `late`: after the round's deadline or close.
 * - `duplicate`: this participant already answered this round. `invalid-frame`: the binary frame is malformed,
 *   the wrong length, not finite or over the norm bound. `too-many-examples`: over the example cap.
 * - `rate-limited`: slow down. `identity-refused`: the id belongs to another participant (forget it, say hello
 *   without one). `client-too-old` / `server-too-old`: the protocol versions differ (reload the page / upgrade the hub).
 * - `unavailable`: the hub cannot do it now (its store cannot be written). `internal`: the hub failed; nothing changed.
 * - `refused`: a participant will not answer a secure aggregation stage as asked (it would reveal both secrets of one
 *   peer, or too few of its neighbours took part).
 */
export const ACK_ERROR_CODES = [
  'invalid',
  'unauthorized',
  'not-found',
  'conflict',
  'no-run',
  'not-selected',
  'stale',
  'late',
  'duplicate',
  'invalid-frame',
  'too-many-examples',
  'rate-limited',
  'identity-refused',
  'client-too-old',
  'server-too-old',
  'unavailable',
  'internal',
  'refused',
  'full',
] as const;
export type AckErrorCode = (typeof ACK_ERROR_CODES)[number];

/** Every acknowledgement: the request either succeeded with data or failed with a reason a person can read. */
export type Ack<T> =
  | { ok: true; data: T }
  | {
      ok: false;
      error: string;
      code: AckErrorCode;
      /** With code 'full': a hub above its connection budget names a live hub with room (design/scale-out.md §4.1). */
      redirect?: string;
    };

/** The most examples one update or evaluation may claim (a participant inflating its weight in the means). */
export const MAX_EXAMPLES_PER_REPORT = 1_000_000;
/** Largest loss or MSE accepted: beyond it a report says nothing useful, and sums of such values overflow. */
export const MAX_REPORTED_LOSS = 1e30;

// ---- participant -> hub -------------------------------------------------------------------------------

export const HelloSchema = z.object({
  protocolVersion: z.number().int(),
  /** Kept by the client across reloads, so a reconnecting tab takes its identity back. */
  participantId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{4,64}$/)
    .optional(),
  /** Issued by the hub at the id's first hello and kept beside it: without it a known id cannot be resumed. */
  participantSecret: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,128}$/)
    .optional(),
  backend: z.string().max(40),
  /** Local training examples (0 until a tab has data). */
  examples: z.number().int().min(0),
  /** A held-out meta-test participant: evaluates and adapts, never uploads updates. */
  heldOut: z.boolean().default(false),
  /** 'assigned': wants a simulation shard from the hub; 'own': brings its own data. */
  dataSource: z.enum(['assigned', 'own']),
  /** The shard it already holds (a reconnecting tab, or one opened with ?scenario=...&participant=N). */
  assignedIndex: z.number().int().min(0).optional(),
  /** The scenario of that shard. */
  scenario: ScenarioSpecSchema.optional(),
});
export type Hello = z.infer<typeof HelloSchema>;

/** A simulation shard: participant `index` of `scenario`. */
export interface Assignment {
  readonly scenario: ScenarioSpec;
  readonly index: number;
}

export interface Welcome {
  readonly participantId: string;
  /** Keep it beside the id (never show it): a hello resuming this id must carry it. */
  readonly participantSecret: string;
  /** The hub drops any socket message larger than this: a participant checks its frames against it. */
  readonly maxMessageBytes: number;
  /** The simulation shard this participant should load, when it asked for one. */
  readonly assignment: Assignment | null;
}

/** Per-participant evaluation: the global model, and the model after `adaptSteps` local steps. */
export const EvaluationSchema = z
  .object({
    /** Must be the run's: accuracy for classification, mse for regression (the hub checks). */
    metric: z.enum(['accuracy', 'mse']),
    before: z.number().min(0).max(MAX_REPORTED_LOSS),
    after: z.number().min(0).max(MAX_REPORTED_LOSS),
    adaptSteps: z.number().int().min(0).max(100),
    testExamples: z.number().int().min(1).max(MAX_EXAMPLES_PER_REPORT),
  })
  .superRefine((evaluation, ctx) => {
    if (evaluation.metric !== 'accuracy') return;
    for (const key of ['before', 'after'] as const) {
      if (evaluation[key] > 1) ctx.addIssue({ code: 'custom', path: [key], message: `an accuracy is in [0, 1], got ${evaluation[key]}` });
    }
  });
export type Evaluation = z.infer<typeof EvaluationSchema>;

export const UpdateMetaSchema = z.object({
  runId: z.string().min(1).max(64),
  round: z.number().int().min(1),
  modelVersion: z.number().int().min(0),
  numExamples: z.number().int().min(1).max(MAX_EXAMPLES_PER_REPORT),
  loss: z.number().min(0).max(MAX_REPORTED_LOSS),
  trainMs: z.number().min(0).max(86_400_000),
  /** Absent when the round asked for no evaluation. */
  evaluation: EvaluationSchema.optional(),
});
export type UpdateMeta = z.infer<typeof UpdateMetaSchema>;

export const EvaluationReportSchema = z.object({
  runId: z.string().min(1).max(64),
  round: z.number().int().min(1),
  modelVersion: z.number().int().min(0),
  evaluation: EvaluationSchema,
});
export type EvaluationReport = z.infer<typeof EvaluationReportSchema>;

/** A secure aggregation run: this participant trained its update and waits for the hub's stages (no counts, no metrics). */
export const UpdateReadySchema = z.object({
  runId: z.string().min(1).max(64),
  round: z.number().int().min(1),
  modelVersion: z.number().int().min(0),
});
export type UpdateReady = z.infer<typeof UpdateReadySchema>;

export interface UpdateReceipt {
  readonly round: number;
  /**
   * Updates received for this round so far, this one included; 0 in a differentially private run, where the count
   * would tell a participant how many others were sampled.
   */
  readonly received: number;
}

// ---- hub -> participant -------------------------------------------------------------------------------

/** One round's work for one participant; the global weights follow as a binary frame. */
export interface RoundTask {
  readonly runId: string;
  readonly round: number;
  readonly modelVersion: number;
  /** 'fit': train and upload a delta; 'evaluate': only report before/after-adaptation metrics. */
  readonly mode: 'fit' | 'evaluate';
  /** Whether a 'fit' participant also evaluates before training (evaluate tasks always do). */
  readonly evaluate: boolean;
  readonly algorithm: RunConfig['algorithm'];
  readonly model: RunConfig['model'];
  readonly hyper: RunConfig['client'];
  readonly codec: Codec;
  /** Seeds this participant's minibatch sampling for the round. */
  readonly seed: number;
  /** Epoch milliseconds after which the hub no longer accepts this round's update. */
  readonly deadline: number;
  /** A differentially private run: clip the delta to this L2 norm before uploading it (the hub clips again). */
  readonly clip?: number;
  /**
   * A secure aggregation run: quantise w·Δ into the ring with these terms, say `update:ready` instead of uploading, and
   * answer the hub's four `secagg:*` stages; the hub never sees this participant's delta, example count or metrics.
   */
  readonly secureAggregation?: Pick<SecureAggregationConfig, 'clip' | 'maxGroup' | 'maxExamples'>;
}

/** 'paused': the person at the tab paused taking part (or a limit they set did): the hub selects it for nothing. */
export const PARTICIPANT_STATES = [
  'connecting',
  'waiting',
  'downloading',
  'evaluating',
  'training',
  'uploading',
  'done',
  'error',
  'paused',
] as const;
export type ParticipantState = (typeof PARTICIPANT_STATES)[number];

/**
 * What a participant tells the hub it is doing. 'connecting' is the hub's own word for a participant whose
 * socket is gone: the hub ignores a live participant that claims it.
 */
export const ParticipantStatusSchema = z.object({
  state: z.enum(PARTICIPANT_STATES),
  round: z.number().int().min(0).optional(),
  message: z.string().max(500).optional(),
});
export type ParticipantStatusReport = z.infer<typeof ParticipantStatusSchema>;

export const RunRequestSchema = z.object({ runId: z.string().min(1).max(64) });
export type RunRequest = z.infer<typeof RunRequestSchema>;

// ---- what the hub reports (HTTP API and admin events share these shapes) -------------------------------

/** A participant as the hub's registry sees it. */
export interface ParticipantInfo {
  readonly id: string;
  readonly connected: boolean;
  readonly backend: string;
  readonly examples: number;
  readonly heldOut: boolean;
  /** Holds one of its scenario's validation shards (asked for by URL): never selected for a run. */
  readonly validation: boolean;
  readonly dataSource: Hello['dataSource'];
  /** The scenario of its assigned shard: a scenario run selects only participants holding that scenario. */
  readonly scenario: ScenarioSpec | null;
  readonly assignedIndex: number | null;
  readonly state: ParticipantState;
  /** Epoch milliseconds. */
  readonly lastSeen: number;
  readonly lastRound: number | null;
  /** From sending the weights to receiving the update, in the last round it took part in. */
  readonly lastLatencyMs: number | null;
  /** Rounds it was sent work in and rounds it answered: selection skips one that let its last few pass. */
  readonly selected: number;
  readonly answered: number;
  /** Selections in a row it let pass without answering. */
  readonly missStreak: number;
  /** Several hubs: the hub it is connected to. */
  readonly hub?: string;
}

/** 'paused': a storage failure (a full disk) stopped the run after its last saved round; an admin resumes it. */
export const RUN_STATUSES = ['running', 'paused', 'completed', 'stopped', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunSummary {
  readonly id: string;
  readonly status: RunStatus;
  readonly config: RunConfig;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly completedRounds: number;
  /** Why the run failed, paused or stopped, or completed early ('privacy budget reached'). */
  readonly error: string | null;
}

/** One round's figures. Metrics are example-weighted means; null where nobody reported them. */
export interface RoundMetrics {
  /** Training loss reported by the trainers. */
  readonly loss: number | null;
  /** Global model on the trainers' own test data: accuracy, or MSE for regression. */
  readonly global: number | null;
  /** The same after `adaptSteps` local adaptation steps. */
  readonly personalized: number | null;
  /** Both for held-out participants that never train. */
  readonly heldOutGlobal: number | null;
  readonly heldOutPersonalized: number | null;
}

export interface RoundSummary {
  readonly runId: string;
  readonly round: number;
  /** 1 unless the round had to be retried. */
  readonly attempt: number;
  readonly status: 'completed' | 'failed';
  /** Why the attempt failed (too few participants, ...). */
  readonly reason: string | null;
  readonly startedAt: number;
  readonly durationMs: number;
  /** Participants whose update was aggregated. */
  readonly participants: readonly string[];
  readonly failures: readonly { readonly participantId: string; readonly reason: string }[];
  readonly metrics: RoundMetrics;
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** A completed round of a differentially private run: the guarantee after it. */
  readonly privacy?: RoundPrivacy;
  /** A secure aggregation attempt that reached its stages: who was asked and who answered each, and its terms. */
  readonly secureAggregation?: SecureRoundReport;
}

/** What the hub saw of one secure aggregation: counts per stage, never anything of one participant's update. */
export interface SecureRoundReport {
  /** Stages reached, in order: tabs asked and tabs that answered in time with a valid answer. */
  readonly stages: readonly { readonly stage: SecAggStage; readonly asked: number; readonly answered: number }[];
  readonly threshold: number;
  /** SecAgg+ neighbours per tab; null: every other tab of the group. */
  readonly neighbours: number | null;
  /** Mean over the survivors of the share of their coordinates that secureAggregation.clip clamped (a summed extra). */
  readonly clampedShare: number | null;
}

/** The (ε, δ) guarantee of a DP run after a round: its Rényi order, and the round's sampling rate q. */
export interface RoundPrivacy {
  readonly epsilon: number;
  readonly delta: number;
  readonly order: number | null;
  readonly samplingRate: number;
}

/**
 * A round as a client without the admin token sees it (GET /api/runs/:id, rounds.csv). No run shows it participant
 * ids or per-participant failures. A differentially private run also withholds (null) the counts and bytes, which
 * reveal how many were in the secret sample, the metrics, which are un-noised functions of their data that the
 * accountant does not count, and the round's start and duration, which time the slowest sampled participant.
 */
export interface PublicRoundSummary extends Omit<
  RoundSummary,
  'participants' | 'failures' | 'metrics' | 'bytesUp' | 'bytesDown' | 'startedAt' | 'durationMs'
> {
  readonly startedAt: number | null;
  readonly durationMs: number | null;
  readonly participantCount: number | null;
  readonly failureCount: number | null;
  readonly metrics: RoundMetrics | null;
  readonly bytesUp: number | null;
  readonly bytesDown: number | null;
}

/**
 * A differentially private run's guarantee so far (GET /api/privacy, public): (ε, δ) after its `rounds` committed
 * rounds (ε 0 before the first), and the budget it stops at, if any. The tab validates it with the schema.
 */
export const RunGuaranteeSchema = z.object({
  runId: z.string().min(1).max(64),
  status: z.enum(RUN_STATUSES),
  epsilon: z.number().min(0),
  delta: z.number().positive().lt(1),
  rounds: z.number().int().min(0),
  epsilonBudget: z.number().positive().nullable(),
});
export type RunGuarantee = z.infer<typeof RunGuaranteeSchema>;

/**
 * What changed in the participant list since the hub's previous `admin:participants`: entries added or changed,
 * each whole (so applying a diff twice changes nothing), and the ids of entries the hub forgot. A dashboard
 * starts from the list in `admin:state` and applies the diffs that follow.
 */
export interface ParticipantsDiff {
  readonly changed: readonly ParticipantInfo[];
  readonly removed: readonly string[];
  /** Several hubs: the hub whose participants these are. Its removals leave an entry another hub now holds alone. */
  readonly hub?: string;
}

export interface AdminSnapshot {
  readonly participants: readonly ParticipantInfo[];
  /** The running run, or the latest one. */
  readonly run: RunSummary | null;
  readonly rounds: readonly RoundSummary[];
}

/** socket.io handshake `auth`: participants send nothing or { role: 'participant' }. */
export const HandshakeAuthSchema = z.object({
  role: z.enum(['participant', 'admin']).default('participant'),
  token: z.string().max(1024).optional(),
});
export type HandshakeAuth = z.input<typeof HandshakeAuthSchema>;
/** What a refused handshake carries as socket.io's `connect_error` data: `unauthorized`, `rate-limited` or `invalid`. */
export interface HandshakeRefusal {
  readonly code: AckErrorCode;
}

// ---- socket.io event maps (both ends are typed with these) --------------------------------------------

export interface ServerToClientEvents {
  'round:start': (task: RoundTask, weights: ArrayBuffer | Uint8Array) => void;
  'round:cancel': (info: { runId: string; round: number; reason: string }) => void;
  /**
   * A run on another scenario started: a tab whose shard the hub assigned loads this one and says hello again.
   * A tab whose URL pins its shard keeps it, and a scenario run does not select it.
   */
  'participant:assign': (assignment: Assignment) => void;
  /**
   * Sent just before the hub closes this connection on purpose. `reconnect: false` (replaced by the same
   * participant's newer connection, an unsupported protocol, flooding) means reconnecting would only repeat it.
   */
  'participant:farewell': (notice: Farewell) => void;
  'admin:state': (snapshot: AdminSnapshot) => void;
  /** At most a few a second however many participants change: dashboards apply them to their list. */
  'admin:participants': (diff: ParticipantsDiff) => void;
  'admin:run': (run: RunSummary) => void;
  'admin:round': (round: RoundSummary) => void;
  /** Secure aggregation's stages (privacy.md §2.4): the hub asks each tab of the group, and waits a bounded time. */
  'secagg:advertise': SecAggEvent<'advertise'>;
  'secagg:share': SecAggEvent<'share'>;
  'secagg:mask': SecAggEvent<'mask'>;
  'secagg:unmask': SecAggEvent<'unmask'>;
}

/** A stage's question with the tab's acknowledged answer. */
export type SecAggEvent<S extends SecAggStage> = (request: SecAggRequests[S], ack: (reply: Ack<SecAggAnswers[S]>) => void) => void;

export interface Farewell {
  readonly code: 'replaced' | 'protocol-version' | 'flooding';
  readonly reason: string;
  readonly reconnect: boolean;
}

export interface ClientToServerEvents {
  'participant:hello': (hello: Hello, ack: (reply: Ack<Welcome>) => void) => void;
  /** Lets the dashboard show what a tab is doing between rounds. */
  'participant:status': (status: ParticipantStatusReport) => void;
  'update:submit': (meta: UpdateMeta, frame: ArrayBuffer | Uint8Array, ack: (reply: Ack<UpdateReceipt>) => void) => void;
  'eval:submit': (report: EvaluationReport, ack: (reply: Ack<UpdateReceipt>) => void) => void;
  /** A secure aggregation run's trained update, announced: the hub then drives the secagg:* stages. */
  'update:ready': (ready: UpdateReady, ack: (reply: Ack<UpdateReceipt>) => void) => void;
  'admin:start-run': (config: RunConfigInput, ack: (reply: Ack<RunSummary>) => void) => void;
  'admin:stop-run': (request: RunRequest, ack: (reply: Ack<RunSummary>) => void) => void;
}
