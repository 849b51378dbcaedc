import { WeightedSum } from '@tabula/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type LocalService } from './local-services.js';
import { HubHeartbeat } from './hub-heartbeat.js';
import { RoundPartials } from './round-partials.js';

let redis: LocalService;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(() => redis?.stop());

const connections: Redis[] = [];
const heartbeats: HubHeartbeat[] = [];
afterEach(async () => {
  for (const beat of heartbeats.splice(0)) await beat.stop();
  for (const connection of connections.splice(0)) await connection.quit();
});
function connect(): Redis {
  const connection = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  connection.on('error', () => undefined);
  connections.push(connection);
  return connection;
}

// Five tabs' (delta, examples) on hubs A (two), B (two) and C (one): FedAvg's mean is [14, 16, 38] / 16.
const TABS: Record<string, [number[], number][]> = {
  A: [
    [[1, 2, 3], 1],
    [[3, 2, 1], 3],
  ],
  B: [
    [[0, 0, 8], 2],
    [[-2, 4, 0], 6],
  ],
  C: [[[4, -4, 4], 4]],
};
const partialOf = (hub: string) => {
  const sum = new WeightedSum(3);
  for (const [delta, examples] of TABS[hub]!) sum.add(Float32Array.from(delta), examples);
  return sum.partial();
};

let runs = 0;
async function hubsUp(names: string[]) {
  const prefix = `t${++runs}:`;
  for (const hub of names) {
    const beat = new HubHeartbeat(connect(), hub, 600, { prefix });
    heartbeats.push(beat);
    await beat.start();
  }
  const watcher = connect();
  return { prefix, live: (hub: string) => HubHeartbeat.alive(watcher, hub, prefix) };
}

describe('partial sums across hubs, through a real Redis', () => {
  it('three hubs post their partials in any order: the coordinator combines them into exactly the FedAvg mean', async () => {
    // Prepare
    const { prefix, live } = await hubsUp(['A', 'B', 'C']);
    const address = { runId: 'r1', round: 1, attempt: 1, epoch: 7 };
    const partials = new RoundPartials(connect(), { prefix });

    // Execute: the coordinator waits while the hubs post, C first.
    const collecting = partials.collect(address, ['A', 'B', 'C'], { length: 3, live, deadline: Date.now() + 10_000, blocking: connect() });
    for (const hub of ['C', 'A', 'B']) await new RoundPartials(connect(), { prefix }).post(address, hub, partialOf(hub));
    const { partials: got, missing } = await collecting;
    const coordinator = new WeightedSum(3);
    for (const { partial } of got) coordinator.addPartial(partial);

    // Assert
    expect(got.map((p) => p.hub)).toEqual(['A', 'B', 'C']);
    expect(missing).toEqual([]);
    expect([...coordinator.mean()]).toEqual([0.875, 1, 2.375]);
    expect([coordinator.count, coordinator.totalWeight]).toEqual([5, 16]);
  });

  it('a hub that dies before posting is not waited for once its heartbeat expires; a partial of another epoch never mixes in', async () => {
    // Prepare: B's heartbeat stops (a killed hub), C posted for an older coordinator's announcement.
    const { prefix, live } = await hubsUp(['A', 'B', 'C']);
    const address = { runId: 'r1', round: 2, attempt: 1, epoch: 8 };
    const poster = new RoundPartials(connect(), { prefix });
    await heartbeats[1]!.stop();
    await poster.post({ ...address, epoch: 7 }, 'C', partialOf('C'));
    await poster.post(address, 'A', partialOf('A'));

    // Execute: a long deadline that the wait must not run into for B; C is alive and posts late.
    const collecting = new RoundPartials(connect(), { prefix }).collect(address, ['A', 'B', 'C'], {
      length: 3,
      live,
      deadline: Date.now() + 60_000,
      blocking: connect(),
      pollMs: 100,
    });
    await new Promise((r) => setTimeout(r, 800)); // past B's 600 ms heartbeat
    await poster.post(address, 'C', partialOf('C'));
    const { partials: got, missing } = await collecting;

    // Assert: A and C (this epoch's), without B; the mean is exactly that of A's and C's tabs.
    expect(got.map((p) => p.hub)).toEqual(['A', 'C']);
    expect(missing).toEqual([{ hub: 'B', reason: 'gone' }]);
    const coordinator = new WeightedSum(3);
    for (const { partial } of got) coordinator.addPartial(partial);
    expect([...coordinator.mean()]).toEqual([(1 + 9 + 16) / 8, (2 + 6 - 16) / 8, (3 + 3 + 16) / 8]);
  });

  it('a live hub that never posts is given up at the deadline, with the reason', async () => {
    const { prefix, live } = await hubsUp(['A', 'B']);
    const address = { runId: 'r1', round: 3, attempt: 1, epoch: 9 };
    await new RoundPartials(connect(), { prefix }).post(address, 'A', partialOf('A'));

    const { partials: got, missing } = await new RoundPartials(connect(), { prefix }).collect(address, ['A', 'B'], {
      length: 3,
      live,
      deadline: Date.now() + 300,
      blocking: connect(),
      pollMs: 100,
    });

    expect(got.map((p) => p.hub)).toEqual(['A']);
    expect(missing).toEqual([{ hub: 'B', reason: 'deadline' }]);
  });
});
