import { tf } from '../tf.js';
import type { ModelSpec } from './spec.js';

/**
 * The model as a pure function of its weights: meta-learning differentiates through weight updates,
 * which a stateful LayersModel cannot do. Returns logits (classification) or predictions (regression).
 * `params` are in layout order (see layout.ts); must be called inside a tidy or gradient scope.
 */
export function forward(spec: ModelSpec, params: readonly tf.Tensor[], x: tf.Tensor): tf.Tensor2D {
  const out = outputLayerIndex(spec);
  const [kernel, bias] = [params[2 * out], params[2 * out + 1]];
  if (!kernel || !bias) throw new Error(`model ${spec.kind}: missing the output layer's weight tensors`);
  return tf.add<tf.Tensor2D>(tf.matMul(features(spec, params, x), kernel), bias);
}

/** The dense layer that makes the output: its kernel and bias are tensors 2i and 2i + 1 of the layout. */
export function outputLayerIndex(spec: ModelSpec): number {
  return spec.kind === 'mlp' ? spec.hidden.length : spec.filters.length;
}

/**
 * What the output layer sees: one row of features per example (the last hidden layer's ReLU activations; the CNN's
 * flattened pooled maps), so features ≥ 0 on every model here. Same rules as `forward`.
 */
export function features(spec: ModelSpec, params: readonly tf.Tensor[], x: tf.Tensor): tf.Tensor2D {
  const at = (i: number): tf.Tensor => {
    const p = params[i];
    if (!p) throw new Error(`model ${spec.kind}: missing weight tensor ${i}`);
    return p;
  };
  switch (spec.kind) {
    case 'mlp': {
      let h: tf.Tensor2D = tf.reshape(x, [x.shape[0] ?? -1, -1]);
      for (let l = 0; l < spec.hidden.length; l++) h = tf.relu(tf.add<tf.Tensor2D>(tf.matMul(h, at(2 * l)), at(2 * l + 1)));
      return h;
    }
    case 'cnn': {
      let h = tf.reshape<tf.Rank.R4>(x, [x.shape[0] ?? -1, ...spec.inputShape]);
      spec.filters.forEach((_, l) => {
        const conv = tf.conv2d(h, at(2 * l) as tf.Tensor4D, 1, 'same');
        h = tf.maxPool(tf.relu(tf.add(conv, at(2 * l + 1))) as tf.Tensor4D, 2, 2, 'same');
      });
      return tf.reshape<tf.Rank.R2>(h, [h.shape[0], -1]);
    }
    default: {
      const unknown: never = spec;
      throw new Error(`unknown model kind ${JSON.stringify(unknown)}`);
    }
  }
}

/** Why full (second-order) MAML cannot run on this model, or null when it can. */
export function secondOrderBlocker(spec: ModelSpec): string | null {
  switch (spec.kind) {
    case 'mlp':
      return null;
    case 'cnn':
      return (
        'second-order MAML cannot differentiate a CNN in TF.js 4.22: the gradients of conv2d filters and ' +
        'maxPool are not themselves differentiable (tensorflow/tfjs#3252). Use fomaml or reptile for CNNs.'
      );
    default: {
      const unknown: never = spec;
      throw new Error(`unknown model kind ${JSON.stringify(unknown)}`);
    }
  }
}
