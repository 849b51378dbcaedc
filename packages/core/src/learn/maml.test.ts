import { beforeAll, describe, expect, it } from 'vitest';
import type { MlpSpec } from '../model/spec.js';
import { initialWeights, toTensors, disposeAll, fromTensors } from '../model/params.js';
import { forward } from '../model/forward.js';
import { tf, useBackend } from '../tf.js';
import { toBatch } from './batch.js';
import { taskLoss } from './loss.js';
import { fomamlGradient, mamlGradient } from './steps.js';
import type { Examples } from '../data/dataset.js';
import { randomExamples } from './random-examples.js';

const spec: MlpSpec = { kind: 'mlp', inputShape: [3], hidden: [5], outputs: 3, task: 'classification' };
const INNER_LR = 0.5;
const INNER_STEPS = 2;

/** The MAML objective evaluated without any gradient tape: query loss after the inner SGD steps. */
function mamlObjective(weights: Float32Array, support: Examples, query: Examples): number {
  return tf.tidy(() => {
    const [sx, sy] = toBatch(spec, support);
    const [qx, qy] = toBatch(spec, query);
    let w = toTensors(spec, weights);
    for (let s = 0; s < INNER_STEPS; s++) {
      const g = tf.grads((...vs: tf.Tensor[]) => taskLoss(spec, forward(spec, vs, sx), sy, true))(w);
      w = w.map((p, i) => tf.sub(p, tf.mul(g[i] as tf.Tensor, INNER_LR)));
    }
    return taskLoss(spec, forward(spec, w, qx), qy, true).dataSync()[0]!;
  });
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] as number) ** 2;
  return Math.sqrt(s);
}

describe('second-order MAML', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('matches central finite differences of the MAML objective (relative error < 1e-3)', () => {
    // Prepare: a tiny MLP, a support and a query batch.
    const weights = initialWeights(spec, 7);
    const support = randomExamples(1, 8);
    const query = randomExamples(2, 8);
    // Execute: analytic meta-gradient through the inner loop.
    const params = toTensors(spec, weights);
    const s = toBatch(spec, support);
    const q = toBatch(spec, query);
    const { grads, loss } = mamlGradient(spec, params, s, q, INNER_LR, INNER_STEPS);
    const analytic = fromTensors(grads);
    const lossValue = loss.dataSync()[0]!;
    tf.dispose([...grads, loss, ...s, ...q]);
    disposeAll(params);
    // Central differences, one weight at a time.
    // Small enough that no ReLU kink is crossed, large enough for float32 round-off.
    const eps = 3e-3;
    const numeric = new Float32Array(weights.length);
    for (let i = 0; i < weights.length; i++) {
      const plus = weights.slice();
      const minus = weights.slice();
      plus[i] = plus[i]! + eps;
      minus[i] = minus[i]! - eps;
      numeric[i] = (mamlObjective(plus, support, query) - mamlObjective(minus, support, query)) / (2 * eps);
    }
    // Assert
    const diff = analytic.map((a, i) => a - numeric[i]!);
    expect(lossValue).toBeCloseTo(mamlObjective(weights, support, query), 5);
    expect(norm(numeric)).toBeGreaterThan(0.05);
    expect(norm(diff) / norm(numeric)).toBeLessThan(1e-3);
  });

  it('differs from the first-order approximation, so second-order terms are really there', () => {
    const weights = initialWeights(spec, 7);
    const params = toTensors(spec, weights);
    const s = toBatch(spec, randomExamples(1, 8));
    const q = toBatch(spec, randomExamples(2, 8));
    const second = mamlGradient(spec, params, s, q, INNER_LR, INNER_STEPS);
    const first = fomamlGradient(spec, params, s, q, INNER_LR, INNER_STEPS);
    const a = fromTensors(second.grads);
    const b = fromTensors(first.grads);
    tf.dispose([...second.grads, second.loss, ...first.grads, first.loss, ...s, ...q]);
    disposeAll(params);
    // Same query loss (same adapted weights), different gradients.
    expect(norm(a.map((v, i) => v - b[i]!)) / norm(a)).toBeGreaterThan(0.01);
  });
});
