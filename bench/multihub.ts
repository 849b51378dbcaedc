/**
 * bench/multihub.ts — what several hubs cost: one round's duration through 1, 2 and 3 hubs against one hub alone, with
 * the same scripted participants, and what the coordinator and Redis carry per round as hubs are added.
 *
 *   npx tsx bench/multihub.ts [--clients 150] [--rounds 6] [--reps 2] [--hubs 1,2,3] [--quick]
 *
 * Why: multi-hub mode (design/scale-out.md) adds a hop to every round: each hub folds its tabs' updates into a float64
 * partial, posts it to Redis, and the coordinator reads every partial back before it commits to PostgreSQL. On one
 * machine the hubs share its 2 cores, so absolute figures say little about N machines; the ratio of a round through H
 * hubs to a round through one hub alone, with the same participants, is the coordination overhead.
 *
 * Contenders: `single` is one hub as `npm start` runs it (SQLite, no Redis); `cluster-H` is H hub processes on one
 * Redis and one PostgreSQL (fresh for each measurement, from Debian's packages on free loopback ports). Every hub is
 * its own process (`node --import tsx apps/server/src/main.ts`), the participants are scripted socket.io clients in
 * another (bench/ingest-clients.ts: hello, then answer each task at once with a zero delta of the MNIST MLP, 79,510
 * parameters), spread evenly over the hubs. A run of `rounds` rounds with perRound = minParticipants = clients; the
 * round time is the median of the rounds' recorded durations after the first. Per round, Redis's own counters give
 * the commands and bytes all hubs exchanged through it; the coordinator's peak RSS (VmHWM) is read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startPostgres, startRedis, type LocalService } from '../apps/server/src/local-services.js';
import { MNIST_MLP, parameterCount, segmentSizes, type RoundSummary, type RunSummary } from '../packages/core/src/index.js';
import { ClientProcess } from './ingest-clients.js';
import {
  MB,
  REPO_ROOT,
  finish,
  interleave,
  median,
  numberList,
  pairedRatio,
  parseFlags,
  positiveInt,
  printTable,
  runInfo,
  type Table,
} from './lib.js';

const HELP = `Usage: npx tsx bench/multihub.ts [--clients N] [--rounds N] [--reps N] [--hubs 1,2,3] [--quick]
  --clients   scripted participants in all, spread over the hubs (default 150; quick 12)
  --rounds    rounds per run; the first is left out of the round time (default 6; quick 3)
  --reps      measurements per contender, interleaved (default 2; quick 1)
  --hubs      hub counts to measure in multi-hub mode (default 1,2,3)`;

const flags = parseFlags(
  {
    clients: { type: 'string' },
    rounds: { type: 'string' },
    reps: { type: 'string' },
    hubs: { type: 'string' },
  },
  HELP,
);
const quick = flags.quick === true;
const CLIENTS = flags.clients ? positiveInt(flags.clients, '--clients') : quick ? 12 : 150;
const ROUNDS = flags.rounds ? positiveInt(flags.rounds, '--rounds') : quick ? 3 : 6;
const REPS = flags.reps ? positiveInt(flags.reps, '--reps') : quick ? 1 : 2;
const HUB_COUNTS = flags.hubs ? numberList(flags.hubs, '--hubs') : [1, 2, 3];
const TOKEN = 'bench-admin-token-0001';
const MAIN = join(REPO_ROOT, 'apps/server/src/main.ts');
const LENGTH = parameterCount(MNIST_MLP);
const started = performance.now();

interface HubProcess {
  readonly child: ChildProcess;
  readonly url: string;
}

/** One hub process, as a person starts it; resolves once it listens. */
async function hubProcess(env: Record<string, string>): Promise<HubProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', TABULA_HOST: '127.0.0.1', TABULA_ADMIN_TOKEN: TOKEN, TABULA_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const until = Date.now() + 60_000;
  for (;;) {
    const port = /participant page: http:\/\/localhost:(\d+)\//.exec(output)?.[1];
    if (port) return { child, url: `http://127.0.0.1:${port}` };
    if (child.exitCode !== null) throw new Error(`a hub exited (${child.exitCode}):\n${output}`);
    if (Date.now() > until) throw new Error(`a hub did not start within 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopHub(hub: HubProcess): Promise<void> {
  if (hub.child.exitCode !== null) return;
  const exited = new Promise((resolve) => hub.child.once('exit', resolve));
  hub.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  hub.child.kill('SIGKILL');
}

const admin = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

/** Redis's counters of everything every hub sent it and got back. */
async function redisCounters(url: string): Promise<{ commands: number; bytes: number }> {
  const redis = new Redis(url);
  try {
    const info = await redis.info('stats');
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    return { commands: field('total_commands_processed'), bytes: field('total_net_input_bytes') + field('total_net_output_bytes') };
  } finally {
    redis.disconnect();
  }
}

/** Peak resident memory of a process, from /proc (Linux). */
function peakRss(pid: number): number {
  const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  return kb * 1024;
}

interface Sample {
  readonly roundMs: number;
  readonly redisCommandsPerRound: number | null;
  readonly redisBytesPerRound: number | null;
  readonly coordinatorPeakRss: number;
  readonly rounds: number;
}

const samples: Record<string, Sample[]> = {};

async function measure(contender: string): Promise<number> {
  const hubs = contender === 'single' ? 1 : Number(contender.slice('cluster-'.length));
  const services: LocalService[] = [];
  const processes: HubProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'tabula-bench-multihub-'));
  const clients = new ClientProcess();
  try {
    let redisUrl: string | null = null;
    if (contender === 'single') processes.push(await hubProcess({ TABULA_DATA_DIR: dataDir }));
    else {
      const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
      services.push(redis, postgres);
      redisUrl = redis.url;
      const shared = { TABULA_REDIS_URL: redis.url, TABULA_DATABASE_URL: postgres.url };
      // The first hub takes the lease: it coordinates.
      for (let h = 0; h < hubs; h++) processes.push(await hubProcess({ ...shared, TABULA_HUB_ID: `hub-${h + 1}` }));
    }
    let first = 0;
    for (const [h, hub] of processes.entries()) {
      const count = Math.floor(CLIENTS / hubs) + (h < CLIENTS % hubs ? 1 : 0);
      await clients.request({ op: 'connect-hub', url: hub.url, count, first, length: LENGTH, segments: segmentSizes(MNIST_MLP) });
      first += count;
    }
    const before = redisUrl ? await redisCounters(redisUrl) : null;
    const config = {
      algorithm: 'fedavg',
      model: MNIST_MLP,
      rounds: ROUNDS,
      perRound: CLIENTS,
      minParticipants: CLIENTS,
      waitForParticipantsMs: 60_000,
      roundDeadlineMs: 120_000,
      seed: 1,
    };
    const response = await fetch(`${processes[0]!.url}/api/runs`, { method: 'POST', headers: admin, body: JSON.stringify(config) });
    const run = (await response.json()) as RunSummary & { error?: string };
    if (!response.ok) throw new Error(`the run was refused: ${run.error}`);
    const until = Date.now() + 600_000;
    let detail: RunSummary & { rounds: RoundSummary[] };
    for (;;) {
      detail = (await (await fetch(`${processes[0]!.url}/api/runs/${run.id}`, { headers: admin })).json()) as typeof detail;
      if (detail.status !== 'running') break;
      if (Date.now() > until) throw new Error(`${contender}: the run did not end within 10 min`);
      await new Promise((r) => setTimeout(r, 200));
    }
    if (detail.status !== 'completed') throw new Error(`${contender}: the run ended ${detail.status}: ${detail.error}`);
    const completed = detail.rounds.filter((r) => r.status === 'completed');
    const after = redisUrl ? await redisCounters(redisUrl) : null;
    const roundMs = median(completed.slice(1).map((r) => r.durationMs));
    (samples[contender] ??= []).push({
      roundMs,
      redisCommandsPerRound: before && after ? (after.commands - before.commands) / ROUNDS : null,
      redisBytesPerRound: before && after ? (after.bytes - before.bytes) / ROUNDS : null,
      coordinatorPeakRss: peakRss(processes[0]!.child.pid!),
      rounds: completed.length,
    });
    console.log(`${contender}: round ${roundMs.toFixed(0)} ms (${completed.length} rounds, ${CLIENTS} participants)`);
    return roundMs;
  } finally {
    await clients.request({ op: 'close' }).catch(() => undefined);
    clients.close();
    for (const hub of processes) await stopHub(hub);
    for (const service of services) await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const contenders = ['single', ...HUB_COUNTS.map((h) => `cluster-${h}`)];
const durations = await interleave(contenders, REPS, (c) => measure(c));

const rows = contenders.map((c) => {
  const s = samples[c]!;
  const redisCommands = s[0]!.redisCommandsPerRound === null ? '-' : median(s.map((x) => x.redisCommandsPerRound!));
  const redisMb = s[0]!.redisBytesPerRound === null ? '-' : median(s.map((x) => x.redisBytesPerRound!)) / MB;
  return [
    c === 'single' ? '1 hub alone (SQLite)' : `${c.slice('cluster-'.length)} hub(s), Redis + PostgreSQL`,
    median(durations[c]!),
    c === 'single' ? 1 : pairedRatio(durations[c]!, durations.single!),
    (CLIENTS / median(durations[c]!)) * 1000,
    redisCommands,
    redisMb,
    median(s.map((x) => x.coordinatorPeakRss)) / 2 ** 20,
  ];
});
const table: Table = {
  title: `One round of the MNIST MLP with ${CLIENTS} scripted participants, through 1 hub alone and through H hubs`,
  columns: ['hubs', 'round ms', '× one hub', 'updates/s', 'Redis commands/round', 'Redis MB/round', 'coordinator peak RSS MiB'],
  rows,
  note: 'Round time: median of the recorded round durations after the first; × one hub: paired ratio to the single hub measured next to it.',
};
printTable(table);

const ratio = (c: string) => (durations[c] ? pairedRatio(durations[c], durations.single!) : Number.NaN);

// A paper estimate from the figures above: what N machines, one hub each, would serve, and what bounds it.
const perHubRate = (CLIENTS / median(durations.single!)) * 1000;
const redisMb = (c: string) => median(samples[c]?.map((x) => x.redisBytesPerRound ?? Number.NaN) ?? []) / MB;
const counts = HUB_COUNTS.filter((h) => samples[`cluster-${h}`]);
const fewest = Math.min(...counts);
const most = Math.max(...counts);
const perHubMb = most > fewest ? (redisMb(`cluster-${most}`) - redisMb(`cluster-${fewest}`)) / (most - fewest) : (8 * LENGTH * 2) / MB;
const baseMb = redisMb(`cluster-${fewest}`) - fewest * perHubMb;
const redisAt = (n: number) => baseMb + n * perHubMb;
/** 1 Gbit/s, in MB/s: Redis's (and the coordinator's) network card. */
const GBIT_MB = 125;
const estimate = [10, 100].map(
  (n) =>
    `${n} machines (one hub each, ${fmtRate(perHubRate)} updates/s each as measured here alone): about ${fmtRate(n * perHubRate)} updates/s if each round is that wide; Redis then carries ${redisAt(n).toFixed(0)} MB per round, ${(redisAt(n) / GBIT_MB).toFixed(2)} s of a 1 Gbit/s link`,
);
function fmtRate(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}
const largest = `cluster-${Math.max(...HUB_COUNTS)}`;
finish({
  name: 'multihub',
  title: 'Several hubs: coordination overhead',
  description:
    'One round through H hub processes on one Redis and one PostgreSQL (each hub folds its own participants into a float64 partial, the coordinator combines them and commits) against one hub alone with SQLite, with the same scripted participants in a process of their own; all on one machine, so the hubs share its cores.',
  ...runInfo(started, quick),
  headline: [
    `${CLIENTS} participants: a round through 1 hub in multi-hub mode takes ${ratio('cluster-1').toFixed(2)}× one hub alone (the Redis hop and PostgreSQL commit); through ${largest.slice(8)} hubs ${ratio(largest).toFixed(2)}× (same cores shared by more processes)`,
    `Redis carries ${(rows.at(-1)![5] as number).toFixed(1)} MB per round with ${largest.slice(8)} hubs: the weights once, and one float64 partial (8 bytes per parameter, ${((8 * LENGTH) / MB).toFixed(2)} MB) per hub`,
  ],
  tables: [table],
  notes: [
    'On this 2-core machine H hubs, the participants, Redis and PostgreSQL share two cores: the absolute times bound nothing about H machines. The 1-hub multi-hub row has as many processes as one hub alone: its ratio is what the Redis hop and the PostgreSQL commit add; rows with more hubs add CPU sharing on top.',
    `The coordinator reads one partial per hub per round (8 bytes per parameter, ${((8 * LENGTH) / MB).toFixed(2)} MB here): its memory and Redis traffic grow with the number of hubs (${perHubMb.toFixed(2)} MB per hub per round measured), not with the number of tabs.`,
    ...estimate.map((line) => `Paper estimate: ${line}.`),
    'What bounds it: every hub sends its tabs the weights and takes in their deltas itself, so that part scales with machines; what does not is one Redis and the coordinator, which move (hubs + 1) weight frames and 2 partials per hub each round, and add the partials one after another. Past a few hundred hubs, or for models far larger than this MLP, Redis bandwidth bounds the round: then partials should go straight from hub to coordinator (design/scale-out.md §4.3), or be summed in a tree.',
  ],
  data: { clients: CLIENTS, rounds: ROUNDS, reps: REPS, length: LENGTH, durations, samples, perHubMb, baseMb, perHubRate },
});
process.exit(0);
