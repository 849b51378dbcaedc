import { beforeAll, describe, expect, it } from 'vitest';
import { forward } from '../model/forward.js';
import { disposeAll, fromTensors, initialWeights, toTensors } from '../model/params.js';
import { MNIST_CNN, type MlpSpec } from '../model/spec.js';
import { createRng } from '../rng.js';
import { tf, useBackend } from '../tf.js';
import { toBatch } from './batch.js';
import { hessianVectorProduct } from './hessian-vector.js';
import { taskLoss } from './loss.js';
import { randomExamples } from './random-examples.js';

const spec: MlpSpec = { kind: 'mlp', inputShape: [3], hidden: [6], outputs: 3, task: 'classification' };

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] as number) ** 2;
  return Math.sqrt(s);
}

describe('Hessian-free Hessian-vector product', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('matches the exact product, the gradient of ∇L·v, on an MLP (relative error < 1e-3)', () => {
    // Prepare: a ReLU MLP and the twice-differentiable cross-entropy, which TF.js differentiates exactly.
    const params = toTensors(spec, initialWeights(spec, 3));
    const [x, y] = toBatch(spec, randomExamples(1, 16, 3, 3));
    const rng = createRng(9);
    const v = params.map((p) =>
      tf.tensor(
        Float32Array.from({ length: p.size }, () => rng.normal()),
        p.shape,
      ),
    );
    const gradDotV = (...ws: tf.Tensor[]): tf.Scalar => {
      const g = tf.grads((...vs: tf.Tensor[]) => taskLoss(spec, forward(spec, vs, x), y, true))(ws);
      return tf.addN(g.map((gi, i) => tf.sum(tf.mul(gi, v[i] as tf.Tensor)))) as tf.Scalar;
    };
    // Execute
    const exactTensors = tf.grads(gradDotV)(params);
    const approxTensors = hessianVectorProduct(spec, params, x, y, v);
    const exact = fromTensors(exactTensors);
    const approx = fromTensors(approxTensors);
    disposeAll([...exactTensors, ...approxTensors, ...params, ...v, x, y]);
    // Assert
    expect(norm(exact)).toBeGreaterThan(0.1);
    expect(norm(approx.map((a, i) => a - exact[i]!)) / norm(exact)).toBeLessThan(1e-3);
  });

  it('is zero along a zero direction', () => {
    const params = toTensors(spec, initialWeights(spec, 3));
    const [x, y] = toBatch(spec, randomExamples(1, 4, 3, 3));
    const zero = params.map((p) => tf.zerosLike(p));
    const hv = hessianVectorProduct(spec, params, x, y, zero);
    expect(fromTensors(hv).every((value) => value === 0)).toBe(true);
    disposeAll([...hv, ...zero, ...params, x, y]);
  });

  it('works on the CNN, which TF.js cannot differentiate twice, and leaks no tensors', () => {
    const params = toTensors(MNIST_CNN, initialWeights(MNIST_CNN, 1));
    const [x, y] = toBatch(MNIST_CNN, randomExamples(2, 2, 784, 10));
    const v = params.map((p) => tf.onesLike(p));
    const before = tf.memory().numTensors;
    const hv = hessianVectorProduct(MNIST_CNN, params, x, y, v);
    expect(hv.map((t) => t.shape)).toEqual(params.map((p) => p.shape));
    expect(fromTensors(hv).every(Number.isFinite)).toBe(true);
    disposeAll(hv);
    expect(tf.memory().numTensors).toBe(before);
    disposeAll([...params, ...v, x, y]);
  });
});
