import { beforeAll, describe, expect, it } from 'vitest';
import type { Examples } from '../../data/dataset.js';
import { initialWeights } from '../../model/params.js';
import { SINUSOID_MLP, type MlpSpec } from '../../model/spec.js';
import { createRng } from '../../rng.js';
import { useBackend } from '../../tf.js';
import { adaptationCurve } from '../evaluate.js';
import { fastAdaptationCurve } from './fast-adaptation-curve.js';

const CLASSIFIER: MlpSpec = { kind: 'mlp', inputShape: [6], hidden: [12], outputs: 4, task: 'classification' };

function examples(spec: MlpSpec, seed: number, count: number): Examples {
  const rng = createRng(seed);
  const f = spec.inputShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: count * f }, () => rng.normal());
  const y = Float32Array.from({ length: count }, (_, i) => (spec.task === 'classification' ? rng.int(spec.outputs) : Math.sin(x[i * f]!)));
  return { count, x, y };
}

describe('fastAdaptationCurve', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  for (const spec of [SINUSOID_MLP, CLASSIFIER]) {
    for (const withRates of [false, true]) {
      it(`${spec.task}${withRates ? ' with Meta-SGD rates' : ''}: the same scores as TF.js's adaptation curve`, async () => {
        // Prepare: a test set over the 512-row chunk, as a held-out participant's can be.
        const weights = initialWeights(spec, 5);
        const support = examples(spec, 1, 10);
        const test = examples(spec, 2, 600);
        const rng = createRng(3);
        const rates = withRates ? Float32Array.from(weights, () => 0.02 + 0.05 * rng.next()) : null;
        const options = { steps: [5, 0, 1], lr: 0.05, rates };
        let stepped = 0;
        // Execute
        const expected = await adaptationCurve(spec, weights, support, test, options);
        const actual = await fastAdaptationCurve(spec, weights, support, test, { ...options, onStep: () => void stepped++ });
        // Assert
        expect(actual.steps).toEqual([0, 1, 5]);
        expect(stepped).toBe(5);
        actual.scores.forEach((s, i) => {
          const e = expected.scores[i]!;
          expect(s.loss).toBeCloseTo(e.loss, 5);
          if (spec.task === 'regression') expect(s.mse).toBeCloseTo(e.mse!, 5);
          else expect(s.accuracy).toBe(e.accuracy);
        });
      });
    }
  }

  it('refuses to adapt without support examples', async () => {
    const none: Examples = { count: 0, x: new Float32Array(0), y: new Float32Array(0) };
    const run = fastAdaptationCurve(SINUSOID_MLP, initialWeights(SINUSOID_MLP, 1), none, examples(SINUSOID_MLP, 1, 3), {
      steps: [1],
      lr: 0.1,
    });
    await expect(run).rejects.toThrow(/without support examples/);
  });
});
