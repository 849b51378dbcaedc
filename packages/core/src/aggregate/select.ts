import { createRng, deriveSeed } from '../rng.js';

/** How many of the available participants train in a round. */
export interface SelectionOptions {
  /** Exactly this many (capped by availability); wins over `fraction`. */
  readonly perRound?: number;
  /** This share of the available ones, rounded up, in (0, 1]. Neither set: all of them. */
  readonly fraction?: number;
  /** At least this many when that many are available; default 1. */
  readonly minFit?: number;
}

/** Throws a specific error for an unusable selection option. */
export function validateSelectionOptions(options: SelectionOptions, what = 'selection'): void {
  const { perRound, fraction, minFit } = options;
  if (perRound !== undefined && (!Number.isInteger(perRound) || perRound <= 0)) {
    throw new RangeError(`${what}: perRound must be a positive integer, got ${perRound}`);
  }
  if (fraction !== undefined && (!Number.isFinite(fraction) || fraction <= 0 || fraction > 1)) {
    throw new RangeError(`${what}: fraction must be in (0, 1], got ${fraction}`);
  }
  if (minFit !== undefined && (!Number.isInteger(minFit) || minFit < 0)) {
    throw new RangeError(`${what}: minFit must be a non-negative integer, got ${minFit}`);
  }
}

/** Number of participants to select out of `available`. */
export function fitCount(available: number, options: SelectionOptions): number {
  const { perRound, fraction, minFit = 1 } = options;
  // the epsilon keeps 0.07 · 100 = 7.000000000000001 from rounding up to 8
  const wanted = perRound ?? (fraction === undefined ? available : Math.ceil(fraction * available - 1e-9));
  return Math.min(available, Math.max(wanted, minFit));
}

/**
 * Seeded, deterministic selection: the same seed, round and set of ids give the same participants whatever order
 * the registry lists them in (ids are sorted first). Returns the selected ids sorted.
 */
export function selectParticipants(seed: number, round: number, available: readonly string[], options: SelectionOptions): string[] {
  if (!Number.isInteger(round) || round < 0) throw new RangeError(`selection: round must be a non-negative integer, got ${round}`);
  const ids = [...available].sort();
  for (let i = 1; i < ids.length; i++) {
    if (ids[i] === ids[i - 1]) throw new Error(`selection: participant id '${ids[i]}' is listed twice`);
  }
  const k = fitCount(ids.length, options);
  return createRng(deriveSeed(seed, 'select', round))
    .sample(ids, k)
    .sort();
}
