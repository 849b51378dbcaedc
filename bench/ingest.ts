/**
 * bench/ingest.ts — how many updates per second the hub takes in, against what bare socket.io can carry.
 *
 *   npx tsx bench/ingest.ts [--clients 100,500] [--rounds 3] [--reps 5] [--hidden 100] [--timeout-s 900] [--quick]
 *
 * Why: with real tabs, training dominates a round; but the hub itself must not be the bottleneck when many
 * participants answer at once. Here participants are scripted socket.io clients (the protocol spoken by hand,
 * as in apps/server/src/hub.test.ts) that answer every `round:start` at once with a zero delta of the right
 * length, so a round is pure hub + transport work: send the weights frame to everyone, receive, validate,
 * decode and fold every delta, aggregate, persist (SQLite) and broadcast. Measured per client count C:
 *
 *   - hub: a real `createHub` (temp data dir, port 0, 127.0.0.1) runs the MNIST MLP (79,510 parameters) for
 *     `rounds` rounds with perRound = minParticipants = C: updates/s, MB/s of update frames, round duration
 *     (all of it is overhead: the local update is trivial);
 *   - raw echo: the brief's baseline, a bare socket.io binary echo: each of the same C clients sends one
 *     delta-sized binary per "round", concurrently, and the server sends the same bytes back in its ack. Like
 *     a hub round it moves one model-sized frame each way per participant;
 *   - raw upload: the same, but the server acks with a number only: the upload alone, a bound no hub can
 *     reach, since it must also send every participant the weights;
 *   - raw round: the bare server pushes a weights-sized binary to every client first and each client answers
 *     with a delta-sized binary + ack: a hub round's traffic, in the hub's order, with no hub logic in it;
 *   - memory per connected participant: rss / heap / array buffers of the server's process after a full GC,
 *     before vs after connecting (hub vs bare socket.io: the difference is the hub's own bookkeeping).
 *
 * Contenders are interleaved (order rotating) `reps` times; medians reported. The clients live in a second
 * process (bench/ingest-clients.ts, over IPC), as real tabs would be elsewhere: hub and bare server each get
 * an event loop of their own, though on a 2-core machine the two processes still share the cores.
 * Everything runs on loopback, every wait is bounded, and the process exits by itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server as IoServer } from 'socket.io';
import { createHub, type EmbeddedHub } from '../apps/server/src/hub.js';
import { RunController } from '../apps/server/src/run-controller.js';
import { lineLogger } from '../apps/server/src/logger.js';
import { MNIST_MLP, frameByteLength, parameterCount, segmentSizes, type MlpSpec, type RunConfigInput } from '../packages/core/src/index.js';
import {
  MB,
  parseFlags,
  runInfo,
  finish,
  interleave,
  listen,
  median,
  numberList,
  pairedRatio,
  positiveInt,
  printTable,
  retainedMemory,
  withTimeout,
  type MemorySample,
  type Table,
} from './lib.js';
import { ACK_TIMEOUT_MS, CONNECT_BATCH, ClientProcess, type ClientStats } from './ingest-clients.js';

/**
 * Whether ws masks/unmasks with the native `bufferutil` addon (the hub depends on it, so it normally does).
 * Without it ws does it byte by byte in JavaScript, which dominates a profile of this benchmark.
 */
function nativeMasking(): boolean {
  try {
    const socketIo = createRequire(import.meta.url).resolve('socket.io');
    const wsEntry = createRequire(createRequire(socketIo).resolve('engine.io')).resolve('ws');
    const util = createRequire(wsEntry)('./lib/buffer-util.js') as { unmask: (...args: unknown[]) => void };
    return /bufferUtil/.test(String(util.unmask));
  } catch {
    return false;
  }
}

/**
 * Time the hub spends in its own per-update work (RunController.submitUpdate: zod-validate the meta, check the
 * address, decode + finite-check the frame, fold into WeightedSum), measured by wrapping the method here, in the
 * benchmark, without touching the hub's source.
 */
const hubWork = { calls: 0, ms: 0, alignedFrames: 0 };
{
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the controller as `this`
  const original = RunController.prototype.submitUpdate;
  RunController.prototype.submitUpdate = function timedSubmitUpdate(this: RunController, ...args: Parameters<typeof original>) {
    // Whether the frame as socket.io hands it over could be read in place as float32 (4-byte aligned bytes).
    const frame = args[2];
    if (frame instanceof Uint8Array && frame.byteOffset % 4 === 0) hubWork.alignedFrames++;
    const t = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      hubWork.ms += performance.now() - t;
      hubWork.calls++;
    }
  };
}

const HELP = `Usage: npx tsx bench/ingest.ts [options]
  --clients LIST   scripted participants per phase               [100,500; quick 10,30]
  --rounds N       rounds per hub run (and per raw contender)    [3; quick 2]
  --reps N         interleaved repetitions of each contender     [5; quick 2]
  --hidden N       MLP hidden units (784-N-10); 100 = MNIST MLP  [100]
  --timeout-s N    hard limit for the whole benchmark            [900]
  --quick          small sizes: runs in seconds
  -h, --help`;

const TOKEN = 'bench-admin-token-0123456789';
/** Connected before the memory baseline, so one-off costs of the first connections are not counted per participant. */
const WARM_CLIENTS = 10;
const CONTENDERS = ['hub', 'raw echo', 'raw upload', 'raw round'] as const;
type Contender = (typeof CONTENDERS)[number];

// ---- the bare socket.io baseline ------------------------------------------------------------------------

interface RawServer {
  url: string;
  io: IoServer;
  http: HttpServer;
  /** Pushes `frame` to every connected socket and resolves when each has sent back its echo. */
  pushRound(frame: Uint8Array, expected: number): Promise<void>;
}

async function rawServer(maxHttpBufferSize: number): Promise<RawServer> {
  const http = createServer();
  const io = new IoServer(http, { maxHttpBufferSize, serveClient: false });
  let pending = 0;
  let done: (() => void) | null = null;
  io.on('connection', (socket) => {
    socket.on('echo', (payload: unknown, ack: unknown) => {
      const bytes = payload instanceof Uint8Array || payload instanceof ArrayBuffer ? payload.byteLength : -1;
      if (typeof ack === 'function') (ack as (n: number) => void)(bytes);
      if (pending > 0 && --pending === 0) done?.();
    });
    socket.on('echo-back', (payload: unknown, ack: unknown) => {
      if (typeof ack === 'function') (ack as (p: unknown) => void)(payload);
    });
  });
  const url = await listen(http);
  return {
    url,
    io,
    http,
    pushRound(frame, expected) {
      const finished = new Promise<void>((resolve) => {
        done = resolve;
      });
      pending = expected;
      for (const socket of io.sockets.sockets.values()) socket.emit('push', { round: 1 }, frame);
      return withTimeout(finished, ACK_TIMEOUT_MS, 'the raw round').finally(() => {
        pending = 0;
        done = null;
      });
    },
  };
}

// ---- one phase: C clients -------------------------------------------------------------------------------

interface PhaseResult {
  clients: number;
  rounds: number;
  frameBytes: number;
  weightsFrameBytes: number;
  /** Per contender, per rep: wall ms for `rounds` rounds. */
  wallMs: Record<Contender, number[]>;
  /** Per rep: the hub's own round durations (RoundSummary.durationMs). */
  hubRoundMs: number[][];
  /** Per rep: ms per update spent in RunController.submitUpdate (the hub's own validate/decode/fold work). */
  hubWorkMsPerUpdate: number[];
  /** Per rep: raw round durations. */
  rawRoundMs: number[][];
  rawEchoRoundMs: number[][];
  rawUploadRoundMs: number[][];
  /** Measured over `measured` connections: the first WARM_CLIENTS connect before the baseline. */
  memory: { measured: number; hubBefore: MemorySample; hubAfter: MemorySample; rawBefore: MemorySample; rawAfter: MemorySample };
  hubStats: ClientStats;
  rawStats: ClientStats;
  hubRejectLog: string[];
  connectMs: number;
}

async function phase(C: number, rounds: number, reps: number, model: MlpSpec): Promise<PhaseResult> {
  const length = parameterCount(model);
  const segments = segmentSizes(model);
  const dataDir = mkdtempSync(join(tmpdir(), 'tabula-bench-ingest-'));
  const hubRejectLog: string[] = [];
  let hub: EmbeddedHub | null = null;
  let raw: RawServer | null = null;
  const clients = new ClientProcess();
  try {
    hub = await createHub({
      dataDir,
      adminToken: TOKEN,
      maxParameters: Math.max(2_000_000, length),
      logger: lineLogger((line) => {
        if (/rejected|failed|disconnected/.test(line) && hubRejectLog.length < 20) hubRejectLog.push(line);
      }, 'debug'),
    });
    const hubUrl = await listen(hub.http);

    // Memory per participant, of this (the hub's) process only: the clients live in their own.
    // The first few connections pay one-off costs (lazy module state, JIT): they connect before the baseline,
    // and memory per participant is the slope over the rest.
    const warm = Math.min(WARM_CLIENTS, C - 1);
    const connectBudget = 120_000 + 1_000 * C;
    await clients.request({ op: 'connect-hub', url: hubUrl, count: warm, first: 0, length, segments: [...segments] }, connectBudget);
    const hubBefore = retainedMemory();
    const connectMs =
      (
        await clients.request(
          { op: 'connect-hub', url: hubUrl, count: C - warm, first: warm, length, segments: [...segments] },
          connectBudget,
        )
      ).ms ?? 0;
    const hubAfter = retainedMemory();
    if (hub.registry.connected().length !== C)
      throw new Error(`the hub sees ${hub.registry.connected().length} participants, expected ${C}`);

    // The bare baseline, with its own C clients (same sizes as the hub's frames).
    const runIdLike = `run-${Date.now().toString(36)}-abcdef`;
    const frameBytes = frameByteLength(length, 'float32', segments, runIdLike);
    const weightsFrameBytes = frameByteLength(length, 'float32', 1, runIdLike);
    const weightsPayload = new Uint8Array(weightsFrameBytes).fill(2);
    const maxMessageBytes = frameByteLength(Math.max(2_000_000, length), 'float32', 1, 'x'.repeat(64)) + 64 * 1024;
    raw = await rawServer(maxMessageBytes);
    await clients.request({ op: 'connect-raw', url: raw.url, count: warm, payloadBytes: frameBytes }, connectBudget);
    const rawBefore = retainedMemory();
    await clients.request({ op: 'connect-raw', url: raw.url, count: C - warm, payloadBytes: frameBytes }, connectBudget);
    const rawAfter = retainedMemory();

    const config: RunConfigInput = {
      algorithm: 'fedavg',
      model,
      rounds,
      perRound: C,
      minParticipants: C,
      waitForParticipantsMs: 30_000,
      roundDeadlineMs: ACK_TIMEOUT_MS,
      server: { kind: 'sgd', lr: 1 },
      seed: 1,
    };
    const hubRoundMs: number[][] = [];
    const hubWorkMsPerUpdate: number[] = [];
    const rawRoundMs: number[][] = [];
    const rawEchoRoundMs: number[][] = [];
    const rawUploadRoundMs: number[][] = [];
    const theHub = hub;
    const theRaw = raw;

    const run = async (c: Contender): Promise<number> => {
      switch (c) {
        case 'hub': {
          const before = (await clients.stats()).hub.acked;
          const work0 = { ...hubWork };
          const t = performance.now();
          const started = await theHub.startRun(config);
          if (!started.ok) throw new Error(`startRun: ${started.error}`);
          const controller = theHub.active();
          if (!controller) throw new Error('no active run after startRun');
          const summary = await withTimeout(controller.start(), (rounds + 2) * ACK_TIMEOUT_MS, 'the hub run');
          const wall = performance.now() - t;
          if (summary.status !== 'completed')
            throw new Error(`hub run ${summary.id} ${summary.status}: ${summary.error ?? ''} ${hubRejectLog.join(' | ')}`);
          const listed = theHub.store.listRounds(summary.id);
          if (listed.length !== rounds || listed.some((r) => r.status !== 'completed' || r.participants.length !== C)) {
            throw new Error(
              `hub run ${summary.id}: expected ${rounds} completed rounds of ${C}, got ${JSON.stringify(listed.map((r) => [r.round, r.status, r.participants.length]))}`,
            );
          }
          // The run completes as soon as the last update is folded; its ack may still be on its way back.
          const ackedBy = performance.now() + 10_000;
          let stats = (await clients.stats()).hub;
          while (stats.acked - before < C * rounds && stats.rejected === 0 && performance.now() < ackedBy) {
            await new Promise((r) => setTimeout(r, 20));
            stats = (await clients.stats()).hub;
          }
          if (stats.acked - before !== C * rounds)
            throw new Error(
              `hub acked ${stats.acked - before} updates, expected ${C * rounds}; rejected ${stats.rejected}: ${stats.errors.join(' | ')}`,
            );
          hubRoundMs.push(listed.map((r) => r.durationMs));
          hubWorkMsPerUpdate.push((hubWork.ms - work0.ms) / Math.max(1, hubWork.calls - work0.calls));
          return wall;
        }
        case 'raw echo':
        case 'raw upload': {
          // Timed here, around the request: the IPC hop costs the same for every contender's measurement.
          const t = performance.now();
          const reply = await clients.request({ op: c === 'raw echo' ? 'echo' : 'upload', rounds }, (rounds + 1) * ACK_TIMEOUT_MS);
          (c === 'raw echo' ? rawEchoRoundMs : rawUploadRoundMs).push(reply.perRoundMs ?? []);
          return performance.now() - t;
        }
        case 'raw round': {
          const per: number[] = [];
          const t = performance.now();
          for (let r = 0; r < rounds; r++) {
            const tr = performance.now();
            await theRaw.pushRound(weightsPayload, C);
            per.push(performance.now() - tr);
          }
          rawRoundMs.push(per);
          return performance.now() - t;
        }
        default: {
          const never: never = c;
          throw new Error(`unknown contender ${String(never)}`);
        }
      }
    };
    // Warm-up: one round of each (JIT, socket buffers), not measured.
    await run('raw echo');
    await run('raw upload');
    await run('raw round');
    rawEchoRoundMs.length = 0;
    rawUploadRoundMs.length = 0;
    rawRoundMs.length = 0;
    const wallMs = await interleave(CONTENDERS, reps, async (c, rep) => {
      const ms = await run(c);
      console.log(
        `  C ${C} rep ${rep + 1}/${reps} ${c}: ${rounds} rounds in ${(ms / 1000).toFixed(2)} s · ${((C * rounds) / (ms / 1000)).toFixed(0)} updates/s`,
      );
      return ms;
    });
    const { hub: hubStats, raw: rawStats } = await clients.stats();
    return {
      clients: C,
      rounds,
      frameBytes,
      weightsFrameBytes,
      wallMs,
      hubRoundMs,
      hubWorkMsPerUpdate,
      rawRoundMs,
      rawEchoRoundMs,
      rawUploadRoundMs,
      memory: { measured: C - warm, hubBefore, hubAfter, rawBefore, rawAfter },
      hubStats,
      rawStats,
      hubRejectLog,
      connectMs,
    };
  } finally {
    await clients.request({ op: 'close' }, 30_000).catch((e: unknown) => console.error(String(e)));
    clients.close();
    if (hub) await withTimeout(hub.close(), 30_000, 'the hub to close').catch((e: unknown) => console.error(String(e)));
    if (raw) {
      const r = raw;
      await withTimeout(new Promise<void>((resolve) => void r.io.close(() => resolve())), 30_000, 'the raw server to close').catch(
        (e: unknown) => console.error(String(e)),
      );
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- main -----------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const values = parseFlags(
    {
      clients: { type: 'string' },
      rounds: { type: 'string' },
      reps: { type: 'string' },
      hidden: { type: 'string' },
      'timeout-s': { type: 'string' },
    },
    HELP,
  );
  const quick = values.quick === true;
  const clientCounts = numberList(values.clients ?? (quick ? '10,30' : '100,500'), 'clients');
  const rounds = positiveInt(values.rounds ?? (quick ? '2' : '3'), 'rounds');
  const reps = positiveInt(values.reps ?? (quick ? '2' : '5'), 'reps');
  const hidden = positiveInt(values.hidden ?? '100', 'hidden');
  const timeoutS = positiveInt(values['timeout-s'] ?? '900', 'timeout-s');
  const model: MlpSpec = hidden === 100 ? MNIST_MLP : { ...MNIST_MLP, hidden: [hidden] };
  const P = parameterCount(model);
  const started = performance.now();
  // Whatever happens (a hung socket, a stuck round), the process ends.
  setTimeout(() => {
    console.error(`ingest: hard limit of ${timeoutS} s reached; exiting`);
    process.exit(3);
  }, timeoutS * 1000).unref();

  console.log(
    `ingest: MLP 784-${hidden}-10 (${P.toLocaleString('en-US')} parameters) · clients ${clientCounts.join(', ')} · ${rounds} rounds · ${reps} interleaved reps`,
  );
  console.log("ingest: the scripted clients run in a second process (bench/ingest-clients.ts); the two share this machine's cores.");
  console.log(`ingest: ws native masking (bufferutil): ${nativeMasking() ? 'yes' : 'no, JavaScript fallback'}`);

  const phases: PhaseResult[] = [];
  const skipped: string[] = [];
  for (const C of clientCounts) {
    try {
      phases.push(await phase(C, rounds, reps, model));
    } catch (error) {
      const message = `C = ${C} could not be measured on this machine: ${error instanceof Error ? error.message : String(error)}`;
      console.error(`ingest: ${message}`);
      skipped.push(message);
    }
  }

  // ---- report ------------------------------------------------------------------------------------------
  const ups = (p: PhaseResult, c: Contender) => (p.clients * p.rounds) / (median(p.wallMs[c]) / 1000);
  // hub / raw in updates/s = raw wall / hub wall, paired within each repetition (they ran back to back).
  const ratio = (p: PhaseResult, raw: Contender) => pairedRatio(p.wallMs[raw], p.wallMs.hub);
  const throughputTable: Table = {
    title: `Ingest: updates/s through the hub vs bare socket.io (MLP ${P.toLocaleString('en-US')} params; ${rounds} rounds per sample; median of ${reps} interleaved reps)`,
    columns: [
      'clients',
      'hub updates/s',
      'hub MB/s up',
      'hub MB/s up+down',
      'raw echo updates/s',
      'raw round updates/s',
      'raw upload updates/s',
      'hub / raw echo',
      'hub / raw round',
      'hub / raw upload',
    ],
    rows: phases.map((p) => {
      const hub = ups(p, 'hub');
      return [
        p.clients,
        hub,
        (hub * p.frameBytes) / MB,
        (hub * (p.frameBytes + p.weightsFrameBytes)) / MB,
        ups(p, 'raw echo'),
        ups(p, 'raw round'),
        ups(p, 'raw upload'),
        ratio(p, 'raw echo'),
        ratio(p, 'raw round'),
        ratio(p, 'raw upload'),
      ];
    }),
    note: "updates/s = clients x rounds / wall time of the whole run (hub: startRun -> run completed, including persistence and the gaps between rounds), median over reps. Ratios are medians over reps of the per-rep ratio (contenders of one rep ran back to back). raw echo (the goal's baseline) sends each delta-sized binary back in the ack; raw round pushes a weights-sized frame to each client first and collects the answers, as a hub round does; raw upload acks without the bytes (upload only).",
  };
  const roundTable: Table = {
    title: 'Round duration (median over all measured rounds, ms): with a trivial local update, all of it is hub + transport overhead',
    columns: [
      'clients',
      'hub round',
      'hub per participant',
      'raw round',
      'raw echo round',
      'raw upload round',
      'hub - raw round',
      'submitUpdate per update',
      'submitUpdate per round',
      'frame bytes up',
      'frame bytes down',
    ],
    rows: phases.map((p) => {
      const hubMs = median(p.hubRoundMs.flat());
      const rawMs = median(p.rawRoundMs.flat());
      const work = median(p.hubWorkMsPerUpdate);
      return [
        p.clients,
        hubMs,
        `${((1000 * hubMs) / p.clients).toFixed(0)} µs`,
        rawMs,
        median(p.rawEchoRoundMs.flat()),
        median(p.rawUploadRoundMs.flat()),
        hubMs - rawMs,
        `${(1000 * work).toFixed(0)} µs`,
        work * p.clients,
        p.frameBytes,
        p.weightsFrameBytes,
      ];
    }),
    note: "hub round = RoundSummary.durationMs (configure + send weights to all + collect/validate/fold all deltas + aggregate; persistence follows it). submitUpdate = the hub's own synchronous work per update (zod meta check, decodeFrame: copy + finite scan, WeightedSum.add), timed by wrapping RunController.prototype.submitUpdate.",
  };
  const kib = (x: number) => x / 1024;
  const memoryTable: Table = {
    title: 'Memory per connected participant (after a full GC, before vs after connecting; KiB per connection)',
    columns: [
      'clients',
      'hub: rss',
      'hub: heapUsed',
      'hub: external+arrayBuffers',
      'bare socket.io: rss',
      'bare: heapUsed',
      'hub - bare heapUsed',
    ],
    rows: phases.map((p) => {
      const { hubBefore: hb, hubAfter: ha, rawBefore: rb, rawAfter: ra } = p.memory;
      const per = (a: number, b: number) => kib((a - b) / p.memory.measured);
      return [
        p.clients,
        per(ha.rss, hb.rss),
        per(ha.heapUsed, hb.heapUsed),
        per(ha.external + ha.arrayBuffers, hb.external + hb.arrayBuffers),
        per(ra.rss, rb.rss),
        per(ra.heapUsed, rb.heapUsed),
        per(ha.heapUsed, hb.heapUsed) - per(ra.heapUsed, rb.heapUsed),
      ];
    }),
    note:
      'Slope over the connections after the first ' +
      WARM_CLIENTS +
      '. Server process only (the clients live in their own): each figure is one server-side socket (+ the hub\'s registry entry and bookkeeping for the hub). "hub - bare" isolates the hub\'s own per-participant bookkeeping.',
  };
  printTable(throughputTable);
  printTable(roundTable);
  printTable(memoryTable);

  const headline = [
    ...phases.map((p) => {
      const hub = ups(p, 'hub');
      return `${p.clients} clients: hub ${hub.toFixed(0)} updates/s (${((hub * p.frameBytes) / MB).toFixed(0)} MB/s of update frames), round ${median(p.hubRoundMs.flat()).toFixed(0)} ms; raw echo ${ups(p, 'raw echo').toFixed(0)}, raw round ${ups(p, 'raw round').toFixed(0)}, raw upload ${ups(p, 'raw upload').toFixed(0)} updates/s; hub/raw echo ${ratio(p, 'raw echo').toFixed(2)} (goal >= 0.5), hub/raw round ${ratio(p, 'raw round').toFixed(2)}, hub/raw upload ${ratio(p, 'raw upload').toFixed(2)}`;
    }),
    ...phases.map(
      (p) =>
        `${p.clients} clients: the hub's own work (RunController.submitUpdate: validate, decode, fold) is ${(1000 * median(p.hubWorkMsPerUpdate)).toFixed(0)} µs per update, ${(median(p.hubWorkMsPerUpdate) * p.clients).toFixed(0)} ms of a ${median(p.hubRoundMs.flat()).toFixed(0)} ms round`,
    ),
    ...phases.map(
      (p) =>
        `${p.clients} clients: ${((p.memory.hubAfter.heapUsed - p.memory.hubBefore.heapUsed) / p.memory.measured / 1024).toFixed(0)} KiB heap and ${((p.memory.hubAfter.rss - p.memory.hubBefore.rss) / p.memory.measured / 1024).toFixed(0)} KiB rss per participant in the hub's process`,
    ),
    ...skipped,
  ];
  const masking = nativeMasking();
  const notes = [
    masking
      ? 'ws used the native bufferutil addon for WebSocket masking (found through NODE_PATH or an install): transport costs here are close to production.'
      : 'ws masked and unmasked every WebSocket frame in JavaScript (the optional native addon bufferutil is not installed): in a CPU profile that is about half of all time, for hub and raw alike (client-side masking would be native in a browser). To measure with it: npm install bufferutil in some directory D, then NODE_PATH=D/node_modules npx tsx bench/ingest.ts.',
    `${hubWork.alignedFrames} of ${hubWork.calls} update frames reached the hub 4-byte aligned (a float32 payload could be read in place, without decodeFrame's copy).`,
    "The scripted clients run in a second Node process (bench/ingest-clients.ts): the hub's event loop and heap are its own, but on a small machine both processes share the cores, as the bare server and its clients do.",
    "raw echo is the brief's baseline: a binary echo moves one model-sized frame each way, as a hub round does (weights down, delta up). raw upload (ack without the bytes) bounds what any hub could do while it must also send the weights: it is shown, not the goal.",
    ...phases.flatMap((p) => [
      ...(p.hubStats.rejected
        ? [`${p.clients} clients: ${p.hubStats.rejected} hub updates rejected or timed out, e.g. ${p.hubStats.errors.join(' | ')}`]
        : []),
      ...(p.rawStats.rejected
        ? [`${p.clients} clients: ${p.rawStats.rejected} raw round answers timed out, e.g. ${p.rawStats.errors.join(' | ')}`]
        : []),
      `${p.clients} clients: connecting took ${(p.connectMs / 1000).toFixed(1)} s (batches of ${CONNECT_BATCH}).`,
    ]),
  ];
  finish({
    name: 'ingest',
    title: 'Hub ingest: updates/s through createHub vs bare socket.io',
    description:
      'A real hub (createHub, port 0, temp data dir) runs the MNIST MLP with perRound = all of C scripted socket.io participants that answer each round:start at once with a zero delta; compared, interleaved, with a bare socket.io server that acks same-sized binaries (raw echo: the bytes come back in the ack; raw upload: ack only; raw round: push a weights-sized frame, then answer). Also memory per connected participant.',
    ...runInfo(started, quick),
    headline,
    tables: [throughputTable, roundTable, memoryTable],
    notes,
    data: { parameters: P, rounds, reps, nativeMasking: masking, phases, skipped },
  });
  if (phases.length === 0) process.exitCode = 1;
  // Sockets, timers and SQLite are closed; exit explicitly in case a library left a handle open.
  setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
