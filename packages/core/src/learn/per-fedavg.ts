import { forward } from '../model/forward.js';
import type { ModelSpec } from '../model/spec.js';
import { tf } from '../tf.js';
import { hessianVectorProduct } from './hessian-vector.js';
import { taskLoss } from './loss.js';

type Batch = [tf.Tensor, tf.Tensor2D];

/**
 * One Per-FedAvg local meta-step's gradient (Fallah et al. 2020): adapt one SGD step on the support batch,
 * w̃ = w − α∇L_s(w), take the query gradient g = ∇L_q(w̃), and return (I − α∇²L_h(w)) g where `hessian` is a third,
 * independent batch of the inner task (the paper's D''). Without `hessian` it is the first-order variant (FO), g
 * itself. The Hessian-free variant (HF) forms ∇²L_h(w) g as a central difference of two gradients, so it needs no
 * second derivative: it works for the CNN, which TF.js cannot differentiate twice. One inner step only, as in the
 * paper: with more, the product would need one Hessian per step. The caller owns the result.
 */
export function perFedAvgGradient(
  spec: ModelSpec,
  params: readonly tf.Tensor[],
  support: Batch,
  query: Batch,
  hessian: Batch | null,
  innerLr: number,
): { grads: tf.Tensor[]; loss: tf.Scalar } {
  return tf.tidy(() => {
    const [sx, sy] = support;
    const [qx, qy] = query;
    const inner = tf.grads((...ws: tf.Tensor[]) => taskLoss(spec, forward(spec, ws, sx), sy))([...params]);
    const adapted = params.map((p, i) => tf.sub(p, tf.mul(inner[i] as tf.Tensor, innerLr)));
    const { value, grads } = tf.valueAndGrads((...ws: tf.Tensor[]) => taskLoss(spec, forward(spec, ws, qx), qy))(adapted);
    if (!hessian) return { grads, loss: value };
    const hv = hessianVectorProduct(spec, params, hessian[0], hessian[1], grads);
    return { grads: grads.map((g, i) => tf.sub(g, tf.mul(hv[i] as tf.Tensor, innerLr))), loss: value };
  });
}
