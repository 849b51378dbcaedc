import { beforeAll, describe, expect, it } from 'vitest';
import { disposeAll, fromTensors, initialWeights, toTensors } from '../model/params.js';
import type { MlpSpec } from '../model/spec.js';
import { tf, useBackend } from '../tf.js';
import { toBatch } from './batch.js';
import { perFedAvgGradient } from './per-fedavg.js';
import { fomamlGradient, mamlGradient } from './steps.js';
import { relativeL2Error } from '../aggregate/norm.js';
import { randomExamples } from './random-examples.js';

const spec: MlpSpec = { kind: 'mlp', inputShape: [3], hidden: [5], outputs: 3, task: 'classification' };
const INNER_LR = 0.5;

describe('Per-FedAvg meta-gradient', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('with its Hessian batch the support batch, HF is one-step second-order MAML and FO is one-step FOMAML', () => {
    // Prepare
    const params = toTensors(spec, initialWeights(spec, 7));
    const s = toBatch(spec, randomExamples(1, 8));
    const q = toBatch(spec, randomExamples(2, 8));
    // Execute
    const hf = perFedAvgGradient(spec, params, s, q, s, INNER_LR);
    const fo = perFedAvgGradient(spec, params, s, q, null, INNER_LR);
    const maml = mamlGradient(spec, params, s, q, INNER_LR, 1);
    const fomaml = fomamlGradient(spec, params, s, q, INNER_LR, 1);
    const [hfFlat, foFlat, mamlFlat, fomamlFlat] = [hf, fo, maml, fomaml].map((r) => fromTensors(r.grads));
    const losses = [hf, fo, maml].map((r) => r.loss.dataSync()[0]!);
    tf.dispose([hf, fo, maml, fomaml].flatMap((r) => [...r.grads, r.loss]));
    disposeAll([...params, ...s, ...q]);
    // Assert: the Hessian term is really there (HF differs from FO), and the finite difference gets it right.
    expect(relativeL2Error(foFlat!, fomamlFlat!)).toBeLessThan(1e-5);
    expect(relativeL2Error(foFlat!, mamlFlat!)).toBeGreaterThan(0.01);
    expect(relativeL2Error(hfFlat!, mamlFlat!)).toBeLessThan(1e-3);
    expect(losses[0]).toBeCloseTo(losses[2]!, 5);
    expect(losses[1]).toBeCloseTo(losses[2]!, 5);
  });
});
