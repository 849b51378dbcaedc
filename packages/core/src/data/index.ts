// Browser-safe data API. The Node file loader (mnist-node.ts) is exported from `@tabula/core/node` only.
export {
  concatExamples,
  featureSize,
  type Examples,
  type ParticipantData,
  type TaskKind,
  type TaskShape,
  type TrainingData,
} from './dataset.js';
export { MNIST_CLASSES, MNIST_HEADER_BYTES, MNIST_MAGIC, MNIST_VERSION, parseMnistAsset, type MnistData } from './mnist.js';
export {
  labelCounts,
  partition,
  partitionDirichlet,
  partitionIid,
  partitionShards,
  type PartitionOptions,
  type PartitionScheme,
  type ShardOptions,
} from './partition.js';
export { createRotation, rotateImage, type Rotation } from './rotate.js';
export {
  MAX_MNIST_PARTICIPANTS,
  MIN_EXAMPLES_PER_PARTICIPANT,
  MNIST_ASSET_DIGITS,
  ROTATION_ANGLES,
  SCENARIO_NAMES,
  SINUSOID,
  createScenario,
  fewShotSizes,
  isHeldOut,
  isValidation,
  resolveScenarioConfig,
  scenarioProblem,
  scenarioNeedsMnist,
  sinusoidTask,
  splitSizes,
  validationIndices,
  type ResolvedScenarioConfig,
  type Scenario,
  type ScenarioConfig,
  type ScenarioName,
  type SinusoidTask,
} from './scenario.js';
