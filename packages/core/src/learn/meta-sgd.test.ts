import { beforeAll, describe, expect, it } from 'vitest';
import { l2Norm } from '../aggregate/norm.js';
import type { Examples } from '../data/dataset.js';
import { forward } from '../model/forward.js';
import { parameterCount } from '../model/layout.js';
import { disposeAll, fromTensors, initialWeights, toTensors } from '../model/params.js';
import { MNIST_CNN, type MlpSpec } from '../model/spec.js';
import { createRng } from '../rng.js';
import { tf, useBackend } from '../tf.js';
import { toBatch } from './batch.js';
import { taskLoss } from './loss.js';
import { centralDifferences } from './meta-gradient-check.js';
import { metaSgdGradient } from './meta-sgd.js';
import { fomamlGradient } from './steps.js';
import { randomExamples } from './random-examples.js';

const spec: MlpSpec = { kind: 'mlp', inputShape: [3], hidden: [5], outputs: 3, task: 'classification' };
const INNER_STEPS = 2;

/**
 * Rates of 0.2-0.8 that differ per weight, so a mix-up of two rates would show. Drawn with a seed whose adapted
 * weights keep every ReLU more than eps from its kink: some draws put one within it, and a central difference across
 * a kink is not a derivative (there the analytic gradient agrees with differences at eps 1e-3 instead).
 */
function someRates(count: number): Float32Array {
  const rng = createRng(1);
  return Float32Array.from({ length: count }, () => 0.2 + 0.6 * rng.next());
}

/** The Meta-SGD objective without a gradient tape on the outside: query loss after the inner steps. */
function metaSgdObjective(vector: Float32Array, support: Examples, query: Examples): number {
  const p = parameterCount(spec);
  return tf.tidy(() => {
    const [sx, sy] = toBatch(spec, support);
    const [qx, qy] = toBatch(spec, query);
    let w = toTensors(spec, vector.slice(0, p));
    const rates = toTensors(spec, vector.slice(p));
    for (let s = 0; s < INNER_STEPS; s++) {
      const g = tf.grads((...vs: tf.Tensor[]) => taskLoss(spec, forward(spec, vs, sx), sy, true))(w);
      w = w.map((v, i) => tf.sub(v, tf.mul(rates[i] as tf.Tensor, g[i] as tf.Tensor)));
    }
    return taskLoss(spec, forward(spec, w, qx), qy, true).dataSync()[0]!;
  });
}

describe('Meta-SGD meta-gradient', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('matches central finite differences in the weights and the learned rates (relative error < 1e-3)', async () => {
    // Prepare
    const weights = initialWeights(spec, 7);
    const rates = someRates(weights.length);
    const vector = new Float32Array([...weights, ...rates]);
    const support = randomExamples(1, 8);
    const query = randomExamples(2, 8);
    // Execute: the analytic gradient through both inner steps.
    const params = toTensors(spec, weights);
    const alphas = toTensors(spec, rates);
    const s = toBatch(spec, support);
    const q = toBatch(spec, query);
    const { weightGrads, rateGrads, loss } = metaSgdGradient(spec, params, alphas, s, q, INNER_STEPS);
    const analytic = fromTensors([...weightGrads, ...rateGrads]);
    const lossValue = loss.dataSync()[0]!;
    tf.dispose([...weightGrads, ...rateGrads, loss, ...s, ...q]);
    disposeAll([...params, ...alphas]);
    // Central differences, one value at a time (eps as in MAML's check: no ReLU kink crossed, above round-off).
    const numeric = await centralDifferences((v) => metaSgdObjective(v, support, query), vector, 3e-3);
    // Assert: both halves carry signal, and both match.
    const p = weights.length;
    expect(lossValue).toBeCloseTo(metaSgdObjective(vector, support, query), 5);
    expect(l2Norm(numeric.subarray(0, p))).toBeGreaterThan(0.05);
    expect(l2Norm(numeric.subarray(p))).toBeGreaterThan(0.05);
    const diff = analytic.map((a, i) => a - numeric[i]!);
    expect(l2Norm(diff) / l2Norm(numeric)).toBeLessThan(1e-3);
  });

  it('on the CNN, first order: the weights get FOMAML gradient with the learned rates, the rates −∇L_q ⊙ ∇L_s', () => {
    // Prepare: one inner step, where the rates' first-order gradient is exact.
    const params = toTensors(MNIST_CNN, initialWeights(MNIST_CNN, 1));
    const rates = params.map((p) => tf.fill(p.shape, 0.05));
    const s = toBatch(MNIST_CNN, randomExamples(3, 2, 784, 10));
    const q = toBatch(MNIST_CNN, randomExamples(4, 2, 784, 10));
    const before = tf.memory().numTensors;
    // Execute
    const { weightGrads, rateGrads, loss } = metaSgdGradient(MNIST_CNN, params, rates, s, q, 1);
    const fomaml = fomamlGradient(MNIST_CNN, params, s, q, 0.05, 1);
    // Assert
    expect(l2Norm(fromTensors(weightGrads).map((g, i) => g - fromTensors(fomaml.grads)[i]!))).toBeLessThan(1e-5);
    expect(fromTensors(rateGrads).every(Number.isFinite)).toBe(true);
    expect(loss.dataSync()[0]).toBeCloseTo(fomaml.loss.dataSync()[0]!, 5);
    tf.dispose([...weightGrads, ...rateGrads, loss, ...fomaml.grads, fomaml.loss]);
    expect(tf.memory().numTensors).toBe(before);
    disposeAll([...params, ...rates, ...s, ...q]);
  });
});
