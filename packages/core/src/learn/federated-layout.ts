import { parameterCount, segmentSizes } from '../model/layout.js';
import type { ModelSpec } from '../model/spec.js';
import type { Algorithm } from './hyper.js';

/**
 * What a run federates: the model's weights, and for Meta-SGD its learned per-weight inner learning rates after
 * them, in the same layout. The hub aggregates, clips, checkpoints and sends the whole vector, so a Meta-SGD run
 * moves twice the model's parameters each way per round. Free of TF.js: the protocol's schema sizes runs with it.
 */
export function learnsRates(algorithm: Algorithm): boolean {
  return algorithm === 'meta-sgd';
}

export function federatedLength(model: ModelSpec, algorithm: Algorithm): number {
  return parameterCount(model) * (learnsRates(algorithm) ? 2 : 1);
}

/** The delta codec's segments: one int8 scale per tensor, the rates' tensors scaled apart from the weights'. */
export function federatedSegments(model: ModelSpec, algorithm: Algorithm): number[] {
  const sizes = segmentSizes(model);
  return learnsRates(algorithm) ? [...sizes, ...sizes] : sizes;
}

/** The weights and (Meta-SGD) the rates of a federated vector, as views that share its memory. */
export function splitFederated(
  model: ModelSpec,
  algorithm: Algorithm,
  vector: Float32Array,
): { weights: Float32Array; rates: Float32Array | null } {
  const expected = federatedLength(model, algorithm);
  if (vector.length !== expected) throw new Error(`${algorithm} on this ${model.kind} federates ${expected} values, got ${vector.length}`);
  if (!learnsRates(algorithm)) return { weights: vector, rates: null };
  const p = parameterCount(model);
  return { weights: vector.subarray(0, p), rates: vector.subarray(p) };
}
