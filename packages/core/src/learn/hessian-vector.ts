import { forward } from '../model/forward.js';
import type { ModelSpec } from '../model/spec.js';
import { tf } from '../tf.js';
import { taskLoss } from './loss.js';

/**
 * How far along the unit direction the two gradients are taken. Normalising the direction makes the step a fixed
 * distance in weight space whatever the scale of `v`: small enough that few ReLU kinks are crossed, large enough
 * that the float32 gradients' round-off (~1e-7 relative) stays far below the difference.
 */
export const HVP_DELTA = 1e-3;

/**
 * The Hessian of the batch loss at `params` times `v`, as a central difference of two gradients (Per-FedAvg's
 * Hessian-free product, Fallah et al. 2020): (∇L(w + δv̂) − ∇L(w − δv̂)) ‖v‖ / 2δ with v̂ = v / ‖v‖. Needs first-order
 * gradients only, so it works for every layer, the CNN's convolutions and pooling included. Caller owns the result.
 */
export function hessianVectorProduct(
  spec: ModelSpec,
  params: readonly tf.Tensor[],
  x: tf.Tensor,
  y: tf.Tensor2D,
  v: readonly tf.Tensor[],
  delta = HVP_DELTA,
): tf.Tensor[] {
  return tf.tidy(() => {
    // The norm stays a tensor (reading it would stall a GPU pipeline); a zero v gives a zero product, not NaN.
    const norm = tf.maximum(tf.sqrt(tf.addN(v.map((t) => tf.sum(tf.square(t))))), 1e-12);
    const gradient = (sign: number): tf.Tensor[] => {
      const step = tf.div(sign * delta, norm);
      const moved = params.map((p, i) => tf.add(p, tf.mul(v[i] as tf.Tensor, step)));
      return tf.grads((...ws: tf.Tensor[]) => taskLoss(spec, forward(spec, ws, x), y))(moved);
    };
    const plus = gradient(1);
    const minus = gradient(-1);
    const scale = tf.div(norm, 2 * delta);
    return plus.map((g, i) => tf.mul(tf.sub(g, minus[i] as tf.Tensor), scale));
  });
}
