import { forward } from '../model/forward.js';
import type { ModelSpec } from '../model/spec.js';
import { tf } from '../tf.js';
import { taskLoss } from './loss.js';

/** Weights after `lr`-scaled steps along `grads`. Returns new tensors; disposes nothing. */
export function applyStep(params: readonly tf.Tensor[], grads: readonly tf.Tensor[], lr: number): tf.Tensor[] {
  return tf.tidy(() => params.map((p, i) => tf.sub(p, tf.mul(grads[i] as tf.Tensor, lr))));
}

/** Tensors [from, to) of the layout (kernel and bias per layer): the ones a step trains, the others held fixed. */
export interface TensorRange {
  readonly from: number;
  readonly to: number;
}

/**
 * One plain SGD step on a batch, of every tensor or of `only` (fedrep's head or body). Returns the new weights and the
 * batch loss before the step (a scalar tensor: reading it would stall a GPU pipeline every step). The caller owns
 * all returned tensors.
 */
export function sgdStep(
  spec: ModelSpec,
  params: readonly tf.Tensor[],
  x: tf.Tensor,
  y: tf.Tensor2D,
  lr: number,
  only: TensorRange = { from: 0, to: params.length },
): { params: tf.Tensor[]; loss: tf.Scalar } {
  return tf.tidy(() => {
    const trained = params.slice(only.from, only.to);
    // Differentiating the trained tensors alone: fixed ones cost no gradient.
    const { value, grads } = tf.valueAndGrads((...ws: tf.Tensor[]) =>
      taskLoss(spec, forward(spec, [...params.slice(0, only.from), ...ws, ...params.slice(only.to)], x), y),
    )(trained);
    const stepped = applyStep(trained, grads, lr);
    return { params: params.map((p, i) => (i >= only.from && i < only.to ? stepped[i - only.from]! : p.clone())), loss: value };
  });
}

/** `steps` SGD steps on one batch from `params` (e.g. MAML's inner loop, adaptation). Caller owns the result. */
export function adaptOnBatch(
  spec: ModelSpec,
  params: readonly tf.Tensor[],
  x: tf.Tensor,
  y: tf.Tensor2D,
  lr: number,
  steps: number,
): tf.Tensor[] {
  // clone() shares the data; it only gives the loop tensors of its own to dispose.
  let current = params.map((p) => p.clone());
  for (let s = 0; s < steps; s++) {
    const next = sgdStep(spec, current, x, y, lr);
    next.loss.dispose();
    for (const t of current) t.dispose();
    current = next.params;
  }
  return current;
}

/**
 * The MAML meta-gradient (Finn et al. 2017) of the query loss with respect to the initial weights,
 * differentiating through `innerSteps` SGD steps on the support batch (second order). Exact only for models
 * built from ops TF.js differentiates twice correctly (see secondOrderBlocker and crossEntropyExact).
 */
export function mamlGradient(
  spec: ModelSpec,
  params: readonly tf.Tensor[],
  support: [tf.Tensor, tf.Tensor2D],
  query: [tf.Tensor, tf.Tensor2D],
  innerLr: number,
  innerSteps: number,
): { grads: tf.Tensor[]; loss: tf.Scalar } {
  return tf.tidy(() => {
    const [sx, sy] = support;
    const [qx, qy] = query;
    const queryLossAfterAdaptation = (...ws: tf.Tensor[]): tf.Scalar => {
      let fast = ws;
      for (let s = 0; s < innerSteps; s++) {
        const g = tf.grads((...vs: tf.Tensor[]) => taskLoss(spec, forward(spec, vs, sx), sy, true))(fast);
        fast = fast.map((w, i) => tf.sub(w, tf.mul(g[i] as tf.Tensor, innerLr)));
      }
      return taskLoss(spec, forward(spec, fast, qx), qy, true);
    };
    const { value, grads } = tf.valueAndGrads(queryLossAfterAdaptation)([...params]);
    return { grads, loss: value };
  });
}

/**
 * The first-order MAML gradient: the query-loss gradient at the adapted weights, applied to the initial ones.
 * Works with any layer, since nothing is differentiated twice.
 */
export function fomamlGradient(
  spec: ModelSpec,
  params: readonly tf.Tensor[],
  support: [tf.Tensor, tf.Tensor2D],
  query: [tf.Tensor, tf.Tensor2D],
  innerLr: number,
  innerSteps: number,
): { grads: tf.Tensor[]; loss: tf.Scalar } {
  const adapted = adaptOnBatch(spec, params, support[0], support[1], innerLr, innerSteps);
  const result = tf.tidy(() => {
    const [qx, qy] = query;
    const { value, grads } = tf.valueAndGrads((...ws: tf.Tensor[]) => taskLoss(spec, forward(spec, ws, qx), qy))(adapted);
    return { grads, loss: value };
  });
  for (const t of adapted) t.dispose();
  return result;
}
