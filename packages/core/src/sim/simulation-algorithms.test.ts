import { beforeAll, describe, expect, it } from 'vitest';
import { parameterCount } from '../model/layout.js';
import { SINUSOID_MLP } from '../model/spec.js';
import { presetRunConfig } from '../presets.js';
import { useBackend } from '../tf.js';
import { frameByteLength } from '../wire/index.js';
import { loadMnist } from '../data/mnist-node.js';
import { runSimulation } from './simulation.js';

const ROUNDS = 60;

describe('runSimulation with Meta-SGD, Per-FedAvg and personal heads', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  for (const algorithm of ['meta-sgd', 'per-fedavg-fo', 'per-fedavg-hf'] as const) {
    it(`${algorithm} learns sinusoids from its preset: held-out MSE after adaptation falls below the start's`, async () => {
      // Prepare: round 1 evaluates the starting weights on the held-out tasks, the meta-test the final ones.
      const preset = presetRunConfig('sinusoid', algorithm);
      const config = {
        ...preset,
        scenario: { name: 'sinusoid' as const, participants: 60, seed: 2, kShot: 5, heldOut: 10 },
        rounds: ROUNDS,
        perRound: 10,
        evaluateEvery: ROUNDS,
        server: { kind: 'fedadam' as const, lr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-6 },
      };
      const adaptSteps = preset.client!.adaptSteps!;
      // Execute
      const start = await runSimulation({ ...config, rounds: 1, evaluateEvery: 1 }, { metaTestSteps: [adaptSteps] });
      const result = await runSimulation(config, { metaTestSteps: [0, adaptSteps] });
      // Assert
      expect(result.rounds).toHaveLength(ROUNDS);
      expect(result.rounds.every((r) => Number.isFinite(r.loss))).toBe(true);
      const before = start.rounds[0]!.heldOutPersonalized!;
      const after = result.metaTest.mean[1]!;
      expect(Number.isFinite(after)).toBe(true);
      expect(after).toBeLessThan(before);
    });
  }

  it('meta-sgd federates a learned rate per weight: twice the values each way, and the hub sends them as it does weights', async () => {
    // Prepare
    const config = {
      ...presetRunConfig('sinusoid', 'meta-sgd'),
      scenario: { name: 'sinusoid' as const, participants: 20, seed: 3, kShot: 5, heldOut: 2 },
      rounds: 1,
      perRound: 4,
    };
    const n = parameterCount(SINUSOID_MLP);
    const segments = [40, 40, 1600, 40, 40, 1];
    // Execute
    const result = await runSimulation(config);
    // Assert: the delta codec scales the rates' tensors apart from the weights'.
    expect(result.parameters).toBe(2 * n);
    expect(result.rounds[0]!.bytesUp).toBe(4 * frameByteLength(2 * n, 'float32', [...segments, ...segments], 'sim'));
    expect(result.rounds[0]!.bytesDown).toBe(6 * frameByteLength(2 * n, 'float32', 1, 'sim'));
  });

  for (const algorithm of ['fedrep', 'fedper'] as const) {
    it(`${algorithm}: under label skew, trainers keep heads that classify their own digits; a newcomer's head, imprinted from its support set, does at once`, async () => {
      // Prepare: 2 digit classes per participant; 10 of 36 trainers a round, so by round 20 most have kept a head.
      const preset = presetRunConfig('shards', algorithm);
      const config = { ...preset, rounds: 20, evaluateEvery: 20, client: { ...preset.client, adaptSteps: 10 } };
      // Execute
      const result = await runSimulation(config, { engine: 'fast', mnist: loadMnist(), metaTestSteps: [0, 10] });
      // Assert: the trainers' metric before adaptation is their kept head's. A held-out participant starts from the
      // nearest class mean of its two digits on the shared body's features (a zero head would score one class, at most
      // 2 of the 10 digits' test share), and fitting keeps it there.
      const last = result.rounds[19]!;
      expect(last.global!).toBeGreaterThan(0.6);
      const [imprinted, fitted] = result.metaTest.mean as [number, number];
      expect(imprinted).toBeGreaterThan(0.8);
      expect(fitted).toBeGreaterThan(0.8);
    });
  }

  it('fedrep federates the body alone: frames of the layers before the 40-1 head each way', async () => {
    // Prepare
    const config = {
      ...presetRunConfig('sinusoid', 'fedrep'),
      scenario: { name: 'sinusoid' as const, participants: 20, seed: 3, kShot: 5, heldOut: 2 },
      rounds: 1,
      perRound: 4,
    };
    const body = parameterCount(SINUSOID_MLP) - 41;
    // Execute
    const result = await runSimulation(config);
    // Assert
    expect(result.parameters).toBe(body);
    expect(result.rounds[0]!.bytesUp).toBe(4 * frameByteLength(body, 'float32', [40, 40, 1600, 40], 'sim'));
  });
});
