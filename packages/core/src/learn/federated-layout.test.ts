import { describe, expect, it } from 'vitest';
import { parameterCount } from '../model/layout.js';
import { initialWeights } from '../model/params.js';
import { SINUSOID_MLP } from '../model/spec.js';
import { federatedLength, federatedSegments, splitFederated } from './federated-layout.js';
import { initialFederated } from './initial-federated.js';

const P = parameterCount(SINUSOID_MLP);
const SEGMENTS = [40, 40, 1600, 40, 40, 1];

describe('the federated vector', () => {
  it('is the weights for every algorithm but meta-sgd, which appends a learned rate per weight', () => {
    expect(federatedLength(SINUSOID_MLP, 'maml')).toBe(P);
    expect(federatedLength(SINUSOID_MLP, 'per-fedavg-hf')).toBe(P);
    expect(federatedLength(SINUSOID_MLP, 'meta-sgd')).toBe(2 * P);
    expect(federatedSegments(SINUSOID_MLP, 'reptile')).toEqual(SEGMENTS);
    expect(federatedSegments(SINUSOID_MLP, 'meta-sgd')).toEqual([...SEGMENTS, ...SEGMENTS]);
  });

  it('starts meta-sgd at the seeded weights and every rate at innerLr, and splits into views of the two', () => {
    // Execute
    const vector = initialFederated(SINUSOID_MLP, 'meta-sgd', 4, 0.01);
    const { weights, rates } = splitFederated(SINUSOID_MLP, 'meta-sgd', vector);
    // Assert
    expect(weights).toEqual(initialWeights(SINUSOID_MLP, 4));
    expect(rates!.every((r) => r === Math.fround(0.01))).toBe(true);
    rates![0] = 0.5;
    expect(vector[P]).toBe(0.5);
    expect(splitFederated(SINUSOID_MLP, 'fedavg', initialFederated(SINUSOID_MLP, 'fedavg', 4, 0.01)).rates).toBeNull();
  });

  it('refuses a vector of the wrong length, naming both', () => {
    expect(() => splitFederated(SINUSOID_MLP, 'meta-sgd', new Float32Array(P))).toThrow(
      `meta-sgd on this mlp federates ${2 * P} values, got ${P}`,
    );
  });
});
