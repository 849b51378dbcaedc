// `@tabula/core/protocol`: the typed protocol, configs, model specs and presets without TF.js, so a page that
// only talks to the hub (the admin dashboard) does not download the 1.5 MB of TF.js. protocol-index.test.ts
// keeps TF.js out of this module's imports.
export {
  type Ack,
  type AdminSnapshot,
  AGGREGATIONS,
  type ClientToServerEvents,
  CODECS,
  type HandshakeRefusal,
  parseOrError,
  PARTICIPANT_STATES,
  type ParticipantInfo,
  type ParticipantsDiff,
  type ParticipantState,
  type RoundMetrics,
  type RoundSummary,
  type PublicRoundSummary,
  type RoundPrivacy,
  type RunGuarantee,
  RunGuaranteeSchema,
  PrivacySchema,
  type PrivacyConfig,
  type RunConfig,
  type RunConfigInput,
  RunConfigSchema,
  type RunRequest,
  type RunSummary,
  SCENARIOS,
  type SecureAggregationConfig,
  type SecureRoundReport,
  SERVER_OPTIMIZERS,
  type ServerToClientEvents,
} from './protocol.js';
export { SECAGG_STAGES, type SecAggStage } from './secagg/messages.js';
export { federatedLength, headOffset, keepsHead } from './learn/federated-layout.js';
export { type Algorithm, ALGORITHMS, DEFAULT_CLIENT_HYPER } from './learn/hyper.js';
export { parameterCount } from './model/layout.js';
export { MNIST_CNN, MNIST_MLP, type ModelSpec, SINUSOID_MLP } from './model/spec.js';
export { presetRunConfig } from './presets.js';
export { publicRound, runGuarantee } from './federation/public-round.js';
// The privacy accountant is pure arithmetic: the dashboard can plan a DP run (ε for a config) without TF.js.
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
