import {
  PROTOCOL_VERSION,
  SINUSOID_MLP,
  MNIST_MLP,
  validationIndices,
  type Assignment,
  type Hello,
  type RunConfig,
  type ScenarioSpec,
} from '@tabula/core';
import { describe, expect, it } from 'vitest';
import { Registry } from './registry.js';
import { ShardAssigner } from './shard-assigner.js';

const shards: ScenarioSpec = { name: 'shards', participants: 3, seed: 1, heldOut: 1 };
const sines: ScenarioSpec = { name: 'sinusoid', participants: 2, seed: 1, heldOut: 0 };

function hello(overrides: Partial<Hello> = {}): Hello {
  return { protocolVersion: PROTOCOL_VERSION, backend: 'test', examples: 0, heldOut: false, dataSource: 'assigned', ...overrides };
}

function setup() {
  const registry = new Registry();
  const offers: [string, Assignment][] = [];
  const assigner = new ShardAssigner(registry, shards, (id, assignment) => offers.push([id, assignment]));
  /** Registers what the hello was assigned, as the hub does. */
  const join = (socket: string, body: Partial<Hello> = {}) => {
    const claim = registry.join(socket, hello(body), 0);
    if (!claim.ok) throw new Error(claim.error);
    return claim.entry;
  };
  return { registry, assigner, offers, join };
}

describe('ShardAssigner', () => {
  it('hands out the lowest free shard of the default scenario, keeps a returning participant’s, and says when all are taken', () => {
    const { assigner, join, registry } = setup();
    const taken: number[] = [];
    for (let k = 0; k < 3; k++) {
      const result = assigner.assign(hello(), null, undefined);
      if (!result.ok || !result.assignment) throw new Error('no shard');
      taken.push(result.assignment.index);
      join(`s${k}`, { scenario: result.assignment.scenario, assignedIndex: result.assignment.index });
    }
    expect(taken).toEqual([0, 1, 2]);
    expect(assigner.assign(hello(), null, undefined)).toEqual({ ok: false, error: 'all 3 participants of scenario shards are taken' });
    // A returning participant keeps its shard; one that names a shard must name one that exists.
    const previous = registry.get(registry.idOf('s1')!)!;
    expect(assigner.assign(hello(), previous, undefined)).toMatchObject({ ok: true, assignment: { index: 1 } });
    expect(assigner.assign(hello({ assignedIndex: 7, scenario: shards }), null, undefined)).toEqual({
      ok: false,
      error: 'participant 7 does not exist in a 3-participant scenario',
    });
    expect(assigner.assign(hello({ dataSource: 'own', heldOut: true }), null, undefined)).toEqual({
      ok: true,
      assignment: null,
      heldOut: true,
      validation: false,
    });
  });

  it('selects for a scenario run only participants holding exactly its scenario, and offers the others a shard of it', () => {
    const { assigner, join, offers } = setup();
    const onShards = join('a', { scenario: shards, assignedIndex: 0 });
    const onSines = join('b', { scenario: sines, assignedIndex: 0 });
    const own = join('c', { dataSource: 'own', examples: 5 });
    const run = (scenario: ScenarioSpec, model = scenario.name === 'sinusoid' ? SINUSOID_MLP : MNIST_MLP) =>
      ({ scenario, model }) as RunConfig;
    expect([onShards, onSines, own].map((e) => assigner.compatible(e, run(sines)))).toEqual([false, true, false]);
    expect([onShards, onSines, own].map((e) => assigner.compatible(e, { model: MNIST_MLP } as RunConfig))).toEqual([true, false, true]);
    assigner.offer([onShards, onSines, own], sines);
    // b already holds it; c brings its own data; a is offered the lowest shard b does not hold.
    expect(offers).toEqual([[onShards.id, { scenario: sines, index: 1 }]]);
  });

  it('never hands out a validation shard unasked, and never selects its holder', () => {
    // Prepare: a scenario with 3 validation participants of 8, and a tab pinned to one of them.
    const { assigner, join, registry } = setup();
    const withValidation: ScenarioSpec = { name: 'sinusoid', participants: 8, seed: 4, heldOut: 2, validation: 3 };
    const validation = validationIndices(withValidation);
    expect(validation).toHaveLength(3);
    const asked = hello({ scenario: withValidation, assignedIndex: validation[0]! });
    const answer = assigner.assign(asked, null, undefined);
    if (!answer.ok) throw new Error(answer.error);
    const pinned = (() => {
      const claim = registry.join('pinned', { ...asked, heldOut: answer.heldOut, validation: answer.validation }, 0);
      if (!claim.ok) throw new Error(claim.error);
      return claim.entry;
    })();

    // Execute: hand out every other shard.
    const handedOut: number[] = [];
    for (let k = 0; ; k++) {
      const result = assigner.assign(hello(), null, withValidation);
      if (!result.ok || !result.assignment) break;
      handedOut.push(result.assignment.index);
      join(`t${k}`, { scenario: withValidation, assignedIndex: result.assignment.index });
    }

    // Assert: the 5 trainers and held-out participants, no validation shard; the pinned one takes part in no run.
    expect(handedOut.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].filter((i) => !validation.includes(i)));
    expect(assigner.compatible(pinned, { scenario: withValidation, model: SINUSOID_MLP } as RunConfig)).toBe(false);
    expect(assigner.compatible(pinned, { model: SINUSOID_MLP } as RunConfig)).toBe(false);
    // The dashboard's list says why it never takes part; the others are not marked.
    expect(
      registry
        .list()
        .filter((p) => p.validation)
        .map((p) => p.id),
    ).toEqual([pinned.id]);
  });
});
