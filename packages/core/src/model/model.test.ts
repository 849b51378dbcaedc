import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../rng.js';
import { tf, useBackend } from '../tf.js';
import { exportLayersModel, toLayersModel } from './export.js';
import { forward } from './forward.js';
import { parameterCount, segmentSizes, weightLayout } from './layout.js';
import { disposeAll, fromTensors, initialWeights, toTensors } from './params.js';
import { MNIST_CNN, MNIST_MLP, SINUSOID_MLP, type ModelSpec } from './spec.js';

function randomImages(count: number, seed: number): tf.Tensor {
  const rng = createRng(seed);
  return tf.tensor(
    Float32Array.from({ length: count * 784 }, () => rng.next()),
    [count, 28, 28, 1],
  );
}

describe('model', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('lays weights out layer by layer, kernel then bias', () => {
    // 784*100 + 100 + 100*10 + 10
    expect(parameterCount(MNIST_MLP)).toBe(79_510);
    expect(weightLayout(MNIST_MLP).map((s) => [s.name, s.shape.join('x'), s.offset])).toEqual([
      ['dense_1/kernel', '784x100', 0],
      ['dense_1/bias', '100', 78_400],
      ['dense_2/kernel', '100x10', 78_500],
      ['dense_2/bias', '10', 79_500],
    ]);
    // conv 3*3*1*8+8, conv 3*3*8*16+16, dense (7*7*16)*10+10
    expect(segmentSizes(MNIST_CNN)).toEqual([72, 8, 1152, 16, 7840, 10]);
    expect(parameterCount(SINUSOID_MLP)).toBe(1 * 40 + 40 + 40 * 40 + 40 + 40 + 1);
  });

  it('initialises deterministically from a seed, with zero biases', () => {
    const a = initialWeights(MNIST_MLP, 1);
    expect(initialWeights(MNIST_MLP, 1)).toEqual(a);
    expect(initialWeights(MNIST_MLP, 2)).not.toEqual(a);
    expect(Array.from(a.subarray(78_400, 78_500)).every((v) => v === 0)).toBe(true);
    const limit = Math.sqrt(6 / (784 + 100));
    expect(Math.max(...a.subarray(0, 78_400).map(Math.abs))).toBeLessThanOrEqual(limit);
  });

  it('round-trips flat weights through tensors', () => {
    const flat = initialWeights(MNIST_CNN, 3);
    const tensors = toTensors(MNIST_CNN, flat);
    expect(fromTensors(tensors)).toEqual(flat);
    disposeAll(tensors);
    expect(() => toTensors(MNIST_CNN, new Float32Array(5))).toThrow(/5 values but the cnn model needs 9098/);
  });

  for (const spec of [MNIST_MLP, MNIST_CNN] as ModelSpec[]) {
    it(`${spec.kind}: the functional forward pass equals the exported TF.js LayersModel (softmax of logits)`, () => {
      const flat = initialWeights(spec, 5);
      const x = randomImages(4, 9);
      const params = toTensors(spec, flat);
      const ours = tf.tidy(() => tf.softmax(forward(spec, params, x)).arraySync());
      const model = toLayersModel(spec, flat);
      const theirs = tf.tidy(() => (model.predict(x) as tf.Tensor).arraySync() as number[][]);
      for (let i = 0; i < 4; i++) for (let j = 0; j < 10; j++) expect(ours[i]![j]!).toBeCloseTo(theirs[i]![j]!, 5);
      model.dispose();
      disposeAll(params);
      x.dispose();
    });
  }

  it('exports vector-input models (sinusoid, no hidden layer) too', () => {
    for (const spec of [SINUSOID_MLP, { kind: 'mlp', inputShape: [2], hidden: [], outputs: 2, task: 'classification' }] as ModelSpec[]) {
      const flat = initialWeights(spec, 1);
      const model = toLayersModel(spec, flat);
      expect(fromTensors(model.getWeights())).toEqual(flat);
      model.dispose();
    }
  });

  it('exports model.json + weights.bin that tf.loadLayersModel reads back over HTTP', async () => {
    // Prepare: serve the two artifacts from an in-memory "server".
    const flat = initialWeights(MNIST_MLP, 11);
    const files = await exportLayersModel(MNIST_MLP, flat);
    expect(files.weightsBin.byteLength).toBe(79_510 * 4);
    const served = new Map<string, Uint8Array | string>([
      ['http://hub.test/api/model/model.json', JSON.stringify(files.modelJson)],
      [`http://hub.test/api/model/${files.weightsPath}`, files.weightsBin],
    ]);
    const requested: string[] = [];
    const fetchFunc = (input: string | URL | Request) => {
      const url = input instanceof Request ? input.url : String(input);
      requested.push(url);
      const body = served.get(url);
      return Promise.resolve(body === undefined ? new Response('not found', { status: 404 }) : new Response(body));
    };
    // Execute: TF.js's own loader.
    const loaded = await tf.loadLayersModel('http://hub.test/api/model/model.json', { fetchFunc });
    // Assert: same weights, in the documented order, and it predicts.
    const weights = fromTensors(loaded.getWeights());
    expect(weights).toEqual(flat);
    expect(requested).toEqual(['http://hub.test/api/model/model.json', 'http://hub.test/api/model/weights.bin']);
    const x = randomImages(2, 1);
    const probs = tf.tidy(() => (loaded.predict(x) as tf.Tensor).sum(1).arraySync() as number[]);
    expect(probs[0]).toBeCloseTo(1, 5);
    loaded.dispose();
    x.dispose();
  });
});
