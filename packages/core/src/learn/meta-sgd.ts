import { forward, secondOrderBlocker } from '../model/forward.js';
import type { ModelSpec } from '../model/spec.js';
import { tf } from '../tf.js';
import { taskLoss } from './loss.js';

type Batch = [tf.Tensor, tf.Tensor2D];

/** One Meta-SGD adaptation step, w − α ⊙ ∇L(w), with a learned rate per weight. The caller owns the result. */
export function metaSgdStep(
  spec: ModelSpec,
  params: readonly tf.Tensor[],
  rates: readonly tf.Tensor[],
  x: tf.Tensor,
  y: tf.Tensor2D,
): { params: tf.Tensor[]; loss: tf.Scalar } {
  return tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((...ws: tf.Tensor[]) => taskLoss(spec, forward(spec, ws, x), y))([...params]);
    return { params: params.map((p, i) => tf.sub(p, tf.mul(rates[i] as tf.Tensor, grads[i] as tf.Tensor))), loss: value };
  });
}

/**
 * The Meta-SGD meta-gradient (Li et al. 2017) of the query loss after `innerSteps` steps w ← w − α ⊙ ∇L_s(w), with
 * respect to both the initial weights and the per-weight rates α. Second order through the inner steps where TF.js
 * differentiates the model exactly (the MLPs); for the CNN, which it cannot differentiate twice, first order: the
 * weights get the query gradient at the adapted weights (as FOMAML), the rates −Σ_k ∇L_q ⊙ ∇L_s(w_k), which is
 * exact for one inner step. The caller owns the result.
 */
export function metaSgdGradient(
  spec: ModelSpec,
  params: readonly tf.Tensor[],
  rates: readonly tf.Tensor[],
  support: Batch,
  query: Batch,
  innerSteps: number,
): { weightGrads: tf.Tensor[]; rateGrads: tf.Tensor[]; loss: tf.Scalar } {
  const [sx, sy] = support;
  const [qx, qy] = query;
  const n = params.length;
  return tf.tidy(() => {
    if (secondOrderBlocker(spec) === null) {
      const queryLossAfterAdaptation = (...all: tf.Tensor[]): tf.Scalar => {
        let fast = all.slice(0, n);
        const alphas = all.slice(n);
        for (let s = 0; s < innerSteps; s++) {
          const g = tf.grads((...vs: tf.Tensor[]) => taskLoss(spec, forward(spec, vs, sx), sy, true))(fast);
          fast = fast.map((w, i) => tf.sub(w, tf.mul(alphas[i] as tf.Tensor, g[i] as tf.Tensor)));
        }
        return taskLoss(spec, forward(spec, fast, qx), qy, true);
      };
      const { value, grads } = tf.valueAndGrads(queryLossAfterAdaptation)([...params, ...rates]);
      return { weightGrads: grads.slice(0, n), rateGrads: grads.slice(n), loss: value };
    }
    let fast: tf.Tensor[] = [...params];
    const supportGrads: tf.Tensor[][] = [];
    for (let s = 0; s < innerSteps; s++) {
      const g = tf.grads((...vs: tf.Tensor[]) => taskLoss(spec, forward(spec, vs, sx), sy))(fast);
      supportGrads.push(g);
      fast = fast.map((w, i) => tf.sub(w, tf.mul(rates[i] as tf.Tensor, g[i] as tf.Tensor)));
    }
    const { value, grads } = tf.valueAndGrads((...ws: tf.Tensor[]) => taskLoss(spec, forward(spec, ws, qx), qy))(fast);
    const rateGrads = grads.map((q, i) => tf.neg(tf.mul(q, tf.addN(supportGrads.map((g) => g[i] as tf.Tensor)))));
    return { weightGrads: grads, rateGrads, loss: value };
  });
}
