// The browser-safe public API of @tabula/core, named: what the hub, the web app, the swarm and a researcher using
// the library need. Node-only helpers (file loading) live in ./node.ts; everything else is internal.
export {
  type Ack,
  type AckErrorCode,
  type AdminSnapshot,
  AGGREGATIONS,
  type Assignment,
  type ClientToServerEvents,
  CODECS,
  type Farewell,
  HandshakeAuthSchema,
  type HandshakeRefusal,
  type Hello,
  HelloSchema,
  MAX_EXAMPLES_PER_REPORT,
  parseOrError,
  PARTICIPANT_STATES,
  type ParticipantInfo,
  type ParticipantsDiff,
  type ParticipantState,
  ParticipantStatusSchema,
  PROTOCOL_VERSION,
  type RoundMetrics,
  type RoundSummary,
  type PublicRoundSummary,
  type RoundPrivacy,
  type RunGuarantee,
  RunGuaranteeSchema,
  PrivacySchema,
  type PrivacyConfig,
  type RoundTask,
  RUN_STATUSES,
  type RunConfig,
  type RunConfigInput,
  RunConfigSchema,
  RunRequestSchema,
  type RunStatus,
  type RunSummary,
  SCENARIOS,
  type ScenarioSpec,
  ScenarioSpecSchema,
  type SecureAggregationConfig,
  SecureAggregationSchema,
  type SecureRoundReport,
  SERVER_OPTIMIZERS,
  type ServerToClientEvents,
  type UpdateMeta,
  type UpdateReady,
  type UpdateReceipt,
  type Welcome,
} from './protocol.js';
export { MAX_SECAGG_GROUP, SECAGG_EXTRAS, SECAGG_STAGES, type SecAggStage } from './secagg/messages.js';
export type { SecAggAsk } from './secagg/secure-round.js';
// A participant's side of secure aggregation, for participants written without Participant (and hub tests).
export { SecureContribution, secureFigures, secureInput } from './secagg/contribution.js';
// The WebCrypto glue itself, so a page can be checked against the standards' known answers (the e2e tests do).
export { hkdf, maskWords, x25519FromSecret, x25519Provider, x25519Shared } from './secagg/crypto.js';
export { tf, useBackend } from './tf.js';
export { type MlpSpec, MNIST_CNN, MNIST_MLP, type ModelSpec, ModelSpecSchema, SINUSOID_MLP } from './model/spec.js';
export { parameterCount, segmentSizes, weightLayout } from './model/layout.js';
export { disposeAll, fromTensors, initialWeights, readTensors, toTensors } from './model/params.js';
export { forward } from './model/forward.js';
export { exportLayersModel, type LayersModelFiles } from './model/export.js';
export { type Algorithm, ALGORITHMS, AlgorithmSchema, type ClientHyper, ClientHyperSchema, DEFAULT_CLIENT_HYPER } from './learn/hyper.js';
export {
  federatedLength,
  federatedSegments,
  headOffset,
  headProblem,
  keepsHead,
  learnsRates,
  splitFederated,
} from './learn/federated-layout.js';
export { initialFederated } from './learn/initial-federated.js';
export { freshHead, headLength, localModel, withHead, type LocalModel } from './learn/local-model.js';
export { imprintedHead, startingHead } from './learn/imprint.js';
export { toBatch } from './learn/batch.js';
export { adaptOnBatch, sgdStep } from './learn/steps.js';
export { adaptationCurve, headline, type AdaptationCurve } from './learn/evaluate.js';
export {
  createServerOptimizer,
  decodePartial,
  encodePartial,
  FitBatch,
  type FitFailure,
  type FitResult,
  fedAvg,
  FedAvgStrategy,
  type ServerOptimizerConfig,
  type Strategy,
  type StrategyState,
  TrimmedMeanStrategy,
  WeightedSum,
  type WeightedPartial,
} from './aggregate/index.js';
export { clientUpdate, type ClientUpdateInput, type ClientUpdateResult } from './learn/client-update.js';
export { runSimulation, type SimOptions, type SimResult, type SimRound } from './sim/simulation.js';
export { decodeFrame, decodeMaskedFrame, encodeFrame, encodeMaskedFrame, frameByteLength } from './wire/index.js';
export {
  createScenario,
  type Examples,
  isHeldOut,
  isValidation,
  type MnistData,
  parseMnistAsset,
  type ParticipantData,
  scenarioNeedsMnist,
  type TrainingData,
  validationIndices,
} from './data/index.js';
export {
  MemoryHeadStore,
  Participant,
  type HeadStore,
  type LocalData,
  type ParticipantChannel,
  type ParticipantOptions,
  type SecAggHandler,
  type ParticipantStatus,
  type RoundRecord,
} from './participant/participant.js';
export { completeRunConfig, presetRunConfig } from './presets.js';
export { sameAssignment, scenarioKey } from './participant/assignment.js';
export { MemoryCredentials, type ParticipantCredentials } from './participant/credentials.js';
export {
  ParticipantSession,
  type HelloBody,
  type ParticipantSessionOptions,
  type ParticipantSocket,
  type StatusReport,
} from './participant/session.js';
export { strategyFor } from './federation/strategy-for.js';
export {
  PRIVACY_BUDGET_REACHED,
  type RoundCancel,
  RoundEngine,
  type Candidate,
  type GatheredRound,
  type RoundGathering,
  type RoundEngineHost,
  type RoundEngineOptions,
  type RunEnd,
} from './federation/round-engine.js';
export { roundTask, type RoundAddress } from './federation/round-task.js';
export { checkMamlGradient, type MetaGradientCheck } from './learn/meta-gradient-check.js';
export { secureGroup, type SecureGroupOptions, type SecureGroupResult } from './secagg/secure-group.js';
export { RoundCollector, type RoundSettlement } from './federation/round-collector.js';
export {
  RoundShareMetaSchema,
  combineShares,
  roundMetrics,
  type RoundEvaluation,
  type RoundShare,
  type RoundShareMeta,
} from './federation/round-share.js';
export { type Clock, systemClock } from './federation/clock.js';
export { ManualClock } from './federation/manual-clock.js';
export { roundsCsv } from './federation/rounds-csv.js';
export { publicRound, runGuarantee } from './federation/public-round.js';
export { composeRounds, epsilonFromRdp, privacySpent, type PrivacySpent, type SampledGaussianParams } from './privacy/epsilon.js';
export { DEFAULT_RDP_ORDERS, INTEGER_RDP_ORDERS } from './privacy/orders.js';
export { PrivacyParameterError } from './privacy/params.js';
export {
  type NoiseMultiplierPlan,
  type NoiseMultiplierQuery,
  noiseMultiplierForBudget,
  type RoundsPlan,
  type RoundsQuery,
  roundsWithinBudget,
} from './privacy/plan.js';
export { sampledGaussianRdp } from './privacy/sampled-gaussian-rdp.js';
export { PrivacyLedger, type PrivacyLedgerOptions } from './privacy/ledger.js';
export { cryptoRandomSource, seededRandomSource, type RandomSource } from './privacy/random-source.js';
export { addDiscreteGaussianNoise, noiseGrid, sampleDiscreteGaussian } from './privacy/discrete-gaussian.js';
export { ClippedSum, DpFedAvgStrategy, samplingRateFor, type DpFedAvgStrategyOptions } from './aggregate/dp-fedavg.js';
