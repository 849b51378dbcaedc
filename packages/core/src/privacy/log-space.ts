// Sums of positive numbers held as their logarithms, so that terms like C(α,k)·q^k·exp(k²/(2z²)) neither overflow nor
// underflow (the RDP series for large orders and small noise multipliers spans thousands of orders of magnitude).

/** log(e^a + e^b); −Infinity stands for 0. */
export function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (lo === Number.NEGATIVE_INFINITY) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** log(e^a − e^b) for a ≥ b; −Infinity when they are equal, NaN when a < b (the difference would be negative). */
export function logSub(a: number, b: number): number {
  if (a < b) return Number.NaN;
  if (b === Number.NEGATIVE_INFINITY) return a;
  if (a === b) return Number.NEGATIVE_INFINITY;
  return a + Math.log(-Math.expm1(b - a));
}

/** log(Σ e^{x_i}) with the maximum factored out. */
export function logSumExp(xs: readonly number[]): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of xs) if (x > max) max = x;
  if (max === Number.NEGATIVE_INFINITY || max === Number.POSITIVE_INFINITY) return max;
  let sum = 0;
  for (const x of xs) sum += Math.exp(x - max);
  return max + Math.log(sum);
}
