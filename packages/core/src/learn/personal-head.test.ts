import { beforeAll, describe, expect, it } from 'vitest';
import { relativeL2Error } from '../aggregate/norm.js';
import { parameterCount, segmentSizes } from '../model/layout.js';
import { initialWeights } from '../model/params.js';
import { MNIST_CNN, SINUSOID_MLP, type MlpSpec } from '../model/spec.js';
import { RunConfigSchema } from '../protocol.js';
import { useBackend } from '../tf.js';
import { clientUpdate, type ClientUpdateInput } from './client-update.js';
import { adaptationCurve } from './evaluate.js';
import { fastAdaptationCurve } from './fast/fast-adaptation-curve.js';
import { federatedLength, federatedSegments, headOffset, headProblem } from './federated-layout.js';
import { ClientHyperSchema } from './hyper.js';
import { initialFederated } from './initial-federated.js';
import { freshHead, headLength, localModel } from './local-model.js';
import { randomExamples } from './random-examples.js';

const SPEC: MlpSpec = { kind: 'mlp', inputShape: [3], hidden: [6, 5], outputs: 4, task: 'classification' };
const P = parameterCount(SPEC);
// 3·6+6 + 6·5+5 = 59 body weights; the output layer 5·4+4 = 24 is the head.
const BODY = 59;

describe('personal heads (fedrep, fedper)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('federate the body alone: the layers before the head, with the codec segments of its tensors', () => {
    expect(headOffset(SPEC)).toBe(BODY);
    expect(federatedLength(SPEC, 'fedrep')).toBe(BODY);
    expect(federatedLength(SPEC, 'fedper')).toBe(BODY);
    expect(federatedSegments(SPEC, 'fedrep')).toEqual(segmentSizes(SPEC).slice(0, 4));
    expect(headLength(SPEC)).toBe(P - BODY);
    // A two-layer head leaves the first layer as the body.
    expect(federatedLength({ ...SPEC, head: 2 }, 'fedper')).toBe(24);
    expect(initialFederated(SPEC, 'fedrep', 3, 0.1)).toEqual(initialWeights(SPEC, 3).slice(0, BODY));
    // Sinusoid: the last 40-1 layer is the head; MNIST's CNN keeps its dense layer and shares the convolutions.
    expect(federatedLength(SINUSOID_MLP, 'fedrep')).toBe(parameterCount(SINUSOID_MLP) - 41);
    expect(federatedLength(MNIST_CNN, 'fedrep')).toBe(parameterCount(MNIST_CNN) - (7 * 7 * 16 * 10 + 10));
  });

  it('refuses a run whose head would leave no body, naming model.head', () => {
    const run = (model: object, algorithm: string) => RunConfigSchema.safeParse({ algorithm, model, rounds: 1, seed: 1 });
    const logistic = { kind: 'mlp', inputShape: [3], hidden: [], outputs: 2, task: 'classification' };
    const refused = run(logistic, 'fedrep');
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.path).toEqual(['model', 'head']);
    expect(refused.error?.issues[0]?.message).toContain('leaves no shared body');
    expect(run({ ...SPEC, head: 3 }, 'fedper').success).toBe(false);
    expect(run({ ...MNIST_CNN, head: 3 }, 'fedrep').success).toBe(false);
    // Other algorithms share the whole model, so the head does not matter to them.
    expect(run(logistic, 'fedavg').success).toBe(true);
    expect(run({ ...SPEC, head: 2 }, 'fedrep').success).toBe(true);
    expect(headProblem(SPEC)).toBeNull();
  });

  it('start a participant without a head from a fresh one whose output layer is zero, and adapt only the head', () => {
    const body = initialFederated(SPEC, 'fedrep', 5, 0.1);
    const fresh = localModel(SPEC, 'fedrep', body);
    expect(fresh.weights.subarray(0, BODY)).toEqual(body);
    expect(fresh.weights.subarray(BODY).every((w) => w === 0)).toBe(true);
    expect(fresh.adaptFrom).toBe(BODY);
    const twoLayerHead = freshHead({ ...SPEC, head: 2 });
    expect(twoLayerHead.subarray(0, 30).some((w) => w !== 0)).toBe(true);
    expect(twoLayerHead.subarray(30).every((w) => w === 0)).toBe(true);
    // Its own head when it has one, a fresh one when the stored head is another model's size.
    const own = Float32Array.from({ length: P - BODY }, (_, i) => i / 100);
    expect(localModel(SPEC, 'fedper', body, own).weights.subarray(BODY)).toEqual(own);
    expect(localModel(SPEC, 'fedper', body, new Float32Array(7)).weights.subarray(BODY)).toEqual(freshHead(SPEC));
  });

  it('fedper is fedavg on the whole model, only the body uploaded and the head handed back', async () => {
    // Prepare
    const head = initialWeights(SPEC, 9).slice(BODY);
    const body = initialFederated(SPEC, 'fedper', 4, 0.1);
    const common = {
      spec: SPEC,
      hyper: ClientHyperSchema.parse({ batchSize: 8, lr: 0.2, localEpochs: 3 }),
      support: randomExamples(1, 20, 3, 4),
      query: randomExamples(2, 12, 3, 4),
      seed: 7,
    };
    // Execute
    const fedper = await clientUpdate({ ...common, algorithm: 'fedper', global: body, head });
    const fedavg = await clientUpdate({ ...common, algorithm: 'fedavg', global: localModel(SPEC, 'fedper', body, head).weights });
    // Assert
    expect(fedper.delta).toHaveLength(BODY);
    expect(fedper.delta).toEqual(fedavg.delta.subarray(0, BODY));
    const fedavgHead = Float32Array.from(head, (w, i) => w + fedavg.delta[BODY + i]!);
    expect(relativeL2Error(fedper.head!, fedavgHead)).toBeLessThan(1e-6);
    expect(fedper.loss).toBeCloseTo(fedavg.loss, 6);
  });

  it('fedrep fits the head with the body fixed, then the body with the head fixed', async () => {
    // Prepare
    const body = initialFederated(SPEC, 'fedrep', 4, 0.1);
    const input = (localEpochs: number): ClientUpdateInput => ({
      spec: SPEC,
      algorithm: 'fedrep',
      hyper: ClientHyperSchema.parse({ batchSize: 8, lr: 0.3, localEpochs, headEpochs: 4 }),
      global: body,
      support: randomExamples(1, 20, 3, 4),
      query: randomExamples(2, 12, 3, 4),
      seed: 7,
    });
    // Execute
    const short = await clientUpdate(input(1));
    const long = await clientUpdate(input(3));
    // Assert: the body's epochs leave the head where the head's epochs took it, and move the body further.
    expect(short.head!.some((w) => w !== 0)).toBe(true);
    expect(long.head).toEqual(short.head);
    expect(short.delta.some((d) => d !== 0)).toBe(true);
    expect(long.delta).not.toEqual(short.delta);
    expect(long.steps).toBe((4 + 3) * 4);
  });

  it('adapts only the weights from adaptFrom on, the same in TF.js and in the fast engine', async () => {
    // Prepare
    const model = localModel(SPEC, 'fedrep', initialFederated(SPEC, 'fedrep', 2, 0.1));
    const support = randomExamples(3, 16, 3, 4);
    // Random labels: scored on the support set itself, so fitting it shows.
    const test = support;
    const options = { steps: [0, 3, 10], lr: 0.5, adaptFrom: model.adaptFrom };
    // Execute
    const tfjs = await adaptationCurve(SPEC, model.weights, support, test, options);
    const fast = await fastAdaptationCurve(SPEC, model.weights, support, test, options);
    const all = await adaptationCurve(SPEC, model.weights, support, test, { ...options, adaptFrom: 0 });
    // Assert: a zero head predicts uniformly (loss ln 4) until it adapts.
    expect(tfjs.scores[0]!.loss).toBeCloseTo(Math.log(4), 5);
    expect(tfjs.scores[2]!.loss).toBeLessThan(tfjs.scores[0]!.loss);
    fast.scores.forEach((s, i) => expect(s.loss).toBeCloseTo(tfjs.scores[i]!.loss, 5));
    expect(all.scores[2]!.loss).not.toBeCloseTo(tfjs.scores[2]!.loss, 5);
    await expect(adaptationCurve(SPEC, model.weights, support, test, { ...options, adaptFrom: 5 })).rejects.toThrow(/adaptFrom 5/);
  });
});
