import { tf } from '../tf.js';
import type { ModelSpec } from '../model/spec.js';

/**
 * Cross-entropy from logits built only from ops whose gradients TF.js can itself differentiate exactly
 * (sub/mean/expm1/add/log/mul/sum). tf.losses.softmaxCrossEntropy, softmax, logSoftmax and exp give
 * silently wrong second derivatives in TF.js 4.22 (tensorflow/tfjs#3252): their gradients reuse the saved
 * forward output, which the tape does not differentiate. Mean-centering (not max-subtraction, whose gradient
 * is a mask) keeps exp in range for the logit spreads a classifier in training sees.
 */
export function crossEntropyExact(logits: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  const centered = tf.sub(logits, tf.mean(logits, 1, true));
  const logSumExp = tf.log(tf.sum(tf.add(tf.expm1(centered), 1), 1));
  return tf.mean(tf.sub(logSumExp, tf.sum(tf.mul(centered, oneHot), 1)));
}

/** The task's training loss. `secondOrder` selects the exactly twice-differentiable form (full MAML). */
export function taskLoss(spec: ModelSpec, output: tf.Tensor2D, target: tf.Tensor2D, secondOrder = false): tf.Scalar {
  if (spec.task === 'regression') return tf.mean(tf.square(tf.sub(output, target)));
  return secondOrder ? crossEntropyExact(output, target) : tf.losses.softmaxCrossEntropy<tf.Tensor2D, tf.Scalar>(target, output);
}

/** Number of correct predictions (classification) or summed squared error (regression), as a scalar. */
export function scoreSum(spec: ModelSpec, output: tf.Tensor2D, target: tf.Tensor2D): tf.Scalar {
  if (spec.task === 'regression') return tf.sum(tf.square(tf.sub(output, target)));
  return tf.sum(tf.cast(tf.equal(tf.argMax(output, 1), tf.argMax(target, 1)), 'float32'));
}
