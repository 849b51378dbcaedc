import { beforeAll, describe, expect, it } from 'vitest';
import type { Examples } from '../../data/dataset.js';
import { initialWeights } from '../../model/params.js';
import { SINUSOID_MLP, type CnnSpec } from '../../model/spec.js';
import { useBackend } from '../../tf.js';
import { clientUpdate, type ClientUpdateInput } from '../client-update.js';
import { adaptationCurve } from '../evaluate.js';
import { ClientHyperSchema } from '../hyper.js';
import { adaptationCurveFor, clientUpdateFor } from './engine.js';
import { fastClientUpdate } from './fast-client-update.js';

const hyper = ClientHyperSchema.parse({ batchSize: 4, lr: 0.1 });
const sines: Examples = { count: 4, x: Float32Array.from([-2, -1, 1, 2]), y: Float32Array.from([-0.9, -0.8, 0.8, 0.9]) };

describe('clientUpdateFor', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it("'fast' computes an MLP update in plain JS", async () => {
    const input: ClientUpdateInput = {
      spec: SINUSOID_MLP,
      algorithm: 'fedavg',
      hyper,
      global: initialWeights(SINUSOID_MLP, 1),
      support: sines,
      query: sines,
      seed: 2,
    };
    expect((await clientUpdateFor('fast')(input)).delta).toEqual((await fastClientUpdate(input)).delta);
  });

  it("'fast' leaves what it does not compute (a CNN) to TF.js, and 'tfjs' is clientUpdate", async () => {
    // Prepare
    const spec: CnnSpec = { kind: 'cnn', inputShape: [4, 4, 1], filters: [2], outputs: 2, task: 'classification' };
    const images: Examples = { count: 2, x: Float32Array.from({ length: 32 }, (_, i) => (i % 5) / 5), y: Float32Array.from([0, 1]) };
    const input: ClientUpdateInput = {
      spec,
      algorithm: 'fedavg',
      hyper,
      global: initialWeights(spec, 1),
      support: images,
      query: images,
      seed: 2,
    };
    // Execute
    const viaFast = await clientUpdateFor('fast')(input);
    // Assert
    expect(viaFast.delta).toEqual((await clientUpdate(input)).delta);
    expect(clientUpdateFor('tfjs')).toBe(clientUpdate);
  });
});

describe('adaptationCurveFor', () => {
  it("'tfjs' is adaptationCurve; 'fast' leaves a CNN to it", async () => {
    await useBackend('cpu');
    const spec: CnnSpec = { kind: 'cnn', inputShape: [4, 4, 1], filters: [2], outputs: 2, task: 'classification' };
    const images: Examples = { count: 2, x: Float32Array.from({ length: 32 }, (_, i) => (i % 5) / 5), y: Float32Array.from([0, 1]) };
    const options = { steps: [0, 2], lr: 0.1 };
    const viaFast = await adaptationCurveFor('fast')(spec, initialWeights(spec, 1), images, images, options);
    expect(viaFast).toEqual(await adaptationCurve(spec, initialWeights(spec, 1), images, images, options));
    expect(adaptationCurveFor('tfjs')).toBe(adaptationCurve);
  });
});
