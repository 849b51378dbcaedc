import { parameterCount, segmentSizes, weightLayout } from '../model/layout.js';
import type { ModelSpec } from '../model/spec.js';
import type { Algorithm } from './hyper.js';

/**
 * What a run federates: the model's weights; for Meta-SGD its learned per-weight inner learning rates after
 * them, in the same layout; for fedrep and fedper only the body, the layers before the personal head. The hub
 * aggregates, clips, checkpoints and sends the whole vector, so a Meta-SGD run moves twice the model's parameters
 * each way per round and a personal-head run the body's. Free of TF.js: the protocol's schema sizes runs with it.
 */
export function learnsRates(algorithm: Algorithm): boolean {
  return algorithm === 'meta-sgd';
}

/** fedrep and fedper: each participant keeps the model's head (its last `head` layers) and shares the body. */
export function keepsHead(algorithm: Algorithm): boolean {
  return algorithm === 'fedrep' || algorithm === 'fedper';
}

function layerCount(model: ModelSpec): number {
  return model.kind === 'mlp' ? model.hidden.length + 1 : model.filters.length + 1;
}

/** Why this model has no shared body under a personal head (null if it has one). */
export function headProblem(model: ModelSpec): string | null {
  const head = model.head ?? 1;
  const layers = layerCount(model);
  if (head < layers) return null;
  return `a head of ${head} layer${head === 1 ? '' : 's'} leaves no shared body in this ${layers}-layer ${model.kind}: lower model.head or add a layer`;
}

/** Where the head starts in the flat weight layout: the body is every weight before it. */
export function headOffset(model: ModelSpec): number {
  const problem = headProblem(model);
  if (problem) throw new Error(problem);
  // Two tensors (kernel, bias) per layer.
  return weightLayout(model)[2 * (layerCount(model) - (model.head ?? 1))]!.offset;
}

export function federatedLength(model: ModelSpec, algorithm: Algorithm): number {
  if (keepsHead(algorithm)) return headOffset(model);
  return parameterCount(model) * (learnsRates(algorithm) ? 2 : 1);
}

/** The delta codec's segments: one int8 scale per tensor, the rates' tensors scaled apart from the weights'. */
export function federatedSegments(model: ModelSpec, algorithm: Algorithm): number[] {
  const sizes = segmentSizes(model);
  if (keepsHead(algorithm)) return sizes.slice(0, 2 * (layerCount(model) - (model.head ?? 1)));
  return learnsRates(algorithm) ? [...sizes, ...sizes] : sizes;
}

/**
 * The weights and (Meta-SGD) the rates of a federated vector, as views that share its memory. Under a personal head
 * the weights are the body alone: learn/local-model.ts puts a participant's head after them.
 */
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
