// Several hubs sharing one Redis and one PostgreSQL (design/scale-out.md §9): real servers on 127.0.0.1, real
// socket.io tabs with literal deltas, every wait bounded.
import type { AddressInfo } from 'node:net';
import { initialFederated, type RoundSummary, type RunConfig } from '@tabula/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHub, type Hub } from './hub.js';
import { startPostgres, startRedis, type LocalService } from './local-services.js';
import { TEST_TOKEN, TINY_LENGTH, afterThisTest, deltaFrame, runConfig, scriptedClient, updateMeta, waitFor } from './test-hub.js';

let redis: LocalService;
let postgres: LocalService;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

/** Each test its own Redis keys and database tables: flushed and dropped before it starts. */
async function freshServices(): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis(redis.url);
  await r.flushall();
  await r.quit();
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: postgres.url });
  await client.connect();
  await client.query('DROP TABLE IF EXISTS checkpoints, rounds, runs, schema_version CASCADE');
  await client.end();
}

async function clusterHub(hubId: string): Promise<{ hub: Hub; url: string }> {
  const hub = await createHub({
    databaseUrl: postgres.url,
    redisUrl: redis.url,
    hubId,
    adminToken: TEST_TOKEN,
    clusterTimings: { heartbeatMs: 1000, leaseMs: 1500 },
  });
  afterThisTest(() => hub.close());
  await new Promise<void>((resolve) => hub.http.listen(0, '127.0.0.1', resolve));
  return { hub, url: `http://127.0.0.1:${(hub.http.address() as AddressInfo).port}` };
}

/**
 * A tab that answers every task with its literal delta and example count. Five tabs over hubs A (two), B (two) and C
 * (one), with dyadic values: FedAvg's weighted mean is exact in float32.
 */
const TABS = [
  { id: 'tab-a1', hub: 0, examples: 1, delta: [1, 2, 3, 0, 0, 1] },
  { id: 'tab-a2', hub: 0, examples: 3, delta: [3, 2, 1, 0, 4, 1] },
  { id: 'tab-b1', hub: 1, examples: 2, delta: [0, 0, 8, 2, 0, 1] },
  { id: 'tab-b2', hub: 1, examples: 6, delta: [-2, 4, 0, 2, 0, 1] },
  { id: 'tab-c1', hub: 2, examples: 4, delta: [4, -4, 4, -1, 2, 1] },
];
/** Σ examples·delta / Σ examples over `tabs`, computed here in float64 (the test values make it exact). */
function weightedMean(tabs: typeof TABS): number[] {
  const total = tabs.reduce((n, t) => n + t.examples, 0);
  return Array.from({ length: TINY_LENGTH }, (_, i) => tabs.reduce((s, t) => s + t.examples * t.delta[i]!, 0) / total);
}

async function answeringTab(url: string, tab: (typeof TABS)[number]) {
  const client = await scriptedClient(url, tab.id, tab.examples);
  void (async () => {
    for (;;) {
      const { task } = await client.nextTask();
      await client.submit(updateMeta(task, tab.examples), deltaFrame(task, Float32Array.from(tab.delta))).catch(() => undefined);
    }
  })();
  return client;
}

describe('several hubs on one Redis and one PostgreSQL', () => {
  it('runs one round over tabs on three hubs: the new weights are exactly FedAvg over all five', async () => {
    // Prepare
    await freshServices();
    const hubs = [await clusterHub('hub-a'), await clusterHub('hub-b'), await clusterHub('hub-c')];
    for (const tab of TABS) await answeringTab(hubs[tab.hub]!.url, tab);

    // Execute: the run is started at hub C, whichever hub coordinates.
    const started = await hubs[2]!.hub.startRun(runConfig({ rounds: 2, perRound: 5, minParticipants: 5, waitForParticipantsMs: 10_000 }));
    if (!started.ok) throw new Error(started.error);
    const runId = started.data.id;
    const run = await waitFor(async () => {
      const r = await hubs[0]!.hub.record.getRun(runId);
      return r?.status !== 'running' && r;
    }, 'the run to end');

    // Assert
    expect([run.status, run.completedRounds]).toEqual(['completed', 2]);
    const rounds: RoundSummary[] = await hubs[1]!.hub.record.listRounds(runId);
    expect(rounds.map((r) => `${r.round} ${r.status} ${[...r.participants].sort().join(',')}`)).toEqual([
      '1 completed tab-a1,tab-a2,tab-b1,tab-b2,tab-c1',
      '2 completed tab-a1,tab-a2,tab-b1,tab-b2,tab-c1',
    ]);
    const checkpoint = await hubs[0]!.hub.record.latestCheckpoint(runId);
    expect([...checkpoint!.weights]).toEqual([...afterRounds(started.data.config, weightedMean(TABS), 2)]);
    expect(rounds[0]!.metrics.loss).toBe(0.5);
  }, 60_000);
});

/** The global weights after `rounds` rounds that each add `mean` with server SGD at lr 1, in float32 as the hub does. */
function afterRounds(config: RunConfig, mean: number[], rounds: number): Float32Array {
  let weights = initialFederated(config.model, config.algorithm, config.seed, config.client.innerLr);
  for (let r = 0; r < rounds; r++) weights = Float32Array.from(weights, (w, i) => w + Math.fround(mean[i]!));
  return weights;
}
