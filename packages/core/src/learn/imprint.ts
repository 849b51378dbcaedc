import type { Examples } from '../data/dataset.js';
import { features, outputLayerIndex } from '../model/forward.js';
import { weightLayout } from '../model/layout.js';
import { disposeAll, toTensors } from '../model/params.js';
import type { ModelSpec } from '../model/spec.js';
import { tf } from '../tf.js';
import { toBatch } from './batch.js';
import { headOffset } from './federated-layout.js';
import { headLength } from './local-model.js';

/**
 * A newcomer's head from its support set (weight imprinting, Qi et al. 2018), for a classifier whose `weights` hold
 * the body and a fresh head (learn/local-model.ts): the output layer's column for class c becomes the mean of c's
 * support features μ_c, and its bias −‖μ_c‖²/2, so the logits rank classes as the nearest class mean does (Tian et al.
 * 2020's strong few-shot baseline) and gradient steps start from there instead of from a head that predicts nothing.
 * A class missing from the support set gets a zero column and a bias below every present class's lowest logit (the
 * features are ReLU outputs, ≥ 0), so it is never predicted until a step teaches it. Returns the head's weights
 * (from `headOffset`), or null where there is nothing to imprint: a regression model or an empty support set.
 */
export async function imprintedHead(model: ModelSpec, weights: Float32Array, support: Examples): Promise<Float32Array | null> {
  if (model.task !== 'classification' || support.count === 0) return null;
  const layout = weightLayout(model);
  const out = outputLayerIndex(model);
  const kernel = layout[2 * out]!;
  const bias = layout[2 * out + 1]!;
  const [width, classes] = kernel.shape as [number, number];
  const params = toTensors(model, weights);
  let feats: Float32Array;
  try {
    const computed = tf.tidy(() => {
      const [x] = toBatch(
        model,
        support,
        Array.from({ length: support.count }, (_, i) => i),
      );
      return features(model, params, x);
    });
    // Read without blocking (model/params.ts readTensors: WebGPU's software adapter cannot read synchronously).
    feats = (await computed.data()) as Float32Array;
    computed.dispose();
  } finally {
    disposeAll(params);
  }
  const sums = new Float64Array(width * classes);
  const counts = new Float64Array(classes);
  for (let i = 0; i < support.count; i++) {
    const c = support.y[i]!;
    counts[c]! += 1;
    for (let f = 0; f < width; f++) sums[f * classes + c]! += feats[i * width + f]!;
  }
  const imprinted = Float32Array.from(weights);
  let lowest = 0;
  for (let c = 0; c < classes; c++) {
    if (!counts[c]) continue;
    let norm = 0;
    for (let f = 0; f < width; f++) {
      const mean = sums[f * classes + c]! / counts[c]!;
      imprinted[kernel.offset + f * classes + c] = mean;
      norm += mean * mean;
    }
    imprinted[bias.offset + c] = -norm / 2;
    lowest = Math.min(lowest, -norm / 2);
  }
  for (let c = 0; c < classes; c++) {
    if (counts[c]) continue;
    for (let f = 0; f < width; f++) imprinted[kernel.offset + f * classes + c] = 0;
    imprinted[bias.offset + c] = lowest - 1;
  }
  return imprinted.slice(headOffset(model));
}

/**
 * The head a participant of a personal-head run starts from: its own, if it kept one of this model's size (a head of
 * another size belongs to another model under the same run id), else one imprinted from its support set on the body
 * in `weights` (null for regression: the fresh zero head). `own` says which.
 */
export async function startingHead(
  model: ModelSpec,
  weights: Float32Array,
  kept: Float32Array | null,
  support: Examples,
): Promise<{ head: Float32Array | null; own: boolean }> {
  if (kept?.length === headLength(model)) return { head: kept, own: true };
  return { head: await imprintedHead(model, weights, support), own: false };
}
