import { beforeAll, describe, expect, it } from 'vitest';
import { parameterCount } from '../model/layout.js';
import { loadMnist } from '../data/mnist-node.js';
import { SINUSOID_MLP } from '../model/spec.js';
import { presetRunConfig } from '../presets.js';
import { privacySpent } from '../privacy/epsilon.js';
import { seededRandomSource } from '../privacy/random-source.js';
import { runSimulation, type SimRound } from './simulation.js';
import { useBackend } from '../tf.js';
import { frameByteLength } from '../wire/index.js';

const small = (overrides: object = {}) => ({
  ...presetRunConfig('sinusoid', 'reptile'),
  scenario: { name: 'sinusoid' as const, participants: 30, seed: 3, kShot: 5, heldOut: 5 },
  rounds: 4,
  perRound: 5,
  ...overrides,
});

describe('runSimulation', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('reports every round and a meta-test at 0, 1, 5 and 10 adaptation steps', async () => {
    const lines: SimRound[] = [];
    const result = await runSimulation(small({ evaluateEvery: 2 }), { onRound: (r) => lines.push(r) });
    expect(lines.map((r) => r.round)).toEqual([1, 2, 3, 4]);
    expect(result.rounds).toEqual(lines);
    for (const r of lines) {
      expect(r.participants).toBe(5);
      expect(Number.isFinite(r.loss)).toBe(true);
    }
    // Trainers and held-out participants are evaluated every 2nd round only.
    expect(lines.map((r) => r.heldOutGlobal !== null)).toEqual([false, true, false, true]);
    expect(lines.map((r) => r.global !== null && r.global > 0)).toEqual([false, true, false, true]);
    expect(result.metaTest).toMatchObject({ metric: 'mse', participants: 5, steps: [0, 1, 5, 10] });
    expect(result.metaTest.perParticipant).toHaveLength(5);
    expect(result.parameters).toBe(parameterCount(SINUSOID_MLP));
  });

  it('hears every evaluator in every round: an answer that completes one round never counts against the next', async () => {
    // Prepare: one held-out participant, the last one sent work each round
    const config = small({
      rounds: 3,
      evaluateEvery: 1,
      scenario: { name: 'sinusoid' as const, participants: 30, seed: 3, kShot: 5, heldOut: 1 },
    });

    // Execute
    const result = await runSimulation(config);

    // Assert
    expect(result.rounds.map((r) => r.heldOutGlobal !== null)).toEqual([true, true, true]);
  });

  it('counts the real frame bytes: int8 uploads are about a quarter of float32', async () => {
    const f32 = await runSimulation(small({ rounds: 1, codec: 'float32' }));
    const i8 = await runSimulation(small({ rounds: 1, codec: 'int8' }));
    const n = parameterCount(SINUSOID_MLP);
    const segments = [40, 40, 1600, 40, 40, 1];
    expect(f32.rounds[0]!.bytesUp).toBe(5 * frameByteLength(n, 'float32', segments, 'sim'));
    expect(i8.rounds[0]!.bytesUp).toBe(5 * frameByteLength(n, 'int8', segments, 'sim'));
    expect(i8.rounds[0]!.bytesUp / f32.rounds[0]!.bytesUp).toBeLessThan(0.3);
    // Weights go down in float32 to the 5 trainers and the 5 held-out participants (evaluated in the last round).
    expect(f32.rounds[0]!.bytesDown).toBe(10 * frameByteLength(n, 'float32', 1, 'sim'));
  });

  it('is deterministic for a seed', async () => {
    const a = await runSimulation(small({ rounds: 2 }));
    const b = await runSimulation(small({ rounds: 2 }));
    expect(b.metaTest.mean).toEqual(a.metaTest.mean);
    expect(b.rounds.map((r) => r.loss)).toEqual(a.rounds.map((r) => r.loss));
  });

  it('a few Byzantine participants wreck FedAvg, while the coordinate-wise median barely notices them', async () => {
    // Prepare: 3 of 25 trainers send -100x their delta and claim 1000 examples; 10 trainers per round. Server SGD:
    // FedAdam's per-coordinate normalisation would itself bound how far one round can move the weights.
    const attackers = { count: 3, scale: -100, claimedExamples: 1000 };
    const run = (aggregation: object, withAttackers: boolean) =>
      runSimulation(small({ rounds: 3, perRound: 10, aggregation, server: { kind: 'sgd', lr: 1 } }), withAttackers ? { attackers } : {});
    // Execute
    const [clean, attacked, robust] = await Promise.all([
      run({ kind: 'fedavg' }, false),
      run({ kind: 'fedavg' }, true),
      run({ kind: 'median' }, true),
    ]);
    // Assert: MSE of the global model on the held-out tasks (k = 0).
    const mse = (r: typeof clean) => r.metaTest.mean[0]!;
    expect(mse(attacked)).toBeGreaterThan(10 * mse(clean));
    expect(mse(robust)).toBeLessThan(2 * mse(clean));
  });

  it('the fast engine runs the same rounds as TF.js: the same losses and meta-test, to float32 rounding', async () => {
    for (const algorithm of ['maml', 'reptile', 'meta-sgd', 'per-fedavg-hf'] as const) {
      // Prepare
      const config = small({ ...presetRunConfig('sinusoid', algorithm), scenario: small().scenario, rounds: 3, perRound: 5 });
      // Execute
      const tfjs = await runSimulation(config);
      const fast = await runSimulation(config, { engine: 'fast' });
      // Assert
      fast.rounds.forEach((r, i) => expect(r.loss).toBeCloseTo(tfjs.rounds[i]!.loss!, 4));
      fast.metaTest.mean.forEach((m, i) => expect(m).toBeCloseTo(tfjs.metaTest.mean[i]!, 4));
    }
  });

  it('never trains validation participants, and scores them apart from the held-out ones', async () => {
    // Prepare: 30 participants, 5 held out and 20 validation, so only 5 can train however many a round asks for.
    const scenario = { name: 'sinusoid' as const, participants: 30, seed: 3, kShot: 5, heldOut: 5, validation: 20 };
    // Execute
    const result = await runSimulation(small({ scenario, rounds: 2, perRound: 10 }));
    // Assert
    expect(result.rounds.map((r) => r.participants)).toEqual([5, 5]);
    expect(result.metaTest.participants).toBe(5);
    expect(result.metaTest.validation.participants).toBe(20);
    expect(result.metaTest.validation.perParticipant).toHaveLength(20);
    expect(result.metaTest.validation.mean).toHaveLength(result.metaTest.steps.length);
    // Without validation participants, the part is empty.
    const without = await runSimulation(small({ scenario: { ...scenario, validation: 0 }, rounds: 1, perRound: 5 }));
    expect(without.metaTest.validation).toEqual({ participants: 0, mean: [0, 0, 0, 0], perParticipant: [] });
  });

  it('chooses the fine-tuning learning rate and steps on the validation participants, then scores the held-out ones with them', async () => {
    // Prepare: fedavg trains at lr 0.01 whatever its inner lr, which only sets how its meta-test adapts (here barely).
    const scenario = { name: 'sinusoid' as const, participants: 60, seed: 3, kShot: 5, heldOut: 10, validation: 10 };
    const config = small({ algorithm: 'fedavg', scenario, rounds: 5, perRound: 10 });
    const run = (adaptLrs?: number[]) =>
      runSimulation(
        { ...config, client: { ...config.client, innerLr: 1e-4 } },
        { metaTestSteps: [0, 10], ...(adaptLrs ? { adaptLrs } : {}) },
      );
    // Execute
    const fixed = await run();
    const chosen = await run([1e-4, 0.003, 0.03]);
    // Assert: 10 steps at 0.003 fit the sines; 1e-4 barely moves and 0.03 overshoots. Without a grid, the inner lr it is.
    expect(chosen.metaTest.tuned).toMatchObject({ lr: 0.003, steps: 10 });
    expect(chosen.metaTest.tuned!.mean).toBeLessThan(fixed.metaTest.mean[1]!);
    expect(chosen.metaTest.tuned!.perParticipant).toHaveLength(10);
    expect(fixed.metaTest.tuned!.lr).toBe(1e-4);
    expect(fixed.metaTest.tuned!.mean).toBe(fixed.metaTest.mean[fixed.metaTest.tuned!.steps === 0 ? 0 : 1]);
  });

  it('meta-tests the trained body under a new head, imprinted from the support set, with freshHead', async () => {
    // Prepare: label-permuted MNIST, where fedavg's global output layer cannot know a newcomer's labelling.
    const scenario = { name: 'iid' as const, participants: 40, seed: 2, heldOut: 6, supportShots: 30, labelPermutations: 2 };
    const config = { ...presetRunConfig('iid', 'fedavg'), scenario, rounds: 3, perRound: 5, evaluateEvery: 3 };
    const mnist = loadMnist();
    // Execute
    const [global, fresh] = await Promise.all([
      runSimulation(config, { mnist, engine: 'fast', metaTestSteps: [0] }),
      runSimulation(config, { mnist, engine: 'fast', freshHead: true, metaTestSteps: [0] }),
    ]);
    // Assert: the global output layer scores newcomers' unseen labellings near chance; the head imprinted on the same
    // body names their digits as their support set does.
    expect(global.metaTest.mean[0]).toBeLessThan(0.25);
    expect(fresh.metaTest.mean[0]).toBeGreaterThan(global.metaTest.mean[0]! + 0.3);
  });

  it('trains on fresh sine points each round with freshPoints, deterministically', async () => {
    const fresh = small({ scenario: { ...small().scenario, freshPoints: true }, rounds: 2 });
    const [a, b, fixed] = await Promise.all([runSimulation(fresh), runSimulation(fresh), runSimulation(small({ rounds: 2 }))]);
    expect(b.rounds.map((r) => r.loss)).toEqual(a.rounds.map((r) => r.loss));
    expect(a.rounds.map((r) => r.loss)).not.toEqual(fixed.rounds.map((r) => r.loss));
  });

  it('runs DP-FedAvg with ε per round, and completes early when the budget would be exceeded', async () => {
    // Prepare: 25 trainers, 5 expected per round (q 0.2), z 1; a budget that two rounds meet and a third would not.
    const privacy = { mode: 'central' as const, clip: 0.1, noiseMultiplier: 1, expectedPerRound: 5, delta: 1e-5 };
    const two = privacySpent({ samplingRate: 0.2, noiseMultiplier: 1, rounds: 2, delta: 1e-5 }).epsilon;
    const three = privacySpent({ samplingRate: 0.2, noiseMultiplier: 1, rounds: 3, delta: 1e-5 }).epsilon;
    const lines: SimRound[] = [];

    // Execute
    const result = await runSimulation(small({ perRound: undefined, privacy: { ...privacy, epsilonBudget: (two + three) / 2 } }), {
      onRound: (r) => lines.push(r),
      random: seededRandomSource(2),
    });

    // Assert
    expect(result.stopReason).toBe('privacy budget reached');
    expect(lines.map((r) => r.round)).toEqual([1, 2]);
    expect(lines[1]!.epsilon).toBeCloseTo(two, 12);
    expect(lines[0]!.epsilon!).toBeLessThan(two);
    expect(result.metaTest.participants).toBe(5);
  });

  it('with secure aggregation learns what plain FedAvg learns, to the ring’s rounding, and masks every upload', async () => {
    // Prepare: the same seed with and without; fedavg, whose deltas go through the ring unscaled by any server rate.
    const config = small({ ...presetRunConfig('sinusoid', 'fedavg'), rounds: 3, perRound: 5, evaluateEvery: 1 });
    // Execute
    const plain = await runSimulation(config, { engine: 'fast' });
    // Weight 1 at the 10 examples each participant has: the ring's steps are then fine for their small deltas.
    const secure = await runSimulation({ ...config, secureAggregation: { maxGroup: 5, clip: 1, maxExamples: 10 } }, { engine: 'fast' });
    // Assert: the loss and the metrics come from the masked extras; the model differs by the rounding steps alone.
    secure.rounds.forEach((r, i) => {
      const p = plain.rounds[i]!;
      expect(r.participants).toBe(5);
      expect(r.loss!).toBeCloseTo(p.loss!, 4);
      expect(r.global!).toBeCloseTo(p.global!, 4);
      expect(r.personalized!).toBeCloseTo(p.personalized!, 4);
      // Five masked frames of the parameters and 6 extras, plus the keys and shares of the stages.
      expect(r.bytesUp).toBeGreaterThan(5 * frameByteLength(secure.parameters + 6, 'float32', 1, 'sim'));
    });
    secure.metaTest.mean.forEach((m, i) => expect(m).toBeCloseTo(plain.metaTest.mean[i]!, 4));
  });

  it('rejects a configuration that cannot run, naming the field', async () => {
    await expect(runSimulation(small({ rounds: 0 }))).rejects.toThrow(/rounds/);
    await expect(runSimulation({ ...small(), scenario: undefined })).rejects.toThrow(/needs a scenario/);
  });
});
