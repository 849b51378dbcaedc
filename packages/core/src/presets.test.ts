import { describe, expect, it } from 'vitest';
import { MNIST_MLP, SINUSOID_MLP } from './model/spec.js';
import { completeRunConfig, presetRunConfig } from './presets.js';
import { RunConfigSchema, parseOrError } from './protocol.js';

describe('completeRunConfig', () => {
  it('completes a config without a model from the preset of its scenario and algorithm, keeping what it says', () => {
    const rounds = RunConfigSchema.parse(completeRunConfig({ rounds: 3 }));
    expect(rounds).toMatchObject({
      algorithm: 'reptile',
      model: MNIST_MLP,
      rounds: 3,
      scenario: { name: 'shards', participants: 40 },
      perRound: 10,
    });
    expect(rounds.client.innerSteps).toBe(presetRunConfig('shards', 'reptile').client!.innerSteps);

    const maml = RunConfigSchema.parse(
      completeRunConfig({ algorithm: 'maml', scenario: { name: 'sinusoid', participants: 200 }, client: { innerLr: 0.02 } }),
    );
    expect(maml).toMatchObject({
      algorithm: 'maml',
      model: SINUSOID_MLP,
      server: { kind: 'fedadam', tau: 1e-6 },
      scenario: { name: 'sinusoid', participants: 200, kShot: 5 },
    });
    expect(maml.client).toMatchObject({ innerLr: 0.02, adaptSteps: 10 });
    // A server optimizer of another kind replaces the preset's whole.
    expect(RunConfigSchema.parse(completeRunConfig({ scenario: { name: 'sinusoid' }, server: { kind: 'sgd', lr: 0.5 } })).server).toEqual({
      kind: 'sgd',
      lr: 0.5,
    });
  });

  it("keeps the preset's held-out and validation counts only for the preset's participants", () => {
    const preset = RunConfigSchema.parse(completeRunConfig({ scenario: { name: 'sinusoid' } })).scenario!;
    expect(preset).toMatchObject({ participants: 1000, heldOut: 200, validation: 100 });
    // 40 participants: the resolver's defaults (10 % held out, no validation), unless the config says otherwise.
    const fewer = RunConfigSchema.parse(completeRunConfig({ scenario: { name: 'sinusoid', participants: 40 } })).scenario!;
    expect(fewer).toMatchObject({ participants: 40, kShot: 5 });
    expect(fewer).not.toHaveProperty('heldOut');
    expect(fewer).not.toHaveProperty('validation');
    const said = RunConfigSchema.parse(completeRunConfig({ scenario: { name: 'sinusoid', participants: 40, heldOut: 8, validation: 4 } }));
    expect(said.scenario).toMatchObject({ heldOut: 8, validation: 4 });
  });

  it('leaves a config with a model, and what it cannot complete, for the schema to judge', () => {
    const full = { algorithm: 'fedavg', model: MNIST_MLP, rounds: 2 };
    expect(completeRunConfig(full)).toBe(full);
    expect(RunConfigSchema.parse(full).scenario).toBeUndefined();
    const unknown = parseOrError(RunConfigSchema, completeRunConfig({ algorithm: 'sgd' }));
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.error).toMatch(/algorithm/);
    expect(completeRunConfig('rounds')).toBe('rounds');
  });
});
