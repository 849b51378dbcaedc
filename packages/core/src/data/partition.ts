/**
 * Seeded partitioners: which example indices (into a labels array) each of N participants holds.
 *
 * Sizes: every participant asks for `perParticipant` examples (default floor(count / N), never below
 * `minPerParticipant`, never above count). While N * size <= count, no example is given to two participants.
 * When N is so large that this is impossible (e.g. 5,000 participants over 10,000 digits with a floor of 3),
 * examples are reused across participants as evenly as possible, but never twice within one participant.
 * N = 200 over 10,000 digits is the ordinary case: 50 distinct digits each, nothing shared.
 */
import { createRng, deriveSeed, type Rng } from '../rng.js';

export interface PartitionOptions {
  /** Examples per participant; default floor(count / participants). Clamped to [minPerParticipant, count]. */
  readonly perParticipant?: number;
  /** Smallest useful participant (e.g. 3 so support, query and test are non-empty); default 1. */
  readonly minPerParticipant?: number;
}

export interface ShardOptions extends PartitionOptions {
  /** Label shards per participant; default 2 (McMahan et al. 2017). */
  readonly shardsPerParticipant?: number;
}

export type PartitionScheme =
  | { readonly kind: 'iid' }
  | { readonly kind: 'shards'; readonly shardsPerParticipant?: number }
  | { readonly kind: 'dirichlet'; readonly alpha: number };

/** Dispatches on the scheme; see the individual partitioners. */
export function partition(
  labels: ArrayLike<number>,
  participants: number,
  scheme: PartitionScheme,
  seed: number,
  options: PartitionOptions = {},
): number[][] {
  switch (scheme.kind) {
    case 'iid':
      return partitionIid(labels, participants, seed, options);
    case 'shards':
      return partitionShards(labels, participants, seed, { ...options, shardsPerParticipant: scheme.shardsPerParticipant ?? 2 });
    case 'dirichlet':
      return partitionDirichlet(labels, participants, seed, scheme.alpha, options);
    default: {
      const never: never = scheme;
      throw new Error(`unknown partition scheme ${JSON.stringify(never)}`);
    }
  }
}

/** Uniformly random, equal-sized slices of one seeded permutation. */
export function partitionIid(labels: ArrayLike<number>, participants: number, seed: number, options: PartitionOptions = {}): number[][] {
  const count = labels.length;
  const size = resolveSize(count, participants, options);
  const order = createRng(deriveSeed(seed, 'partition', 'iid')).shuffle(range(count));
  // Consecutive windows around the permutation: disjoint while N * size <= count, evenly reused beyond.
  return Array.from({ length: participants }, (_, p) => {
    const out = new Array<number>(size);
    for (let j = 0; j < size; j++) out[j] = order[(p * size + j) % count] as number;
    return out;
  });
}

/**
 * McMahan et al. (2017) pathological non-IID: N * shardsPerParticipant label shards, dealt at random,
 * shardsPerParticipant to each participant. Shards here are label-pure (each label gets shards in proportion
 * to its frequency), so a participant sees at most shardsPerParticipant labels: 2 by default.
 * A participant's size is about perParticipant; it can be smaller when its labels lack examples
 * (e.g. N = 3: two labels cannot provide 3,333 digits).
 */
export function partitionShards(labels: ArrayLike<number>, participants: number, seed: number, options: ShardOptions = {}): number[][] {
  const count = labels.length;
  const size = resolveSize(count, participants, options);
  const perParticipant = options.shardsPerParticipant ?? 2;
  if (!Number.isInteger(perParticipant) || perParticipant < 1) {
    throw new Error(`shardsPerParticipant must be a positive integer, got ${perParticipant}`);
  }
  const minShard = Math.ceil((options.minPerParticipant ?? 1) / perParticipant);
  const rng = createRng(deriveSeed(seed, 'partition', 'shards'));
  const pools = poolsByLabel(labels, rng);
  const shardCounts = apportion(
    pools.map((pool) => pool.length),
    participants * perParticipant,
    rng,
  );
  const wanted = Math.ceil(size / perParticipant);
  const shards: { label: number; start: number; length: number }[] = [];
  pools.forEach((pool, label) => {
    const n = pool.length;
    const s = shardCounts[label] ?? 0;
    let length = Math.min(wanted, n);
    // Shrink shards a little rather than share examples, as long as participants stay usable.
    if (s * length > n && Math.floor(n / s) >= minShard) length = Math.floor(n / s);
    for (let j = 0; j < s; j++) shards.push({ label, start: (j * length) % n, length });
  });
  rng.shuffle(shards);
  return Array.from({ length: participants }, (_, p) => {
    const own = new Set<number>();
    const mine = shards.slice(p * perParticipant, (p + 1) * perParticipant);
    let intended = 0;
    for (const shard of mine) {
      const pool = pools[shard.label] as number[];
      intended += shard.length;
      for (let t = 0; t < shard.length; t++) own.add(pool[(shard.start + t) % pool.length] as number);
    }
    intended = Math.min(intended, size);
    // Overlapping wrapped shards (only when examples must be shared): top up from the same labels.
    for (const shard of mine) {
      for (const index of pools[shard.label] as number[]) {
        if (own.size >= intended) break;
        own.add(index);
      }
    }
    return [...own].slice(0, size);
  });
}

/**
 * Label skew after Hsu et al. (2019): each participant draws label proportions q ~ Dir(alpha); q is then
 * balanced against what each label holds (see balanceDemand), and participants draw their examples one at a time (participants take turns in a fresh random order every round, so nobody is
 * systematically last when a popular label runs out). A draw from an exhausted label goes to the participant's
 * other labels in proportion to q. Every participant gets exactly `perParticipant` examples (balanced sizes);
 * small alpha -> one or two dominant labels, large alpha -> close to IID. When all examples are used up the
 * data is reused (see the module comment).
 */
export function partitionDirichlet(
  labels: ArrayLike<number>,
  participants: number,
  seed: number,
  alpha: number,
  options: PartitionOptions = {},
): number[][] {
  if (!Number.isFinite(alpha) || alpha <= 0) throw new Error(`dirichlet alpha must be a positive number, got ${alpha}`);
  const count = labels.length;
  const size = resolveSize(count, participants, options);
  const rng = createRng(deriveSeed(seed, 'partition', 'dirichlet'));
  const pools = poolsByLabel(labels, rng);
  const classes = pools.length;
  const present = pools.map((pool) => (pool.length > 0 ? 1 : 0));
  const proportions = Array.from({ length: participants }, () => {
    const q = new Float64Array(classes);
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      q[c] = present[c] ? rng.gamma(alpha) : 0;
      sum += q[c] as number;
    }
    // Tiny alpha can underflow every draw to 0: fall back to uniform.
    for (let c = 0; c < classes; c++) q[c] = sum > 0 && Number.isFinite(sum) ? (q[c] as number) / sum : (present[c] as number);
    return q;
  });
  // Limits in units of one participant: each label's examples, times the passes over the data if it is reused.
  const passes = Math.max(1, (participants * size) / count);
  balanceDemand(
    proportions,
    pools.map((pool) => (pool.length * passes) / size),
  );
  const next = new Int32Array(classes);
  let left = count;
  let owned: Set<number>[] | null = null; // only needed once examples are reused
  const out = Array.from({ length: participants }, () => [] as number[]);
  const order = range(participants);
  const weights = new Float64Array(classes);

  const draw = (p: number): void => {
    if (left === 0) {
      // Every example is used: start another pass over the data, never repeating within a participant.
      next.fill(0);
      for (const pool of pools) rng.shuffle(pool);
      left = count;
      owned ??= out.map((mine) => new Set(mine));
    }
    const q = proportions[p] as Float64Array;
    const excluded = new Uint8Array(classes);
    for (;;) {
      let total = 0;
      let available = 0;
      for (let c = 0; c < classes; c++) {
        const open = !excluded[c] && (next[c] as number) < (pools[c] as number[]).length;
        weights[c] = open ? (q[c] as number) : 0;
        total += weights[c] as number;
        available += open ? 1 : 0;
      }
      if (available === 0) return; // this participant already holds everything left in this pass
      let label = -1;
      if (total > 0) {
        let u = rng.next() * total;
        for (let c = 0; c < classes; c++) {
          u -= weights[c] as number;
          if (weights[c] && u < 0) {
            label = c;
            break;
          }
        }
        if (label < 0) label = lastPositive(weights);
      } else {
        // Only labels this participant gave zero weight remain: take any of them uniformly.
        let k = rng.int(available);
        for (let c = 0; c < classes && label < 0; c++) {
          if (!excluded[c] && (next[c] as number) < (pools[c] as number[]).length && k-- === 0) label = c;
        }
      }
      const pool = pools[label] as number[];
      let at = next[label] as number;
      const mine = owned?.[p];
      if (mine) {
        while (at < pool.length && mine.has(pool[at] as number)) at++;
        if (at === pool.length) {
          excluded[label] = 1;
          continue;
        }
        const start = next[label] as number;
        [pool[start], pool[at]] = [pool[at] as number, pool[start] as number];
        at = start;
      }
      const index = pool[at] as number;
      next[label] = at + 1;
      left--;
      out[p]?.push(index);
      mine?.add(index);
      return;
    }
  };

  for (let round = 0; round < size; round++) {
    rng.shuffle(order);
    for (const p of order) draw(p);
  }
  return out;
}

/**
 * Iterative proportional fitting on the participants x labels demand matrix (rows sum to 1): scales label columns
 * down to what the data holds and rows back to 1, so that few draws find their label exhausted. Without it
 * popular labels run dry early and late draws spill into the global mix, washing out the skew (mean top-label
 * share at alpha 0.05, N = 10, all 10,000 digits used: 0.55 unbalanced, 0.68 balanced; the raw Dir draws, 0.78).
 */
function balanceDemand(rows: Float64Array[], limits: readonly number[], iterations = 100): void {
  for (let it = 0; it < iterations; it++) {
    let worst = 1;
    limits.forEach((limit, c) => {
      let demand = 0;
      for (const q of rows) demand += q[c] as number;
      if (demand <= limit) return;
      worst = Math.max(worst, demand / limit);
      for (const q of rows) q[c] = ((q[c] as number) * limit) / demand;
    });
    if (worst < 1.001) return;
    for (const q of rows) {
      let sum = 0;
      for (const v of q) sum += v;
      if (sum > 0) for (let c = 0; c < q.length; c++) q[c] = (q[c] as number) / sum;
    }
  }
}

/** How many of `indices` carry each label (length = classes). */
export function labelCounts(labels: ArrayLike<number>, indices: readonly number[], classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const index of indices) {
    const label = labels[index] as number;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}

function resolveSize(count: number, participants: number, options: PartitionOptions): number {
  if (!Number.isInteger(participants) || participants < 1) throw new Error(`participants must be a positive integer, got ${participants}`);
  if (count === 0) throw new Error('cannot partition an empty dataset');
  const min = options.minPerParticipant ?? 1;
  if (!Number.isInteger(min) || min < 1) throw new Error(`minPerParticipant must be a positive integer, got ${min}`);
  if (min > count) throw new Error(`minPerParticipant ${min} exceeds the ${count} examples available`);
  const given = options.perParticipant;
  if (given !== undefined && (!Number.isInteger(given) || given < 1))
    throw new Error(`perParticipant must be a positive integer, got ${given}`);
  const wanted = given ?? Math.floor(count / participants);
  return Math.min(count, Math.max(min, wanted));
}

/** Example indices grouped by label (index = label), each group in seeded random order. */
function poolsByLabel(labels: ArrayLike<number>, rng: Rng): number[][] {
  const pools: number[][] = [];
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    if (!Number.isInteger(label) || label < 0 || label > 0xffff) throw new Error(`label ${label} of example ${i} is not a class index`);
    while (pools.length <= label) pools.push([]);
    pools[label]?.push(i);
  }
  for (const pool of pools) rng.shuffle(pool);
  return pools;
}

/** Largest-remainder apportionment of `total` in proportion to `weights`; ties broken at random. */
function apportion(weights: readonly number[], total: number, rng: Rng): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const quotas = weights.map((w) => (w * total) / sum);
  const counts = quotas.map(Math.floor);
  let left = total - counts.reduce((a, b) => a + b, 0);
  const byRemainder = quotas
    .map((q, i) => ({ i, rest: q - Math.floor(q), tie: rng.next() }))
    .filter(({ i }) => (weights[i] ?? 0) > 0)
    .sort((a, b) => b.rest - a.rest || a.tie - b.tie);
  for (let k = 0; left > 0; k = (k + 1) % byRemainder.length, left--) {
    const { i } = byRemainder[k] as { i: number };
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}

function lastPositive(weights: Float64Array): number {
  for (let c = weights.length - 1; c >= 0; c--) if ((weights[c] as number) > 0) return c;
  return -1;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
