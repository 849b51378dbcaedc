// Checks for the accountant's inputs. Every public function of the accountant calls them first, so a bad value fails
// with a sentence that names the parameter instead of producing NaN or a silently wrong ε.

/** A parameter outside its domain; the privacy CLI reports it as a usage error. */
export class PrivacyParameterError extends RangeError {
  override readonly name = 'PrivacyParameterError';
}

function fail(message: string): never {
  throw new PrivacyParameterError(message);
}

/** q: each participant's probability of taking part in a round (Poisson sampling), in [0, 1]. */
export function checkSamplingRate(q: number): number {
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) fail(`the sampling rate must be a number in [0, 1], got ${String(q)}`);
  return q;
}

/**
 * z: noise standard deviation over the clipping norm. Must be finite and ≥ 0; z = 0 (no noise) is allowed and gives
 * ε = ∞ whenever anything is released (q > 0 and at least one round), as in dp_accounting.
 */
export function checkNoiseMultiplier(z: number): number {
  if (typeof z !== 'number' || !Number.isFinite(z) || z < 0) fail(`the noise multiplier must be a finite number ≥ 0, got ${String(z)}`);
  return z;
}

/** T: the number of rounds (compositions), an integer ≥ 0. */
export function checkRounds(t: number): number {
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) fail(`the number of rounds must be an integer ≥ 0, got ${String(t)}`);
  return t;
}

/** δ: the failure probability of the (ε, δ) guarantee, in (0, 1). */
export function checkDelta(delta: number): number {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) fail(`delta must be a number in (0, 1), got ${String(delta)}`);
  return delta;
}

/** ε: a privacy budget, finite and ≥ 0. */
export function checkEpsilon(epsilon: number): number {
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < 0)
    fail(`epsilon must be a finite number ≥ 0, got ${String(epsilon)}`);
  return epsilon;
}

/** Rényi orders: a non-empty list of finite numbers > 1. */
export function checkOrders(orders: readonly number[]): readonly number[] {
  const list: unknown = orders; // callers from plain JavaScript may pass anything
  if (!Array.isArray(list) || list.length === 0) fail('the list of Rényi orders must not be empty');
  for (const a of orders) {
    if (typeof a !== 'number' || !Number.isFinite(a) || a <= 1) fail(`every Rényi order must be a finite number > 1, got ${String(a)}`);
  }
  return orders;
}
