import { beforeAll, describe, expect, it } from 'vitest';
import type { Examples } from '../data/dataset.js';
import { features, forward } from '../model/forward.js';
import { initialWeights, toTensors } from '../model/params.js';
import type { CnnSpec, MlpSpec, ModelSpec } from '../model/spec.js';
import { SINUSOID_MLP } from '../model/spec.js';
import { createRng } from '../rng.js';
import { tf, useBackend } from '../tf.js';
import { imprintedHead } from './imprint.js';
import { withHead } from './local-model.js';

const mlp: MlpSpec = { kind: 'mlp', inputShape: [3], hidden: [8], outputs: 4, task: 'classification' };
const cnn: CnnSpec = { kind: 'cnn', inputShape: [4, 4, 1], filters: [2], outputs: 3, task: 'classification' };

function examples(model: ModelSpec, count: number, labels: readonly number[], seed: number): Examples {
  const rng = createRng(seed);
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  return {
    count,
    x: Float32Array.from({ length: count * size }, () => rng.next() * 2 - 1),
    y: Float32Array.from({ length: count }, (_, i) => labels[i % labels.length]!),
  };
}

const rows = (model: ModelSpec, weights: Float32Array, set: Examples, f: typeof forward) =>
  tf.tidy(() => {
    const params = toTensors(model, weights);
    const out = f(model, params, tf.tensor(set.x, [set.count, ...model.inputShape])).arraySync();
    tf.dispose(params);
    return out;
  });

describe('imprintedHead', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it.each([
    ['an MLP', mlp],
    ['a CNN', cnn],
  ] as const)(
    'makes %s a nearest-class-mean classifier on its body features; a class the support lacks is never predicted',
    async (_, model) => {
      // Prepare: a random body; support of classes 0 and 1 only; fresh points to classify.
      const body = withHead(model, initialWeights(model, 5)).weights;
      const support = examples(model, 12, [0, 1], 6);
      const probe = examples(model, 50, [0], 7);
      // Execute
      const head = (await imprintedHead(model, body, support))!;
      const imprinted = withHead(model, body, head).weights;
      // Assert: argmax of the logits = the class whose support mean is nearest in feature space, for every probe.
      const supportFeatures = rows(model, body, support, features);
      const means = [0, 1].map((c) => {
        const mine = supportFeatures.filter((_, i) => support.y[i] === c);
        return mine[0]!.map((_, f) => mine.reduce((sum, row) => sum + row[f]!, 0) / mine.length);
      });
      const logits = rows(model, imprinted, probe, forward);
      rows(model, body, probe, features).forEach((feature, i) => {
        const distance = means.map((m) => m.reduce((sum, v, f) => sum + (v - feature[f]!) ** 2, 0));
        const nearest = distance[0]! <= distance[1]! ? 0 : 1;
        const row = logits[i]!;
        expect(row.indexOf(Math.max(...row))).toBe(nearest);
      });
      expect(new Set(logits.map((row) => row.indexOf(Math.max(...row)))).has(2)).toBe(false);
      // The body is untouched: the head is what comes back.
      expect(imprinted.subarray(0, imprinted.length - head.length)).toEqual(body.subarray(0, body.length - head.length));
    },
  );

  it('leaves regression and an empty support set alone', async () => {
    const body = initialWeights(SINUSOID_MLP, 1);
    expect(await imprintedHead(SINUSOID_MLP, body, { count: 3, x: new Float32Array(3), y: new Float32Array(3) })).toBeNull();
    expect(await imprintedHead(mlp, initialWeights(mlp, 1), { count: 0, x: new Float32Array(0), y: new Float32Array(0) })).toBeNull();
  });
});
