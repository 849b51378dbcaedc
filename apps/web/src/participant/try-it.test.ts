import { ClientHyperSchema, initialWeights, localModel, useBackend, type Examples, type MlpSpec } from '@tabula/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { personalize } from './try-it.js';

const spec: MlpSpec = { kind: 'mlp', inputShape: [2], hidden: [5], outputs: 3, task: 'classification' };
// 2·5 + 5 = 15 body weights, then the head.
const BODY = 15;
const support: Examples = {
  count: 6,
  x: Float32Array.from([1, 0, 0, 1, -1, 0, 0, -1, 1, 1, -1, -1]),
  y: Float32Array.from([0, 1, 2, 0, 1, 2]),
};
const hyper = ClientHyperSchema.parse({ innerLr: 0.5, adaptSteps: 3 });

describe('Try it: the personalized prediction', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('adapts only the head under a personal head, as the hub scores it, and every weight otherwise', async () => {
    // Prepare
    const weights = initialWeights(spec, 1);
    const fedrep = localModel(spec, 'fedrep', weights.slice(0, BODY), weights.slice(BODY));
    // Execute
    const headOnly = await personalize({ key: 'a', spec, hyper, weights: fedrep.weights, adaptFrom: fedrep.adaptFrom }, support);
    const all = await personalize({ key: 'b', spec, hyper, weights, adaptFrom: 0 }, support);
    // Assert
    expect(fedrep.adaptFrom).toBe(BODY);
    expect(headOnly.subarray(0, BODY)).toEqual(weights.subarray(0, BODY));
    expect(headOnly.subarray(BODY)).not.toEqual(weights.subarray(BODY));
    expect(all.subarray(0, BODY)).not.toEqual(weights.subarray(0, BODY));
  });
});
