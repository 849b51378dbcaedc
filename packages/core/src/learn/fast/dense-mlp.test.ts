import { describe, expect, it } from 'vitest';
import type { Examples } from '../../data/dataset.js';
import { initialWeights } from '../../model/params.js';
import type { MlpSpec } from '../../model/spec.js';
import { createRng } from '../../rng.js';
import { DenseMlp } from './dense-mlp.js';

const specs: readonly MlpSpec[] = [
  { kind: 'mlp', inputShape: [3], hidden: [6, 5], outputs: 2, task: 'regression' },
  { kind: 'mlp', inputShape: [2, 2], hidden: [7], outputs: 4, task: 'classification' },
];

function examples(spec: MlpSpec, seed: number, count: number): Examples {
  const rng = createRng(seed);
  const f = spec.inputShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: count * f }, () => rng.normal());
  const y = Float32Array.from({ length: count }, () => (spec.task === 'classification' ? rng.int(spec.outputs) : rng.normal()));
  return { count, x, y };
}

/** The largest difference relative to the largest entry: float64 central differences agree to ~1e-8. */
function maxRelativeDiff(a: Float64Array, b: Float64Array): number {
  let diff = 0;
  let scale = 0;
  a.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  });
  return diff / scale;
}

describe('DenseMlp', () => {
  for (const spec of specs) {
    it(`${spec.task}: the gradient and the Hessian-vector product match central finite differences (also reusing the gradient's passes)`, () => {
      // Prepare
      const model = new DenseMlp(spec);
      const batch = model.batch(examples(spec, 1, 6), [0, 1, 2, 3, 4, 5]);
      const rng = createRng(4);
      // Glorot kernels plus non-zero biases: with zero biases a unit whose inputs are all dead sits exactly on
      // ReLU's kink, where a finite difference is meaningless.
      const w = Float64Array.from(initialWeights(spec, 3), (x) => x + 0.1 * rng.normal());
      const v = Float64Array.from({ length: w.length }, () => rng.normal());
      const h = 1e-5;
      const shifted = (sign: number) => w.map((x, i) => x + sign * h * v[i]!);
      // Execute
      const grad = new Float64Array(w.length);
      const hv = new Float64Array(w.length);
      const loss = model.lossAndGradient(w, batch, grad);
      model.hessianVectorProduct(w, batch, v, hv);
      const plus = new Float64Array(w.length);
      const minus = new Float64Array(w.length);
      model.lossAndGradient(shifted(1), batch, plus);
      model.lossAndGradient(shifted(-1), batch, minus);
      const numericHv = plus.map((p, i) => (p - minus[i]!) / (2 * h));
      const numericGrad = w.map((_, i) => {
        const e = w.slice();
        e[i]! += h;
        const up = model.loss(e, batch);
        e[i]! -= 2 * h;
        return (up - model.loss(e, batch)) / (2 * h);
      });
      // Assert
      expect(loss).toBeCloseTo(model.loss(w, batch), 12);
      expect(maxRelativeDiff(grad, numericGrad)).toBeLessThan(1e-6);
      expect(maxRelativeDiff(hv, numericHv)).toBeLessThan(1e-6);
      // The product after a gradient at the same point reuses its passes and must not change.
      model.lossAndGradient(w, batch, grad);
      const reused = new Float64Array(w.length);
      model.hessianVectorProductAfterGradient(w, batch, v, reused);
      expect(maxRelativeDiff(reused, hv)).toBeLessThan(1e-12);
    });
  }
});
