import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SINUSOID_MLP,
  createScenario,
  parameterCount,
  presetRunConfig,
  useBackend,
  type RunConfigInput,
  type ScenarioSpec,
} from '@tabula/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHub, type EmbeddedHub } from '@tabula/server/hub';
import { connectParticipant, type Attack, type NodeParticipant } from './node-participant.js';

const scenario: ScenarioSpec = { name: 'sinusoid', participants: 12, seed: 3, kShot: 5, heldOut: 2 };
let hub: EmbeddedHub;
let url: string;
let dataDir: string;

beforeAll(async () => {
  await useBackend('cpu');
  dataDir = mkdtempSync(join(tmpdir(), 'tabula-swarm-'));
  hub = await createHub({ dataDir, adminToken: 'swarm-test-token-1', defaultScenario: scenario });
  await new Promise<void>((resolve) => hub.http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(hub.http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await hub.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function runWith(attack: Attack | null, overrides: Partial<RunConfigInput> = {}) {
  const rejections: string[] = [];
  const swarm: NodeParticipant[] = [];
  // The attacker + 3 honest trainers, and one held-out tester.
  const heldOut = createScenario(scenario).heldOut;
  const trainers = Array.from({ length: scenario.participants }, (_, i) => i)
    .filter((i) => !heldOut.includes(i))
    .slice(0, 4);
  for (const [k, index] of [...trainers, heldOut[0]!].entries()) {
    swarm.push(
      await connectParticipant({
        url,
        backend: 'cpu',
        scenario,
        assignedIndex: index,
        ...(attack && k === 0 ? { attack } : {}),
        onRejected: (e) => rejections.push(e),
      }),
    );
  }
  const started = await hub.startRun({
    algorithm: 'reptile',
    model: SINUSOID_MLP,
    scenario,
    rounds: 2,
    roundDeadlineMs: 20_000,
    maxUpdateNorm: 1000,
    client: { batchSize: 10, innerLr: 0.01, innerSteps: 3 },
    ...overrides,
  });
  if (!started.ok) throw new Error(started.error);
  const until = Date.now() + 60_000;
  while (hub.store.getRun(started.data.id)?.status === 'running' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  for (const p of swarm) p.close();
  return {
    run: hub.store.getRun(started.data.id)!,
    rounds: hub.store.listRounds(started.data.id),
    rejections,
    attacker: swarm[0]!.id,
    id: started.data.id,
    held: swarm.filter((p) => p.data.heldOut).length,
  };
}

describe('Node participants against a real hub', () => {
  it('train with the browser runtime: rounds complete and held-out participants only evaluate', async () => {
    const { run, rounds, rejections, held } = await runWith(null);
    expect(run.status).toBe('completed');
    expect(rejections).toEqual([]);
    expect(held).toBe(1);
    expect(rounds.map((r) => [r.round, r.status, r.participants.length])).toEqual([
      [1, 'completed', 4],
      [2, 'completed', 4],
    ]);
    expect(rounds[0]!.metrics.global).toBeGreaterThan(0);
    expect(rounds[0]!.metrics.heldOutGlobal).toBeGreaterThan(0);
  });

  it('follow the hub to the scenario of a new run, and a scenario run selects only participants holding it', async () => {
    // Prepare: three participants take whatever the hub assigns (its default scenario); one keeps a pinned shard.
    const swarm: NodeParticipant[] = [];
    for (let k = 0; k < 3; k++) swarm.push(await connectParticipant({ url, backend: 'cpu' }));
    const pinned = await connectParticipant({ url, backend: 'cpu', scenario, assignedIndex: 5 });
    const other: ScenarioSpec = { ...scenario, seed: 4 };
    const otherHeldOut = new Set(createScenario(other).heldOut);
    // Execute: a run on another scenario. The hub offers shards 0, 1 and 2 of it; wait for all of their trainers.
    const expectedTrainers = [0, 1, 2].filter((i) => !otherHeldOut.has(i)).length;
    const started = await hub.startRun({
      algorithm: 'fedavg',
      model: SINUSOID_MLP,
      scenario: other,
      rounds: 1,
      perRound: 10,
      minParticipants: expectedTrainers,
      roundDeadlineMs: 20_000,
      client: { batchSize: 10 },
    });
    if (!started.ok) throw new Error(started.error);
    const until = Date.now() + 60_000;
    while (hub.store.getRun(started.data.id)?.status === 'running' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    for (const p of [...swarm, pinned]) p.close();
    // Assert: the three now hold shards of the run's scenario, and only they took part (trainers and held-out).
    for (const p of swarm) expect(hub.registry.get(p.id)?.scenario).toEqual(other);
    expect(hub.registry.get(pinned.id)?.scenario).toEqual(scenario);
    const [round] = hub.store.listRounds(started.data.id);
    expect(round?.status).toBe('completed');
    const trainers = swarm.filter((p) => !otherHeldOut.has(hub.registry.get(p.id)!.assignedIndex!));
    expect([...round!.participants].sort()).toEqual(trainers.map((p) => p.id).sort());
    expect(round!.participants).not.toContain(pinned.id);
  });

  for (const algorithm of ['meta-sgd', 'per-fedavg-fo', 'per-fedavg-hf'] as const) {
    it(`run ${algorithm} from its preset: every round completes with every trainer`, async () => {
      // The presets step the local meta-gradient whole (outerLr 1) and let FedAdam scale it: early, Meta-SGD's rate
      // gradients (∇L_q ⊙ ∇L_s, per weight) far exceed the bound these tests set against attackers.
      const preset = { algorithm, client: presetRunConfig('sinusoid', algorithm).client!, maxUpdateNorm: 1e9 };
      const { run, rounds, rejections } = await runWith(null, preset);
      expect(run.status).toBe('completed');
      expect(rejections).toEqual([]);
      expect(rounds.map((r) => [r.round, r.status, r.participants.length])).toEqual([
        [1, 'completed', 4],
        [2, 'completed', 4],
      ]);
    });
  }

  it('meta-sgd federates its learned rates after the weights; the exported model holds the weights alone', async () => {
    // Execute
    const { run, id } = await runWith(null, { algorithm: 'meta-sgd', client: { batchSize: 10, innerLr: 0.01, innerSteps: 1 } });
    // Assert: a checkpoint of twice the parameters, whose rates started at innerLr and were meta-trained.
    expect(run.status).toBe('completed');
    const p = parameterCount(SINUSOID_MLP);
    const checkpoint = hub.store.latestCheckpoint(id)!;
    expect(checkpoint.weights.length).toBe(2 * p);
    const rates = checkpoint.weights.subarray(p);
    expect(rates.every(Number.isFinite)).toBe(true);
    expect(rates.some((r) => Math.abs(r - 0.01) > 1e-6)).toBe(true);
    const info = (await (await fetch(`${url}/api/model/info`)).json()) as { parameters: number };
    expect(info.parameters).toBe(p);
    expect((await (await fetch(`${url}/api/model/weights.bin`)).arrayBuffer()).byteLength).toBe(4 * p);
    // The rates a tab's meta-test adapts with, as the checkpoint holds them.
    expect(new Float32Array(await (await fetch(`${url}/api/model/rates.bin`)).arrayBuffer())).toEqual(rates);
  });

  for (const [attack, reason] of [
    ['nan', /NaN/],
    ['scale', /norm .* exceeds this run's bound of 1000/],
    ['wrong-length', /values|length/],
    // A participant whose update was refused is not selected again while others suffice, so the attacker's only
    // try is round 1, where "one round back" is round 0: refused as malformed, later rounds as stale.
    ['stale', /stale|malformed update: round: /],
    // Copies arriving while the round is open are duplicates; once it has closed they are stale.
    ['flood', /duplicate|stale/],
  ] as const) {
    it(`reject a participant attacking with ${attack} and finish the run with the others`, async () => {
      const { run, rounds, rejections, attacker } = await runWith(attack);
      expect(run.status).toBe('completed');
      expect(rejections.length).toBeGreaterThan(0);
      expect(
        rejections.some((r) => reason.test(r)),
        rejections.join('\n'),
      ).toBe(true);
      for (const r of rounds.filter((x) => x.status === 'completed')) {
        if (attack === 'flood') continue; // its first copy is valid
        expect(r.participants).not.toContain(attacker);
      }
    });
  }

  it('take part in secure aggregation: the same rounds as a plain run of the same participants, to the ring’s rounding', async () => {
    // Prepare: four trainers and one held-out tester, kept for two runs of one config, plain and then secure.
    const heldOut = createScenario(scenario).heldOut;
    const trainers = Array.from({ length: scenario.participants }, (_, i) => i).filter((i) => !heldOut.includes(i));
    const swarm: NodeParticipant[] = [];
    for (const index of [...trainers.slice(0, 4), heldOut[0]!])
      swarm.push(await connectParticipant({ url, backend: 'cpu', scenario, assignedIndex: index }));
    const config = {
      algorithm: 'fedavg' as const,
      model: SINUSOID_MLP,
      scenario,
      rounds: 2,
      perRound: 4,
      minParticipants: 4,
      roundDeadlineMs: 20_000,
      client: { batchSize: 10, lr: 0.01, localEpochs: 1 },
    };
    const run = async (input: RunConfigInput) => {
      const started = await hub.startRun(input);
      if (!started.ok) throw new Error(started.error);
      const until = Date.now() + 60_000;
      while (hub.store.getRun(started.data.id)?.status === 'running' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      return {
        run: hub.store.getRun(started.data.id)!,
        rounds: hub.store.listRounds(started.data.id),
        weights: hub.store.latestCheckpoint(started.data.id)!.weights,
      };
    };

    // Execute
    const plain = await run(config);
    const secure = await run({ ...config, secureAggregation: { maxGroup: 4, clip: 1, maxExamples: 10 } });
    for (const p of swarm) p.close();

    // Assert: every round completed with all four, through all four stages; loss and accuracy from the masked sums.
    expect([plain.run.status, secure.run.status]).toEqual(['completed', 'completed']);
    for (const [i, round] of secure.rounds.entries()) {
      expect(round.participants).toHaveLength(4);
      expect(round.secureAggregation!.stages.map((s) => s.answered)).toEqual([4, 4, 4, 4]);
      expect(round.metrics.loss!).toBeCloseTo(plain.rounds[i]!.metrics.loss!, 4);
      expect(round.metrics.global!).toBeCloseTo(plain.rounds[i]!.metrics.global!, 4);
      // Held-out participants report in the clear, as in any run (of a model that differs by the rounding alone).
      expect(round.metrics.heldOutGlobal!).toBeCloseTo(plain.rounds[i]!.metrics.heldOutGlobal!, 3);
    }
    const gap = Math.max(...Array.from(secure.weights, (w, i) => Math.abs(w - plain.weights[i]!)));
    expect(gap).toBeLessThan(1e-4);
  });
});
