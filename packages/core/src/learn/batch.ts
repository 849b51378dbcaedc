import type { Examples } from '../data/dataset.js';
import type { ModelSpec } from '../model/spec.js';
import type { Rng } from '../rng.js';
import { tf } from '../tf.js';

export function featureLength(spec: ModelSpec): number {
  return spec.inputShape.reduce((a, b) => a * b, 1);
}

/** Examples -> [x, target] tensors (targets one-hot for classification). The caller disposes them. */
export function toBatch(spec: ModelSpec, examples: Examples, indices?: readonly number[]): [tf.Tensor, tf.Tensor2D] {
  const f = featureLength(spec);
  const rows = indices ?? Array.from({ length: examples.count }, (_, i) => i);
  const x = new Float32Array(rows.length * f);
  const y = new Float32Array(rows.length * spec.outputs);
  rows.forEach((row, i) => {
    x.set(examples.x.subarray(row * f, (row + 1) * f), i * f);
    const target = examples.y[row] ?? 0;
    if (spec.task === 'classification') {
      if (!Number.isInteger(target) || target < 0 || target >= spec.outputs) {
        throw new Error(`label ${target} is not a class of this ${spec.outputs}-class model`);
      }
      y[i * spec.outputs + target] = 1;
    } else {
      y[i * spec.outputs] = target;
    }
  });
  return [tf.tensor(x, [rows.length, ...spec.inputShape]), tf.tensor2d(y, [rows.length, spec.outputs])];
}

/** A minibatch of `size` distinct indices (all of them, shuffled, when the set is smaller). */
export function sampleIndices(count: number, size: number, rng: Rng): number[] {
  if (count === 0) throw new Error('cannot sample a batch from an empty example set');
  return rng.sample(
    Array.from({ length: count }, (_, i) => i),
    Math.min(size, count),
  );
}

/** One epoch of minibatches over a shuffled order. */
export function epochBatches(count: number, size: number, rng: Rng): number[][] {
  const order = rng.shuffle(Array.from({ length: count }, (_, i) => i));
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += size) batches.push(order.slice(i, i + size));
  return batches;
}
