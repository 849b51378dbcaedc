// Several hubs sharing one Redis and one PostgreSQL (design/scale-out.md §9): real servers on 127.0.0.1, real
// socket.io tabs with literal deltas, every wait bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  PROTOCOL_VERSION,
  decodeFrame,
  initialFederated,
  type RoundShareMeta,
  type RoundSummary,
  type AdminSnapshot,
  type ParticipantInfo,
  type ParticipantsDiff,
  type RoundTask,
  type RunConfig,
  type RunSummary,
} from '@tabula/core';
import { Redis } from 'ioredis';
import pg from 'pg';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHub, type Hub } from './hub.js';
import { startPostgres, startRedis, type LocalService } from './local-services.js';
import { lineLogger } from './logger.js';
import { openPgStore } from './pg-store.js';
import {
  TEST_TOKEN,
  TINY_LENGTH,
  afterThisTest,
  connectedSocket,
  deltaFrame,
  runConfig,
  sayHello,
  scriptedClient,
  secureTab,
  updateMeta,
  waitFor,
  type ClientSocket,
} from './test-hub.js';

let redis: LocalService;
let postgres: Awaited<ReturnType<typeof startPostgres>>;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

/** Each test its own Redis keys and database tables: flushed and dropped before it starts. */
async function freshServices(): Promise<void> {
  const r = new Redis(redis.url);
  await r.flushall();
  await r.quit();
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  await client.query('DROP TABLE IF EXISTS checkpoints, rounds, runs, schema_version CASCADE');
  await client.end();
}

async function clusterHub(
  hubId: string,
  onLog: (line: string) => void = () => undefined,
  more: { maxParticipants?: number } = {},
): Promise<{ hub: Hub; url: string }> {
  const hub = await createHub({
    ...more,
    logger: lineLogger(onLog),
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
function weightedMean(tabs: readonly { examples: number; delta: readonly number[] }[]): number[] {
  const total = tabs.reduce((n, t) => n + t.examples, 0);
  return Array.from({ length: TINY_LENGTH }, (_, i) => tabs.reduce((s, t) => s + t.examples * t.delta[i]!, 0) / total);
}

/** The run once it has ended, read from a hub's record (whichever hub: they share it). */
async function endedRun(hub: Hub, runId: string, timeoutMs = 30_000): Promise<RunSummary> {
  return waitFor(
    async () => {
      // The database may be away for a moment (a test restarts it): read again.
      const run = await hub.record.getRun(runId).catch(() => null);
      return run?.status !== 'running' && run;
    },
    `run ${runId} to end`,
    timeoutMs,
  );
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
    // Hub C lists every hub's tabs once their hubs have published them.
    await waitFor(async () => {
      const listed = (await (await fetch(`${hubs[2]!.url}/api/participants`, { headers: admin })).json()) as ParticipantInfo[];
      return listed.filter((p) => p.connected).length === 5;
    }, 'hub C to list all five tabs');
    // A dashboard at hub C, which holds one tab and need not coordinate.
    const dashboard = io(hubs[2]!.url, { transports: ['websocket'], forceNew: true, auth: { role: 'admin', token: TEST_TOKEN } });
    afterThisTest(() => void dashboard.disconnect());
    const heard: RoundSummary[] = [];
    const participantsHeard = new Map<string, string | undefined>();
    dashboard.on('admin:round', (round: RoundSummary) => heard.push(round));
    dashboard.on('admin:participants', (diff: ParticipantsDiff) => {
      for (const p of diff.changed) participantsHeard.set(p.id, p.hub);
    });
    const snapshot = await new Promise<AdminSnapshot>((resolve) => dashboard.once('admin:state', resolve));

    // Execute: the run is started at hub C, whichever hub coordinates.
    const started = await hubs[2]!.hub.startRun(runConfig({ rounds: 2, perRound: 5, minParticipants: 5, waitForParticipantsMs: 10_000 }));
    if (!started.ok) throw new Error(started.error);
    const runId = started.data.id;
    const run = await endedRun(hubs[0]!.hub, runId);

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
    // The dashboard at C saw every hub's tabs, and heard both rounds from the coordinator, wherever it is.
    expect(snapshot.participants.map((p) => `${p.id}@${p.hub}`).sort()).toEqual(
      TABS.map((t) => `${t.id}@${['hub-a', 'hub-b', 'hub-c'][t.hub]}`).sort(),
    );
    await waitFor(() => heard.length === 2, 'the dashboard to hear both rounds');
    expect(heard.map((r) => `${r.round} ${r.participants.length}`)).toEqual(['1 5', '2 5']);
    await waitFor(() => participantsHeard.size === 5, 'participant diffs from every hub');
  }, 60_000);
});

/** The global weights after `rounds` rounds that each add `mean` with server SGD at lr 1, in float32 as the hub does. */
function afterRounds(config: RunConfig, mean: number[], rounds: number): Float32Array {
  let weights = initialFederated(config.model, config.algorithm, config.seed, config.client.innerLr);
  for (let r = 0; r < rounds; r++) weights = Float32Array.from(weights, (w, i) => w + Math.fround(mean[i]!));
  return weights;
}

describe('several hubs: what a tab and an admin may do', () => {
  it('a tab keeps its identity across hubs: another hub refuses its id without its secret, takes it with it, and the old hub drops it', async () => {
    // Prepare: the tab says hello at A first.
    await freshServices();
    const [a, b] = [await clusterHub('hub-a'), await clusterHub('hub-b')];
    const tab = await scriptedClient(a.url, 'tab-x', 4);
    const farewells: string[] = [];
    tab.socket.on('participant:farewell', (notice) => farewells.push(notice.code));
    const hello = {
      protocolVersion: PROTOCOL_VERSION,
      participantId: 'tab-x',
      backend: 'test',
      examples: 4,
      heldOut: false,
      dataSource: 'own' as const,
    };

    // Execute
    const withoutSecret = await sayHello(await connectedSocket(b.url), hello);
    const wrongSecret = await sayHello(await connectedSocket(b.url), { ...hello, participantSecret: 'guessed-secret-000000' });
    const moved = await sayHello(await connectedSocket(b.url), { ...hello, participantSecret: tab.participantSecret });

    // Assert
    expect(withoutSecret).toMatchObject({ ok: false, code: 'identity-refused' });
    expect(withoutSecret).toHaveProperty('error', expect.stringMatching(/is taken: the secret is missing/));
    expect(wrongSecret).toMatchObject({ ok: false, code: 'identity-refused' });
    expect(wrongSecret).toHaveProperty('error', expect.stringMatching(/does not match/));
    expect(moved).toMatchObject({ ok: true, data: { participantId: 'tab-x', participantSecret: tab.participantSecret } });
    await waitFor(() => farewells.includes('replaced') && !a.hub.registry.get('tab-x')?.socketId, 'hub A to drop its old connection');
    expect(b.hub.registry.get('tab-x')?.socketId).toBeTruthy();
  }, 30_000);

  it('PostgreSQL unavailable: the coordinator retries the round’s record with backoff, starts no new round meanwhile, and goes on', async () => {
    // Prepare
    await freshServices();
    const log: string[] = [];
    const hubs = [await clusterHub('hub-a', (line) => log.push(line)), await clusterHub('hub-b', (line) => log.push(line))];
    const tabs = TABS.map((spec) => new FailoverTab({ ...spec, hub: spec.hub % 2 }, () => []));
    for (const tab of tabs) {
      tab.delayMs = 300;
      await tab.connect(hubs[tab.spec.hub]!.url);
    }
    const started = await hubs[1]!.hub.startRun(runConfig({ rounds: 3, perRound: 5, minParticipants: 5, waitForParticipantsMs: 10_000 }));
    if (!started.ok) throw new Error(started.error);
    const runId = started.data.id;

    // Execute: the database goes away for 2.5 s once round 2's tasks are out.
    await waitFor(() => tabs.every((t) => t.tasks.length === 2), "round 2's tasks", 30_000);
    await postgres.restart(2500);
    const run = await endedRun(hubs[0]!.hub, runId, 60_000);

    // Assert: each round was sent once and committed once; nothing failed or paused.
    expect([run.status, run.error]).toEqual(['completed', null]);
    expect(tabs[0]!.tasks.map((t) => t.round)).toEqual([1, 2, 3]);
    expect(log.filter((line) => /cannot store round 2 .*; retrying in/.test(line)).length).toBeGreaterThanOrEqual(2);
    const rounds = await hubs[0]!.hub.record.listRounds(runId);
    expect(rounds.map((r) => `${r.round}.${r.attempt} ${r.status}`)).toEqual(['1.1 completed', '2.1 completed', '3.1 completed']);
    expect([...(await hubs[0]!.hub.record.latestCheckpoint(runId))!.weights]).toEqual([
      ...afterRounds(started.data.config, weightedMean(TABS), 3),
    ]);
  }, 90_000);

  it('a retried round gathers only its own attempt’s shares, never an earlier attempt’s', async () => {
    // Prepare: tab-b2 lets attempt 1 of round 1 pass (it misses the 2 s deadline), then answers attempt 2.
    await freshServices();
    const hubs = [await clusterHub('hub-a'), await clusterHub('hub-b')];
    const tabs = TABS.slice(0, 4).map((spec) => new FailoverTab({ ...spec, hub: spec.hub % 2 }, () => []));
    for (const tab of tabs) await tab.connect(hubs[tab.spec.hub]!.url);
    const late = tabs.find((t) => t.spec.id === 'tab-b2')!;
    late.hold = true;
    const started = await hubs[0]!.hub.startRun(runConfig({ rounds: 1, perRound: 4, minParticipants: 4, roundDeadlineMs: 2000 }));
    if (!started.ok) throw new Error(started.error);

    // Execute
    await waitFor(() => late.tasks.length === 2, 'the second attempt', 30_000);
    await late.release();
    const run = await endedRun(hubs[0]!.hub, started.data.id);

    // Assert
    const rounds = await hubs[0]!.hub.record.listRounds(started.data.id);
    expect(rounds.map((r) => `${r.round}.${r.attempt} ${r.status} ${[...r.participants].sort().join(',')}`)).toEqual([
      '1.1 failed tab-a1,tab-a2,tab-b1',
      '1.2 completed tab-a1,tab-a2,tab-b1,tab-b2',
    ]);
    expect(run.status).toBe('completed');
    expect([...(await hubs[0]!.hub.record.latestCheckpoint(started.data.id))!.weights]).toEqual([
      ...afterRounds(started.data.config, weightedMean(tabs.map((t) => t.spec)), 1),
    ]);
  }, 60_000);

  it('a hub hands out no shard another hub’s tab holds', async () => {
    // Prepare: a tab at A takes the lowest free shard of the default scenario.
    await freshServices();
    const [a, b] = [await clusterHub('hub-a'), await clusterHub('hub-b')];
    const assigned = { protocolVersion: PROTOCOL_VERSION, backend: 'test', examples: 0, heldOut: false, dataSource: 'assigned' as const };
    const first = await sayHello(await connectedSocket(a.url), assigned);
    if (!first.ok) throw new Error(first.error);
    await waitFor(async () => {
      const listed = (await (await fetch(`${b.url}/api/participants`, { headers: admin })).json()) as ParticipantInfo[];
      return listed.some((p) => p.id === first.data.participantId && p.connected);
    }, 'hub B to see the tab at A');

    // Execute
    const second = await sayHello(await connectedSocket(b.url), assigned);

    // Assert
    if (!second.ok) throw new Error(second.error);
    expect(second.data.assignment!.scenario).toEqual(first.data.assignment!.scenario);
    expect(second.data.assignment!.index).not.toBe(first.data.assignment!.index);
  }, 30_000);

  it('pace steering: a hub at its budget refuses a new tab with the code full and names the hub with room', async () => {
    // Prepare: A takes one tab; B and C have room, C the most.
    await freshServices();
    const a = await clusterHub('hub-a', undefined, { maxParticipants: 1 });
    const b = await clusterHub('hub-b', undefined, { maxParticipants: 2 });
    const c = await clusterHub('hub-c', undefined, { maxParticipants: 5 });
    await scriptedClient(a.url, 'tab-first', 4);
    await scriptedClient(b.url, 'tab-on-b', 4);
    const hello = { protocolVersion: PROTOCOL_VERSION, backend: 'test', examples: 4, heldOut: false, dataSource: 'own' as const };
    const socket = await connectedSocket(a.url);

    // Execute: the beats carry the counts within a fifth of a heartbeat.
    const refusal = await waitFor(async () => {
      const reply = await sayHello(socket, { ...hello, participantId: 'tab-second' });
      return !reply.ok && reply.redirect === c.url && reply;
    }, 'A to name C');

    // Assert: nothing of the refused tab stays at A; the one it holds keeps its place (a second hello is not refused).
    expect(refusal).toMatchObject({ ok: false, code: 'full', redirect: c.url });
    expect(refusal.ok ? '' : refusal.error).toMatch(/holds its budget of 1 participants: join http/);
    expect(a.hub.registry.get('tab-second')).toBeNull();
  }, 30_000);

  it('secure aggregation runs per hub: the coordinator gets each hub’s group sum, never a tab’s, and the mean is exact', async () => {
    // Prepare: three tabs per hub, example counts adding up to 8 at each, integer deltas: the ring carries them exactly.
    await freshServices();
    const hubs = [await clusterHub('hub-a'), await clusterHub('hub-b')];
    const tabs = [
      { id: 'sa-a1', hub: 0, examples: 1, delta: [1, 2, 3, 1, 2, 3] },
      { id: 'sa-a2', hub: 0, examples: 3, delta: [3, 2, 1, 3, 2, 1] },
      { id: 'sa-a3', hub: 0, examples: 4, delta: [4, -4, 4, 4, -4, 4] },
      { id: 'sa-b1', hub: 1, examples: 2, delta: [0, 0, 8, 0, 0, 8] },
      { id: 'sa-b2', hub: 1, examples: 2, delta: [-2, 4, 0, -2, 4, 0] },
      { id: 'sa-b3', hub: 1, examples: 4, delta: [1, 1, 1, 1, 1, 1] },
    ];
    const sent: { event: string; payload: unknown }[] = [];
    for (const tab of tabs) await secureTab(hubs[tab.hub]!.url, tab, sent);
    const secure = { maxGroup: 8, clip: 16, maxExamples: 8, stageTimeoutMs: 2000 };

    // Execute
    const started = await hubs[1]!.hub.startRun(runConfig({ perRound: 6, minParticipants: 6, secureAggregation: secure }));
    if (!started.ok) throw new Error(started.error);
    const run = await endedRun(hubs[0]!.hub, started.data.id);

    // Assert: Σ n·Δ / Σ n over all six = [1.625, 0.25, 2.625] twice, exactly.
    expect([run.status, run.error]).toEqual(['completed', null]);
    expect(weightedMean(tabs)).toEqual([1.625, 0.25, 2.625, 1.625, 0.25, 2.625]);
    expect([...(await hubs[0]!.hub.record.latestCheckpoint(started.data.id))!.weights]).toEqual([
      ...afterRounds(started.data.config, weightedMean(tabs), 1),
    ]);
    const [round] = await hubs[0]!.hub.record.listRounds(started.data.id);
    expect([...round!.participants].sort()).toEqual(tabs.map((t) => t.id));
    expect(round!.metrics.loss).toBeCloseTo(0.25, 5);
    expect(round!.secureAggregation!.stages.map((x) => `${x.stage} ${x.answered}/${x.asked}`)).toEqual([
      'advertise 6/6',
      'share 6/6',
      'mask 6/6',
      'unmask 6/6',
    ]);
    // What the hubs posted for the coordinator: each hub's group as one entry, and no tab's example count.
    const r = new Redis(redis.url);
    const streams = await r.keys('tabula:partials:*');
    const posted = (await Promise.all(streams.map((key) => r.xrange(key, '-', '+'))))
      .flat()
      .map(([, fields]) => JSON.parse(fields[3]!) as RoundShareMeta);
    r.disconnect();
    expect(posted.map((meta) => meta.results.map((x) => x.participantId)).sort()).toEqual([
      ['secure group of hub-a'],
      ['secure group of hub-b'],
    ]);
    expect(posted.map((meta) => meta.results[0]!.numExamples)).toEqual([1, 1]);
    // Stage messages stay with each tab's own hub: every tab answered its four stages there.
    expect(sent.filter((m) => m.event.startsWith('secagg:'))).toHaveLength(24);
  }, 60_000);

  it('refuses a run it cannot add up across hubs, with the reason, and starts nothing', async () => {
    // Prepare
    await freshServices();
    const { hub } = await clusterHub('hub-a');

    // Execute
    const refusals = await Promise.all([
      hub.startRun(runConfig({ aggregation: { kind: 'median' } })),
      hub.startRun(
        runConfig({ perRound: undefined, privacy: { mode: 'central', clip: 1, noiseMultiplier: 2, samplingRate: 1, delta: 1e-5 } }),
      ),
    ]);

    // Assert
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ ok: false, code: 'invalid' });
      expect(refusal).toHaveProperty('error', expect.stringMatching(/a run across hubs is FedAvg \(secure aggregation runs per hub\)/));
    }
    expect(await hub.record.listRuns()).toEqual([]);
  }, 30_000);

  it('a run in progress at the coordinator cannot be deleted at another hub; stopped there, it stops', async () => {
    // Prepare: A coordinates a run that waits for participants nobody sends.
    await freshServices();
    const a = await clusterHub('hub-a');
    await waitFor(async () => (await coordinator())?.hub === 'hub-a', 'hub A to coordinate');
    const b = await clusterHub('hub-b');
    const started = await a.hub.startRun(runConfig({ waitForParticipantsMs: 60_000 }));
    if (!started.ok) throw new Error(started.error);

    // Execute
    const deleted = await b.hub.deleteRun(started.data.id);
    const stopped = await b.hub.stopRun(started.data.id);

    // Assert
    expect(deleted).toMatchObject({ ok: false, code: 'conflict' });
    expect(stopped).toMatchObject({ ok: true, data: { status: 'stopped', error: 'stopped by an admin' } });
    expect(a.hub.active()).toBeNull();
  }, 30_000);
});

// --- hubs as processes, so that SIGKILL and SIGSTOP are real -----------------------------------------------------------

const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const HEARTBEAT_MS = 1000;
const LEASE_MS = 1500;

interface HubProcess {
  readonly id: string;
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** Signals the hub's process group (tsx and the node process it runs). */
  signal(signal: NodeJS.Signals): void;
}

/** main.ts as a person starts it, with this test's Redis and PostgreSQL; resolves once it listens. */
async function hubProcess(id: string): Promise<HubProcess> {
  const child = spawn(tsx, [main], {
    env: {
      ...process.env,
      PORT: '0',
      TABULA_HOST: '127.0.0.1',
      TABULA_ADMIN_TOKEN: TEST_TOKEN,
      TABULA_DATABASE_URL: postgres.url,
      TABULA_REDIS_URL: redis.url,
      TABULA_HUB_ID: id,
      TABULA_HEARTBEAT_MS: String(HEARTBEAT_MS),
      TABULA_LEASE_MS: String(LEASE_MS),
      TABULA_LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // the group is gone already
    }
  };
  afterThisTest(() => {
    signal('SIGCONT');
    signal('SIGKILL');
  });
  const port = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`hub ${id} exited with ${child.exitCode}:\n${output}`);
      return /Tabula hub is running[\s\S]*?http:\/\/localhost:(\d+)\//.exec(output)?.[1];
    },
    `hub ${id} to listen`,
    60_000,
  );
  return { id, url: `http://127.0.0.1:${port}`, child, output: () => output, signal };
}

/** Which hub holds the coordinator lease, and under which epoch. */
async function coordinator(): Promise<{ hub: string; epoch: number } | null> {
  const r = new Redis(redis.url);
  try {
    const value = await r.get('tabula:coord');
    if (!value) return null;
    const at = value.lastIndexOf(':');
    return { hub: value.slice(0, at), epoch: Number(value.slice(at + 1)) };
  } finally {
    r.disconnect();
  }
}

async function query<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

async function latestWeights(runId: string): Promise<Float32Array> {
  const store = await openPgStore(postgres.url);
  try {
    return (await store.latestCheckpoint(runId))!.weights;
  } finally {
    await store.close();
  }
}

const admin = { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' };

async function startRunAt(hub: HubProcess, config: ReturnType<typeof runConfig>): Promise<RunSummary> {
  const response = await fetch(`${hub.url}/api/runs`, { method: 'POST', headers: admin, body: JSON.stringify(config) });
  const body = (await response.json()) as RunSummary & { error?: string };
  if (!response.ok) throw new Error(`start refused: ${body.error}`);
  return body;
}

/** The run with its rounds once it has ended, over HTTP from a hub process. */
async function runEnd(hub: HubProcess, runId: string, timeoutMs = 30_000): Promise<RunSummary & { rounds: RoundSummary[] }> {
  return waitFor(
    async () => {
      const run = await runAt(hub, runId);
      return run.status !== 'running' && run;
    },
    `run ${runId} to end`,
    timeoutMs,
  );
}

/** The hub that holds the lease once it is not `hub` any more (it died or froze), with its epoch. */
async function coordinatorOtherThan(hub: string): Promise<{ hub: string; epoch: number }> {
  return waitFor(async () => {
    const holder = await coordinator();
    return holder && holder.hub !== hub && holder;
  }, `a hub other than ${hub} to coordinate`);
}

/** Hub A alone first, so that it takes the lease, then B and C; with A's epoch. */
async function threeHubsACoordinating(): Promise<{ hubs: HubProcess[]; epoch: number }> {
  const hubs: HubProcess[] = [await hubProcess('hub-a')];
  const holder = await waitFor(async () => {
    const c = await coordinator();
    return c?.hub === 'hub-a' && c;
  }, 'hub A to coordinate');
  hubs.push(await hubProcess('hub-b'), await hubProcess('hub-c'));
  return { hubs, epoch: holder.epoch };
}

async function runAt(hub: HubProcess, runId: string): Promise<RunSummary & { rounds: RoundSummary[] }> {
  return (await (await fetch(`${hub.url}/api/runs/${runId}`, { headers: admin })).json()) as RunSummary & { rounds: RoundSummary[] };
}

/**
 * A browser tab, scripted: it answers each task with its literal delta, or holds it while `hold` is set (its hub may
 * be killed meanwhile). When its hub goes away it connects to the next hub of `hubs()` with its id and secret.
 */
class FailoverTab {
  socket: ClientSocket | null = null;
  hub = '';
  hold = false;
  /** How long it "trains" before answering: long enough for a test to act between rounds. */
  delayMs = 0;
  readonly tasks: RoundTask[] = [];
  private secret: string | undefined;
  private closed = false;

  constructor(
    readonly spec: (typeof TABS)[number],
    private readonly hubs: () => HubProcess[],
  ) {
    afterThisTest(() => {
      this.closed = true;
      this.socket?.disconnect();
    });
  }

  async connect(url: string): Promise<void> {
    const socket = await connectedSocket(url);
    this.socket = socket;
    this.hub = url;
    socket.on('round:start', (task, frame) => {
      decodeFrame(frame);
      this.tasks.push(task);
      if (!this.hold) void this.answer(task);
    });
    socket.on('disconnect', () => {
      if (this.closed || this.socket !== socket) return;
      void this.failover(url);
    });
    const welcome = await sayHello(socket, {
      protocolVersion: PROTOCOL_VERSION,
      participantId: this.spec.id,
      ...(this.secret ? { participantSecret: this.secret } : {}),
      backend: 'test',
      examples: this.spec.examples,
      heldOut: false,
      dataSource: 'own',
    });
    if (!welcome.ok) throw new Error(`hello refused: ${welcome.error}`);
    this.secret = welcome.data.participantSecret;
  }

  /** Answers the newest task it holds. */
  release(): Promise<void> {
    this.hold = false;
    const task = this.tasks.at(-1);
    return task ? this.answer(task) : Promise.resolve();
  }

  private async answer(task: RoundTask): Promise<void> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    await this.socket
      ?.timeout(5000)
      .emitWithAck('update:submit', updateMeta(task, this.spec.examples), deltaFrame(task, Float32Array.from(this.spec.delta)))
      .catch(() => undefined);
  }

  private async failover(from: string): Promise<void> {
    for (let tries = 0; tries < 50 && !this.closed; tries++) {
      const next = this.hubs().find((h) => h.url !== from && h.child.exitCode === null && h.child.signalCode === null);
      if (next) {
        try {
          return await this.connect(next.url);
        } catch {
          // not ready yet
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('several hub processes: a hub or the coordinator dies, or freezes', () => {
  it('a hub killed while its tabs hold their answers: the round commits from the others within its heartbeat, not the deadline, and its tabs move', async () => {
    // Prepare: hub A coordinates (it starts first); B holds tabs b1 and b2, which hold their round-1 answers.
    await freshServices();
    const { hubs } = await threeHubsACoordinating();
    const tabs = TABS.map((spec) => new FailoverTab(spec, () => hubs));
    for (const tab of tabs) await tab.connect(hubs[tab.spec.hub]!.url);
    const onB = tabs.filter((t) => t.spec.hub === 1);
    for (const tab of onB) tab.hold = true;
    const run = await startRunAt(
      hubs[2]!,
      runConfig({ rounds: 2, perRound: 5, minParticipants: 3, waitForParticipantsMs: 15_000, roundDeadlineMs: 30_000 }),
    );

    // Execute: once B's tabs have their round-1 tasks, B dies.
    await waitFor(() => onB.every((t) => t.tasks.length === 1), "B's tabs to get round 1");
    const killedAt = Date.now();
    hubs[1]!.signal('SIGKILL');
    for (const tab of onB) tab.hold = false;
    const round1 = await waitFor(async () => (await runAt(hubs[0]!, run.id)).rounds.find((r) => r.round === 1), 'round 1', 30_000);
    const committedAfterMs = round1.startedAt + round1.durationMs - killedAt;
    const final = await runEnd(hubs[2]!, run.id, 45_000);

    // Assert: round 1 from A's and C's tabs only, long before its 30 s deadline; round 2 whole again, B's tabs on A or C.
    expect(round1.status).toBe('completed');
    expect([...round1.participants].sort()).toEqual(['tab-a1', 'tab-a2', 'tab-c1']);
    expect(round1.failures.map((f) => `${f.participantId}: ${f.reason}`).sort()).toEqual([
      'tab-b1: hub hub-b stopped beating',
      'tab-b2: hub hub-b stopped beating',
    ]);
    expect(committedAfterMs).toBeLessThan(10_000);
    expect(final.status).toBe('completed');
    expect(final.rounds.map((r) => `${r.round} ${r.status} ${r.participants.length}`)).toEqual(['1 completed 3', '2 completed 5']);
    expect(onB.every((t) => t.hub !== hubs[1]!.url)).toBe(true);
    const w0 = initialFederated(run.config.model, run.config.algorithm, run.config.seed, run.config.client.innerLr);
    const m1 = weightedMean(TABS.filter((t) => t.hub !== 1));
    const m2 = weightedMean(TABS);
    const expected = Float32Array.from(
      Float32Array.from(w0, (w, i) => w + Math.fround(m1[i]!)),
      (w, i) => w + Math.fround(m2[i]!),
    );
    expect([...(await latestWeights(run.id))]).toEqual([...expected]);
  }, 120_000);

  it('the coordinator killed right after a commit: another hub takes over within the lease, and every round commits once', async () => {
    // Prepare
    await freshServices();
    const { hubs, epoch: firstEpoch } = await threeHubsACoordinating();
    const tabs = TABS.map((spec) => new FailoverTab(spec, () => hubs.slice(1)));
    for (const tab of tabs) {
      tab.delayMs = 500;
      await tab.connect(hubs[tab.spec.hub]!.url);
    }
    const run = await startRunAt(hubs[1]!, runConfig({ rounds: 3, perRound: 5, minParticipants: 5, waitForParticipantsMs: 15_000 }));

    // Execute: A dies as soon as round 1 is in the store.
    await waitFor(async () => (await runAt(hubs[1]!, run.id)).completedRounds >= 1, 'round 1', 30_000);
    const killedAt = Date.now();
    hubs[0]!.signal('SIGKILL');
    const next = await coordinatorOtherThan('hub-a');
    const takeoverMs = Date.now() - killedAt;
    const final = await runEnd(hubs[1]!, run.id, 60_000);

    // Assert
    expect(takeoverMs).toBeLessThan(LEASE_MS + 3000);
    expect(next.epoch).toBeGreaterThan(firstEpoch);
    expect(final.status).toBe('completed');
    expect(final.rounds.filter((r) => r.status === 'completed').map((r) => `${r.round}: ${r.participants.length}`)).toEqual([
      '1: 5',
      '2: 5',
      '3: 5',
    ]);
    const [{ coord_epoch: epoch } = { coord_epoch: 0 }] = await query<{ coord_epoch: number }>(
      'SELECT coord_epoch FROM runs WHERE id = $1',
      [run.id],
    );
    expect(epoch).toBe(next.epoch);
    const mean = weightedMean(TABS);
    expect([...(await latestWeights(run.id))]).toEqual([...afterRounds(run.config, mean, 3)]);
  }, 120_000);

  it('split brain: a coordinator frozen past its lease wakes up after another committed, writes nothing and steps down', async () => {
    // Prepare: A coordinates and holds no tabs; the tabs, on B and C, hold their round-1 answers.
    await freshServices();
    const { hubs, epoch: frozenEpoch } = await threeHubsACoordinating();
    const tabs = TABS.map((spec) => new FailoverTab({ ...spec, hub: spec.hub === 2 ? 2 : 1 }, () => hubs.slice(1)));
    for (const tab of tabs) {
      tab.hold = true;
      await tab.connect(hubs[tab.spec.hub]!.url);
    }
    const run = await startRunAt(hubs[1]!, runConfig({ rounds: 2, perRound: 5, minParticipants: 5, waitForParticipantsMs: 15_000 }));
    await waitFor(() => tabs.every((t) => t.tasks.length === 1), "round 1's tasks from A");

    // Execute: A freezes; another hub takes the lease and announces round 1 again; the tabs answer that; A wakes up.
    hubs[0]!.signal('SIGSTOP');
    const next = await coordinatorOtherThan('hub-a');
    await waitFor(() => tabs.every((t) => t.tasks.length === 2), "round 1's tasks from the new coordinator");
    for (const tab of tabs) await tab.release();
    await waitFor(async () => (await runAt(hubs[1]!, run.id)).completedRounds >= 1, 'round 1 from the new coordinator', 30_000);
    hubs[0]!.signal('SIGCONT');
    await waitFor(() => /stops coordinating|stepping down/.test(hubs[0]!.output()), 'A to step down', 10_000);
    const final = await runEnd(hubs[1]!, run.id, 60_000);

    // Assert: every round once, from the new epoch; A wrote nothing, and said why it stopped.
    expect(next.epoch).toBeGreaterThan(frozenEpoch);
    expect(final.status).toBe('completed');
    expect(final.rounds.map((r) => `${r.round}.${r.attempt} ${r.status} ${r.participants.length}`)).toEqual([
      '1.1 completed 5',
      '2.1 completed 5',
    ]);
    expect(hubs[0]!.output()).toMatch(new RegExp(`hub hub-a stops coordinating \\(epoch ${frozenEpoch}\\)`));
    expect([...(await latestWeights(run.id))]).toEqual([...afterRounds(run.config, weightedMean(TABS), 2)]);
  }, 120_000);

  it('Redis restarted mid-run: the run completes, with at most one failed attempt, recorded with its reason', async () => {
    // Prepare
    await freshServices();
    const hubs: HubProcess[] = [await hubProcess('hub-a'), await hubProcess('hub-b'), await hubProcess('hub-c')];
    const tabs = TABS.map((spec) => new FailoverTab(spec, () => hubs));
    for (const tab of tabs) {
      tab.delayMs = 500;
      await tab.connect(hubs[tab.spec.hub]!.url);
    }
    const run = await startRunAt(hubs[0]!, runConfig({ rounds: 3, perRound: 5, minParticipants: 5, waitForParticipantsMs: 20_000 }));

    // Execute: Redis goes away after round 1 and comes back on its port, empty.
    await waitFor(async () => (await runAt(hubs[0]!, run.id)).completedRounds >= 1, 'round 1', 30_000);
    const before = (await coordinator())!;
    await redis.stop();
    await new Promise((r) => setTimeout(r, 500));
    redis = await startRedis({ port: redis.port });
    const final = await runEnd(hubs[1]!, run.id, 90_000);

    // Assert
    expect([final.status, final.error]).toEqual(['completed', null]);
    expect(final.rounds.filter((r) => r.status === 'completed').map((r) => r.round)).toEqual([1, 2, 3]);
    const failed = final.rounds.filter((r) => r.status === 'failed');
    expect(failed.length).toBeLessThanOrEqual(1);
    for (const attempt of failed) expect(attempt.reason).toBeTruthy();
    // The epoch counter restarted with Redis, but a new coordinator's epoch still exceeds what the store has seen.
    const after = (await coordinator())!;
    expect(after.epoch).toBeGreaterThan(before.epoch);
    expect([...(await latestWeights(run.id))]).toEqual([...afterRounds(run.config, weightedMean(TABS), 3)]);
  }, 150_000);
});
