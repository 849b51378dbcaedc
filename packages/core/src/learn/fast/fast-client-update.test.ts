import { beforeAll, describe, expect, it } from 'vitest';
import type { Examples } from '../../data/dataset.js';
import { initialWeights } from '../../model/params.js';
import { headOffset, keepsHead } from '../federated-layout.js';
import { initialFederated } from '../initial-federated.js';
import { MNIST_CNN, SINUSOID_MLP, type MlpSpec } from '../../model/spec.js';
import { createRng } from '../../rng.js';
import { useBackend } from '../../tf.js';
import { clientUpdate, type ClientUpdateInput } from '../client-update.js';
import { ClientHyperSchema } from '../hyper.js';
import { DenseMlp } from './dense-mlp.js';
import { FAST_ALGORITHMS, fastClientUpdate, fastEngineSupports } from './fast-client-update.js';
import { relativeL2Error } from '../../aggregate/norm.js';

const MNIST_SHAPED: MlpSpec = { kind: 'mlp', inputShape: [28, 28, 1], hidden: [32], outputs: 10, task: 'classification' };

function sineExamples(seed: number, count: number): Examples {
  const rng = createRng(seed);
  const amplitude = 0.1 + 4.9 * rng.next();
  const phase = Math.PI * rng.next();
  const x = Float32Array.from({ length: count }, () => -5 + 10 * rng.next());
  return { count, x, y: x.map((v) => amplitude * Math.sin(v - phase)) };
}

/** Digit-like rows: mostly blank pixels (as MNIST's are), a class-dependent stroke, labels 0-9. */
function digitExamples(seed: number, count: number): Examples {
  const rng = createRng(seed);
  const x = new Float32Array(count * 784);
  const y = new Float32Array(count);
  for (let r = 0; r < count; r++) {
    const label = rng.int(10);
    y[r] = label;
    for (let k = 0; k < 120; k++) x[r * 784 + ((label * 70 + rng.int(200)) % 784)] = Math.round(255 * rng.next()) / 255;
  }
  return { count, x, y };
}

const cases = [
  {
    name: 'sinusoid 1-40-40-1',
    spec: SINUSOID_MLP,
    support: sineExamples(1, 5),
    query: sineExamples(1, 5),
    hyper: { batchSize: 4, lr: 0.02, localEpochs: 3, innerLr: 0.02, innerSteps: 3, outerLr: 0.05, metaSteps: 3 },
  },
  {
    name: 'MNIST-shaped 784-32-10',
    spec: MNIST_SHAPED,
    support: digitExamples(2, 40),
    query: digitExamples(3, 20),
    hyper: { batchSize: 16, lr: 0.1, localEpochs: 2, innerLr: 0.1, innerSteps: 2, outerLr: 0.3, metaSteps: 3 },
  },
] as const;

describe('fastClientUpdate', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  for (const c of cases) {
    for (const algorithm of FAST_ALGORITHMS) {
      it(`${algorithm} on ${c.name} equals the TF.js client update (same data, seed and batch draws)`, async () => {
        // Prepare
        const input: ClientUpdateInput = {
          spec: c.spec,
          algorithm,
          // Meta-SGD's rate gradients (∇L_q ⊙ ∇L_s) are large on sinusoids far from fit: a smaller meta step keeps TF.js finite.
          hyper: ClientHyperSchema.parse(algorithm === 'meta-sgd' ? { ...c.hyper, outerLr: c.hyper.outerLr / 10 } : c.hyper),
          global: initialFederated(c.spec, algorithm, 7, c.hyper.innerLr),
          support: c.support,
          query: c.query,
          // A head kept from an earlier round (a fresh head's zero output layer would leave the body's first steps still).
          head: keepsHead(algorithm) ? initialWeights(c.spec, 8).slice(headOffset(c.spec)) : null,
          seed: 11,
        };
        const fastSteps: number[] = [];
        // Execute
        const expected = await clientUpdate(input);
        const actual = await fastClientUpdate({ ...input, onProgress: (done) => void fastSteps.push(done) });
        // Assert
        // Per-FedAvg-HF differences two float32 gradients 2e-3 apart in TF.js: its product carries ~1e-7 / 1e-3 relative
        // round-off there, which float64 does not share.
        expect(relativeL2Error(actual.delta, expected.delta)).toBeLessThan(algorithm === 'per-fedavg-hf' ? 1e-4 : 1e-5);
        expect(actual.loss).toBeCloseTo(expected.loss, 5);
        // fedrep / fedper keep a head: the same head, and it never reaches the delta.
        expect(actual.head === undefined).toBe(expected.head === undefined);
        if (actual.head && expected.head) expect(relativeL2Error(actual.head, expected.head)).toBeLessThan(1e-5);
        expect(actual.numExamples).toBe(expected.numExamples);
        expect(actual.steps).toBe(expected.steps);
        expect(fastSteps).toEqual(Array.from({ length: expected.steps }, (_, i) => i + 1));
      });
    }
  }

  it('maml: the meta-gradient matches central finite differences of the query loss after adaptation', async () => {
    // Prepare: one meta step at outer lr 1 uploads −(meta-gradient).
    const spec: MlpSpec = { kind: 'mlp', inputShape: [1], hidden: [12, 12], outputs: 1, task: 'regression' };
    const support = sineExamples(5, 5);
    const query = sineExamples(5, 5);
    const hyper = ClientHyperSchema.parse({ batchSize: 5, innerLr: 0.05, innerSteps: 3, outerLr: 1, metaSteps: 1 });
    const rng = createRng(6);
    const w = Float64Array.from(initialWeights(spec, 2), (x) => x + 0.1 * rng.normal());
    const global = Float32Array.from(w);
    const v = Float64Array.from({ length: w.length }, () => rng.normal());
    const model = new DenseMlp(spec);
    const all = [0, 1, 2, 3, 4];
    const objective = (at: Float64Array): number => {
      const fast = at.slice();
      const grad = new Float64Array(at.length);
      for (let s = 0; s < hyper.innerSteps; s++) {
        model.lossAndGradient(fast, model.batch(support, all), grad);
        fast.forEach((x, i) => (fast[i] = x - hyper.innerLr * grad[i]!));
      }
      return model.loss(fast, model.batch(query, all));
    };
    const h = 1e-5;
    const base = Float64Array.from(global);
    // Execute
    const { delta } = await fastClientUpdate({ spec, algorithm: 'maml', hyper, global, support, query, seed: 1 });
    const numeric = (objective(base.map((x, i) => x + h * v[i]!)) - objective(base.map((x, i) => x - h * v[i]!))) / (2 * h);
    // Assert
    const analytic = -delta.reduce((sum, d, i) => sum + d * v[i]!, 0);
    expect(Math.abs(analytic - numeric) / Math.abs(numeric)).toBeLessThan(1e-5);
  });

  it('says which updates it computes, and refuses the others with the reason', async () => {
    expect(fastEngineSupports(SINUSOID_MLP, 'maml')).toBe(true);
    expect(fastEngineSupports(MNIST_CNN, 'fedavg')).toBe(false);
    const images: Examples = { count: 2, x: new Float32Array(2 * 784), y: new Float32Array([1, 2]) };
    const input: ClientUpdateInput = {
      spec: MNIST_CNN,
      algorithm: 'fedavg',
      hyper: ClientHyperSchema.parse({}),
      global: initialWeights(MNIST_CNN, 1),
      support: images,
      query: images,
      seed: 1,
    };
    await expect(fastClientUpdate(input)).rejects.toThrow(/fast engine runs .* on MLPs, not fedavg on a cnn/);
  });

  it('refuses what clientUpdate refuses: no examples, MAML without a query set, labels outside the classes', async () => {
    const hyper = ClientHyperSchema.parse({});
    const global = initialWeights(MNIST_SHAPED, 1);
    const none: Examples = { count: 0, x: new Float32Array(0), y: new Float32Array(0) };
    const base = { spec: MNIST_SHAPED, hyper, global, seed: 1 };
    await expect(fastClientUpdate({ ...base, algorithm: 'fedavg', support: none, query: none })).rejects.toThrow(/no training examples/);
    const digits = digitExamples(1, 4);
    await expect(fastClientUpdate({ ...base, algorithm: 'maml', support: digits, query: none })).rejects.toThrow(
      /needs both support and query/,
    );
    const bad: Examples = { ...digits, y: new Float32Array([0, 1, 10, 2]) };
    await expect(fastClientUpdate({ ...base, algorithm: 'fedavg', support: bad, query: none })).rejects.toThrow(/label 10 is not a class/);
  });
});
