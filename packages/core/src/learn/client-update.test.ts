import { beforeAll, describe, expect, it } from 'vitest';
import type { Examples } from '../data/dataset.js';
import { forward } from '../model/forward.js';
import { fromTensors, initialWeights, toTensors } from '../model/params.js';
import { MNIST_CNN, type MlpSpec } from '../model/spec.js';
import { createRng } from '../rng.js';
import { tf, useBackend } from '../tf.js';
import { toBatch } from './batch.js';
import { clientUpdate, gradientsPerUpdate, plannedSteps } from './client-update.js';
import { adaptationCurve, score } from './evaluate.js';
import { initialFederated } from './initial-federated.js';
import { localModel } from './local-model.js';
import { ALGORITHMS, ClientHyperSchema } from './hyper.js';
import { taskLoss } from './loss.js';

const spec: MlpSpec = { kind: 'mlp', inputShape: [4], hidden: [8], outputs: 3, task: 'classification' };

/** A learnable toy task: the label is the index of the largest of the first three features. */
function toyExamples(seed: number, count: number): Examples {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: count * 4 }, () => rng.normal());
  const y = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const row = [x[i * 4]!, x[i * 4 + 1]!, x[i * 4 + 2]!];
    y[i] = row.indexOf(Math.max(...row));
  }
  return { count, x, y };
}

describe('client updates', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('fedavg with one full-batch step gives delta = -lr * gradient at the global weights', async () => {
    // Prepare
    const global = initialWeights(spec, 1);
    const support = toyExamples(1, 12);
    const query = toyExamples(2, 4);
    const hyper = ClientHyperSchema.parse({ batchSize: 16, lr: 0.3, localEpochs: 1 });
    // Execute
    const result = await clientUpdate({ spec, algorithm: 'fedavg', hyper, global, support, query, seed: 1 });
    // Assert: the gradient over all 16 examples, computed independently.
    const params = toTensors(spec, global);
    const all: Examples = { count: 16, x: new Float32Array([...support.x, ...query.x]), y: new Float32Array([...support.y, ...query.y]) };
    const [x, y] = toBatch(spec, all);
    const grads = tf.grads((...ws: tf.Tensor[]) => taskLoss(spec, forward(spec, ws, x), y))(params);
    const expected = fromTensors(grads).map((g) => -0.3 * g);
    tf.dispose([...grads, ...params, x, y]);
    expect(result.numExamples).toBe(16);
    expect(result.steps).toBe(1);
    result.delta.forEach((d, i) => expect(d).toBeCloseTo(expected[i]!, 5));
  });

  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: repeated rounds improve the local model and leak no tensors`, async () => {
      const hyper = ClientHyperSchema.parse({
        batchSize: 16,
        lr: 0.2,
        innerLr: 0.2,
        outerLr: algorithm === 'reptile' ? 1 : 0.2,
        innerSteps: 2,
        metaSteps: 4,
        localEpochs: 2,
      });
      const support = toyExamples(3, 40);
      const query = toyExamples(4, 40);
      const test = toyExamples(5, 200);
      // Meta-SGD's vector carries its learned rates after the weights; fedrep's and fedper's the body, the head kept here.
      let weights = initialFederated(spec, algorithm, 2, hyper.innerLr);
      let head: Float32Array | null = null;
      const modelOf = (vector: Float32Array) => localModel(spec, algorithm, vector, head).weights;
      const before = (await score(spec, modelOf(weights), test)).accuracy!;
      const progress: number[] = [];
      let tensorsAfterFirstRound = -1;
      for (let round = 0; round < 6; round++) {
        const r = await clientUpdate({
          spec,
          algorithm,
          hyper,
          global: weights,
          support,
          query,
          head,
          seed: round,
          onProgress: (d) => void progress.push(d),
        });
        expect(r.delta.length).toBe(weights.length);
        head = r.head ?? null;
        expect(Number.isFinite(r.loss)).toBe(true);
        weights = weights.map((w, i) => w + r.delta[i]!);
        if (round === 0) tensorsAfterFirstRound = tf.memory().numTensors;
      }
      expect(tf.memory().numTensors).toBe(tensorsAfterFirstRound);
      expect(progress.slice(0, plannedSteps(algorithm, hyper, 80))).toEqual(
        Array.from({ length: plannedSteps(algorithm, hyper, 80) }, (_, i) => i + 1),
      );
      expect((await score(spec, modelOf(weights), test)).accuracy!).toBeGreaterThan(before + 0.15);
    });
  }

  it('refuses second-order MAML on a CNN with the reason', async () => {
    const images: Examples = { count: 2, x: new Float32Array(2 * 784), y: new Float32Array([1, 2]) };
    const run = clientUpdate({
      spec: MNIST_CNN,
      algorithm: 'maml',
      hyper: ClientHyperSchema.parse({}),
      global: initialWeights(MNIST_CNN, 1),
      support: images,
      query: images,
      seed: 1,
    });
    await expect(run).rejects.toThrow(/second-order MAML cannot differentiate a CNN.*fomaml or reptile/);
  });

  for (const algorithm of ['per-fedavg-hf', 'meta-sgd', 'fedrep'] as const) {
    it(`${algorithm} trains the CNN, which TF.js cannot differentiate twice`, async () => {
      // Prepare
      const rng = createRng(5);
      const images: Examples = { count: 4, x: Float32Array.from({ length: 4 * 784 }, () => rng.next()), y: new Float32Array([1, 2, 3, 4]) };
      const hyper = ClientHyperSchema.parse({ batchSize: 4, metaSteps: 1, innerSteps: 1 });
      const global = initialFederated(MNIST_CNN, algorithm, 1, hyper.innerLr);
      // Execute
      const r = await clientUpdate({ spec: MNIST_CNN, algorithm, hyper, global, support: images, query: images, seed: 1 });
      // Assert
      expect(r.delta.length).toBe(global.length);
      expect(r.delta.every(Number.isFinite)).toBe(true);
      expect(r.delta.some((d) => d !== 0)).toBe(true);
      // fedrep shares the convolutions and keeps the dense head.
      if (algorithm === 'fedrep') expect(r.head).toHaveLength(7 * 7 * 16 * 10 + 10);
    });
  }

  it('meta-sgd adapts with its learned rates: zero rates leave the global model, as one rate reproduces plain SGD', async () => {
    const global = initialWeights(spec, 3);
    const support = toyExamples(6, 60);
    const test = toyExamples(7, 200);
    const tensors = tf.memory().numTensors;
    const frozen = await adaptationCurve(spec, global, support, test, { steps: [0, 3], lr: 0.5, rates: new Float32Array(global.length) });
    const uniform = await adaptationCurve(spec, global, support, test, {
      steps: [3],
      lr: 0.1,
      rates: new Float32Array(global.length).fill(0.5),
    });
    const sgd = await adaptationCurve(spec, global, support, test, { steps: [3], lr: 0.5 });
    expect(frozen.scores[1]!.loss).toBeCloseTo(frozen.scores[0]!.loss, 6);
    expect(uniform.scores[0]!.loss).toBeCloseTo(sgd.scores[0]!.loss, 5);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('adaptation curve: 0 steps is the global model, more steps fit this participant better', async () => {
    const global = initialWeights(spec, 3);
    const support = toyExamples(6, 60);
    const test = toyExamples(7, 200);
    const tensors = tf.memory().numTensors;
    const curve = await adaptationCurve(spec, global, support, test, { steps: [10, 0, 1], lr: 0.5 });
    expect(curve.steps).toEqual([0, 1, 10]);
    expect(curve.scores[0]!.accuracy).toBeCloseTo((await score(spec, global, test)).accuracy!, 6);
    expect(curve.scores[2]!.loss).toBeLessThan(curve.scores[0]!.loss);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('keeps the weights it was given untouched', async () => {
    const global = initialWeights(spec, 4);
    const copy = global.slice();
    await clientUpdate({
      spec,
      algorithm: 'reptile',
      hyper: ClientHyperSchema.parse({}),
      global,
      support: toyExamples(1, 8),
      query: toyExamples(2, 8),
      seed: 1,
    });
    expect(global).toEqual(copy);
  });
});

describe('gradientsPerUpdate', () => {
  it('counts the minibatch gradients of one local update, the compute a comparison must match', () => {
    const hyper = ClientHyperSchema.parse({ batchSize: 32, localEpochs: 3, innerSteps: 5, metaSteps: 4 });
    // fedavg: 3 epochs x ceil(100 / 32) = 3 x 4; reptile: 4 x 5; (fo)maml: 4 x (5 inner + 1 query).
    expect(gradientsPerUpdate('fedavg', hyper, 100)).toBe(12);
    expect(gradientsPerUpdate('reptile', hyper, 100)).toBe(20);
    expect(gradientsPerUpdate('fomaml', hyper, 100)).toBe(24);
    expect(gradientsPerUpdate('maml', hyper, 100)).toBe(24);
    // meta-sgd as maml; per-fedavg: 4 x (1 inner + 1 query), HF 2 more for its Hessian-vector product.
    expect(gradientsPerUpdate('meta-sgd', hyper, 100)).toBe(24);
    expect(gradientsPerUpdate('per-fedavg-fo', hyper, 100)).toBe(8);
    expect(gradientsPerUpdate('per-fedavg-hf', hyper, 100)).toBe(16);
  });
});
