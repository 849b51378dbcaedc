import { initialWeights } from '../model/params.js';
import type { ModelSpec } from '../model/spec.js';
import { headOffset, keepsHead, learnsRates } from './federated-layout.js';
import type { Algorithm } from './hyper.js';

/**
 * A run's starting vector: seeded weights, and (Meta-SGD) every learned rate at the configured inner learning rate;
 * under a personal head (fedrep, fedper) the body's weights alone.
 */
export function initialFederated(model: ModelSpec, algorithm: Algorithm, seed: number, innerLr: number): Float32Array {
  const weights = initialWeights(model, seed);
  if (keepsHead(algorithm)) return weights.slice(0, headOffset(model));
  if (!learnsRates(algorithm)) return weights;
  const vector = new Float32Array(weights.length * 2).fill(innerLr);
  vector.set(weights);
  return vector;
}
