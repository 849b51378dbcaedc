import { parameterCount, weightLayout } from '../model/layout.js';
import { initialWeights } from '../model/params.js';
import type { ModelSpec } from '../model/spec.js';
import { headOffset, keepsHead, splitFederated } from './federated-layout.js';
import type { Algorithm } from './hyper.js';

/** The model a participant computes with, from the run's federated vector and (fedrep, fedper) its own head. */
export interface LocalModel {
  /** Every weight of the model, in layout order (a copy where a head was joined to the body). */
  readonly weights: Float32Array;
  /** Meta-SGD's learned per-weight rates, else null. */
  readonly rates: Float32Array | null;
  /** The first flat index that adaptation trains: 0, or where the personal head starts (only the head adapts). */
  readonly adaptFrom: number;
}

// Any fixed seed: every participant without a head of its own starts from the same one, as every run starts from one model.
const FRESH_HEAD_SEED = 0x7ead;

/**
 * The head a participant starts from before it has one (a new or held-out participant): seeded Glorot layers whose
 * output layer is zero, so the first fit of a one-layer head is a convex problem (logistic or least squares on the
 * body's features) and its prediction starts neutral (uniform classes, zero regression), not random.
 */
export function freshHead(model: ModelSpec): Float32Array {
  const head = initialWeights(model, FRESH_HEAD_SEED).slice(headOffset(model));
  const layout = weightLayout(model);
  const outputKernel = layout[layout.length - 2]!;
  head.fill(0, outputKernel.offset - headOffset(model));
  return head;
}

export function headLength(model: ModelSpec): number {
  return parameterCount(model) - headOffset(model);
}

/**
 * The full model for a global vector. Under a personal head: the global body and `head` (a fresh head when null or
 * of another model's size), and adaptation trains the head alone, as FedRep fits a new participant's head.
 */
export function localModel(model: ModelSpec, algorithm: Algorithm, global: Float32Array, head: Float32Array | null = null): LocalModel {
  const { weights, rates } = splitFederated(model, algorithm, global);
  if (!keepsHead(algorithm)) return { weights, rates, adaptFrom: 0 };
  return withHead(model, weights, head);
}

/**
 * `weights`' body with `head` (fresh when null or of another size), adapting the head alone: FedRep's newcomer, and
 * the "FedAvg body + a linear head fitted on the support set" baseline design/learning.md asks meta-learning to beat.
 */
export function withHead(model: ModelSpec, weights: Float32Array, head: Float32Array | null = null): LocalModel {
  const from = headOffset(model);
  const full = new Float32Array(parameterCount(model));
  full.set(weights.subarray(0, from));
  full.set(head && head.length === full.length - from ? head : freshHead(model), from);
  return { weights: full, rates: null, adaptFrom: from };
}
