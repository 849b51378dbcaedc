// A Node participant's session against a real hub on port 0 (the session's own cases: packages/core).
import {
  MemoryHeadStore,
  SINUSOID_MLP,
  createScenario,
  headLength,
  parameterCount,
  presetRunConfig,
  useBackend,
  validationIndices,
  type Farewell,
} from '@tabula/core';
import { afterThisTest, startTestHub, waitFor } from '@tabula/server/test-hub';
import { beforeAll, describe, expect, it } from 'vitest';
import { connectParticipant } from './node-participant.js';

const scenario = { name: 'sinusoid' as const, participants: 4, seed: 1, heldOut: 0 };

beforeAll(async () => {
  await useBackend('cpu');
});

describe('Node participants come back by themselves', () => {
  it('reconnect after a server-side disconnect with the same identity, and stay away when told why not to', async () => {
    const { hub, url } = await startTestHub({ defaultScenario: scenario });
    const farewells: Farewell[] = [];
    const node = await connectParticipant({ url, backend: 'cpu', onFarewell: (notice) => farewells.push(notice) });
    afterThisTest(() => node.close());
    const id = node.id;
    // A server-side disconnect with no farewell (socket.io itself never reconnects after one).
    hub.io.sockets.sockets.get(node.socket.id!)!.disconnect(true);
    await waitFor(() => !node.socket.connected, 'the disconnect');
    await waitFor(
      () => hub.registry.get(id)?.socketId && node.socket.connected,
      'the participant to reconnect and say hello again',
      10_000,
    );
    expect(hub.registry.list().map((p) => p.id)).toEqual([id]);
    // A deliberate one: told not to come back, it does not.
    const socket = hub.io.sockets.sockets.get(node.socket.id!)!;
    socket.emit('participant:farewell', { code: 'flooding', reason: 'test', reconnect: false });
    socket.disconnect(true);
    await waitFor(() => farewells.length === 1, 'the farewell');
    await new Promise((r) => setTimeout(r, 1000));
    expect(node.socket.connected).toBe(false);
  });
});

describe('Node participants: identity', () => {
  it('take a new id when the one they ask for belongs to another participant, and leave the holder alone', async () => {
    // Prepare: a participant holds the id (it claimed it first, and got its secret).
    const { hub, url } = await startTestHub({ defaultScenario: scenario });
    const holder = await connectParticipant({ url, backend: 'cpu', participantId: 'wanted-id' });
    afterThisTest(() => holder.close());
    // Execute: another process asks for the same id, without the secret.
    const other = await connectParticipant({ url, backend: 'cpu', participantId: 'wanted-id' });
    afterThisTest(() => other.close());
    // Assert
    expect(holder.id).toBe('wanted-id');
    expect(other.id).not.toBe('wanted-id');
    expect(hub.registry.get('wanted-id')?.socketId).toBe(holder.socket.id);
    expect(hub.registry.get(other.id)?.examples).toBeGreaterThan(0);
    expect(holder.socket.connected).toBe(true);
  });
});

describe('Node participants: scenario options', () => {
  it('hold a hub-assigned shard with fresh points per round, never a validation shard, as the hub registered it', async () => {
    // Prepare: the hub's default scenario has validation participants and fresh points.
    const fresh = { name: 'sinusoid' as const, participants: 6, seed: 2, heldOut: 1, validation: 2, freshPoints: true };
    const { hub, url } = await startTestHub({ defaultScenario: fresh });
    // Execute
    const node = await connectParticipant({ url, backend: 'cpu' });
    afterThisTest(() => node.close());
    await waitFor(() => hub.registry.get(node.id)?.scenario, 'the hello holding its shard');
    // Assert: the options travelled through the hello's schema into the registry.
    const entry = hub.registry.get(node.id)!;
    expect(entry.scenario).toMatchObject({ validation: 2, freshPoints: true });
    expect(validationIndices(fresh)).not.toContain(entry.assignedIndex);
    expect(node.data.validation).toBe(false);
    const [round1, round2] = [node.data.trainingData!(1), node.data.trainingData!(2)];
    expect(Array.from(round1.support.x)).not.toEqual(Array.from(round2.support.x));
  });

  it('train on fresh points in a real run, while a participant pinned to a validation shard is never sent work', async () => {
    // Prepare: two trainers and a participant that insists on a validation shard.
    const fresh = { name: 'sinusoid' as const, participants: 6, seed: 2, heldOut: 1, validation: 2, freshPoints: true };
    const { hub, url } = await startTestHub({ defaultScenario: fresh });
    const data = createScenario(fresh);
    const trainers = [0, 1, 2, 3, 4, 5].filter((i) => !data.heldOut.includes(i) && !data.validation.includes(i)).slice(0, 2);
    const nodes: Awaited<ReturnType<typeof connectParticipant>>[] = [];
    for (const index of [...trainers, data.validation[0]!]) {
      const node = await connectParticipant({ url, backend: 'cpu', scenario: fresh, assignedIndex: index });
      afterThisTest(() => node.close());
      nodes.push(node);
    }
    // Execute
    const started = await hub.startRun({ algorithm: 'reptile', model: SINUSOID_MLP, scenario: fresh, rounds: 2, roundDeadlineMs: 20_000 });
    if (!started.ok) throw new Error(started.error);
    await waitFor(() => hub.store.getRun(started.data.id)?.status === 'completed', 'the run to complete', 60_000);
    // The hub can complete the run before a trainer has read the ack of its last update.
    await waitFor(() => nodes.slice(0, 2).every((node) => node.participant.history.length === 2), 'both trainers to record round 2');
    // Assert: each trainer trained in both rounds; the validation participant did nothing.
    const [first, second, validation] = nodes;
    for (const node of [first!, second!])
      expect(node.participant.history.map((r) => [r.round, r.mode, r.accepted])).toEqual([
        [1, 'fit', true],
        [2, 'fit', true],
      ]);
    expect(validation!.data.validation).toBe(true);
    expect(validation!.participant.history).toEqual([]);
  });
});

/** A memory store that remembers what each round's load found and what it saved. */
class RecordingHeadStore extends MemoryHeadStore {
  readonly loads: (Float32Array | null)[] = [];
  readonly saves: Float32Array[] = [];
  override async load(runId: string): Promise<Float32Array | null> {
    const head = await super.load(runId);
    this.loads.push(head && head.slice());
    return head;
  }
  override save(runId: string, head: Float32Array): Promise<void> {
    this.saves.push(head.slice());
    return super.save(runId, head);
  }
}

describe('Node participants: personal heads', () => {
  it('keep their fedrep head from one round to the next, in memory, and never send it', async () => {
    // Prepare: two trainers on sinusoid tasks, each with a store that records its loads and saves.
    const tasks = { name: 'sinusoid' as const, participants: 6, seed: 3, heldOut: 0 };
    const { hub, url } = await startTestHub({ defaultScenario: tasks });
    const nodes: { node: Awaited<ReturnType<typeof connectParticipant>>; heads: RecordingHeadStore }[] = [];
    for (const index of [0, 1]) {
      const heads = new RecordingHeadStore();
      const node = await connectParticipant({ url, backend: 'cpu', scenario: tasks, assignedIndex: index, heads });
      afterThisTest(() => node.close());
      nodes.push({ node, heads });
    }
    // Execute
    const preset = presetRunConfig('sinusoid', 'fedrep');
    const started = await hub.startRun({ ...preset, scenario: tasks, rounds: 2, perRound: 2, minParticipants: 2, roundDeadlineMs: 30_000 });
    if (!started.ok) throw new Error(started.error);
    await waitFor(() => hub.store.getRun(started.data.id)?.status === 'completed', 'the run to complete', 60_000);
    // The hub can complete the run before a participant has read the ack of its last update.
    await waitFor(() => nodes.every(({ node }) => node.participant.history.length === 2), 'both participants to record round 2');
    // Assert: round 1 started from no head; round 2 from exactly the head round 1 fitted, which round 2 then refitted.
    for (const { node, heads } of nodes) {
      expect(node.participant.history.map((r) => [r.round, r.accepted])).toEqual([
        [1, true],
        [2, true],
      ]);
      expect(heads.saves).toHaveLength(2);
      expect(heads.saves[0]).toHaveLength(headLength(SINUSOID_MLP));
      expect(heads.loads[0]).toBeNull();
      expect(heads.loads.at(-1)).toEqual(heads.saves[0]);
      expect(heads.saves[1]).not.toEqual(heads.saves[0]);
    }
    // Only the body was federated: the checkpoint is shorter than the model by the head.
    expect(hub.store.latestCheckpoint(started.data.id)!.weights).toHaveLength(parameterCount(SINUSOID_MLP) - headLength(SINUSOID_MLP));
  });
});
