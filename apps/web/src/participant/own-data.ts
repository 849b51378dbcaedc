import type { Examples } from '@tabula/core';
import { MNIST_SIDE } from './image-to-mnist.js';

/** One digit the user drew or uploaded; it stays in this browser (IndexedDB). */
export interface OwnDigit {
  readonly id: string;
  /** 0..9 */
  readonly label: number;
  /** 28x28 grey levels, ink = 255. */
  readonly pixels: Uint8Array;
  /** Epoch milliseconds: the split below depends on this order only. */
  readonly createdAt: number;
}

/** Below this many digits the page says the set is too small to train on and offers no examples to the hub. */
export const MIN_OWN_EXAMPLES = 10;

/** Per label, in the order drawn: support, query, support, test, ... (half support, a quarter each for query and test). */
const PATTERN = ['support', 'query', 'support', 'test'] as const;
type Part = (typeof PATTERN)[number];

export interface OwnSplit {
  readonly support: Examples;
  readonly query: Examples;
  readonly test: Examples;
}

/**
 * Support / query / test, deterministically: each label's digits in the order they were made cycle through
 * PATTERN, so every split sees every label and adding a digit never moves an older one. With fewer than
 * three digits no split can be made (null); query and test are topped up from support when empty.
 */
export function splitOwnData(digits: readonly OwnDigit[]): OwnSplit | null {
  if (digits.length < 3) return null;
  const ordered = [...digits].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const seen = new Map<number, number>();
  const parts: Record<Part, OwnDigit[]> = { support: [], query: [], test: [] };
  for (const digit of ordered) {
    const k = seen.get(digit.label) ?? 0;
    seen.set(digit.label, k + 1);
    parts[PATTERN[k % PATTERN.length] as Part].push(digit);
  }
  for (const part of ['query', 'test'] as const) {
    if (parts[part].length === 0) {
      const moved = parts.support.pop();
      if (moved) parts[part].push(moved);
    }
  }
  return { support: toExamples(parts.support), query: toExamples(parts.query), test: toExamples(parts.test) };
}

export function toExamples(digits: readonly OwnDigit[]): Examples {
  const features = MNIST_SIDE * MNIST_SIDE;
  const x = new Float32Array(digits.length * features);
  const y = new Float32Array(digits.length);
  digits.forEach((digit, i) => {
    if (digit.pixels.length !== features) throw new Error(`digit ${digit.id} has ${digit.pixels.length} pixels, expected ${features}`);
    for (let f = 0; f < features; f++) x[i * features + f] = (digit.pixels[f] as number) / 255;
    y[i] = digit.label;
  });
  return { count: digits.length, x, y };
}

export interface OwnDataSummary {
  /** Digits per label 0..9. */
  readonly counts: readonly number[];
  readonly total: number;
  readonly trainable: boolean;
  /** What the page says about the set. */
  readonly message: string;
}

export function summarizeOwnData(digits: readonly OwnDigit[]): OwnDataSummary {
  const counts = Array.from({ length: 10 }, () => 0);
  for (const digit of digits) counts[digit.label] = (counts[digit.label] ?? 0) + 1;
  const total = digits.length;
  const trainable = total >= MIN_OWN_EXAMPLES;
  const labels = counts.filter((c) => c > 0).length;
  const message = trainable
    ? `${total} digits of ${labels} label${labels === 1 ? '' : 's'}: enough to take part.`
    : `${total} digit${total === 1 ? '' : 's'}: too few to train on. Add at least ${MIN_OWN_EXAMPLES - total} more (${MIN_OWN_EXAMPLES} in all).`;
  return { counts, total, trainable, message };
}
