/**
 * bench/secagg.ts — what secure aggregation costs a tab and the hub, and what it costs the model (issue 13).
 *
 *   npx tsx bench/secagg.ts [--quick] [--sizes 10,50,100,200] [--neighbours 20] [--parts cost,accuracy] [...]
 *
 * Cost: for n tabs in a group, the complete graph (SecAgg, k = n − 1) and, from 50 tabs on, SecAgg+ with k = 20
 * neighbours, each tab holding the MNIST MLP's 79,510 parameters plus SECAGG_EXTRAS ring words. 10 % of the tabs
 * leave after the share stage (they never send a masked input), so the hub must rebuild their mask keys and remove the
 * pairwise masks they left in their neighbours' inputs. The round is the hub's own `runSecureRound`, driven over an
 * in-process `ask` that hands each request to that tab's `SecureContribution` (the tab side, schemas and base64 and
 * the masked wire frame included), exactly as the simulation does; only the tabs answer one at a time, so that each
 * answer's wall time is that tab's own cost. The hub's pieces are timed by wrapping `SecAggAggregator`'s methods here
 * (sum of the masked inputs, unmasking), and the unmasking is split into rebuilding the survivors' self-masks and
 * rebuilding the dropped tabs' pairwise masks by a replica of `SecAggAggregator.unmask` built from the same exported
 * primitives (threshold many shares per secret, as the hub combines them), checked to produce the same correction word
 * for word. Every row checks that the unmasked total equals
 * the plain sum of the survivors' ring words mod 2^32, and fails loudly otherwise. Event-loop delay
 * (perf_hooks.monitorEventLoopDelay) is recorded during each unmasking: is the hub's event loop blocked long enough
 * to matter, or only busy for long?
 *
 * Accuracy: the MNIST shards preset with FedAvg (presetRunConfig), the same seeds with and without secure aggregation
 * (runSimulation, fast engine), at maxGroup 10 and clip 1, with maxExamples near the participants' example counts and
 * at the default 10,000; and the rounding error of the aggregated update itself, from real first-round updates.
 *
 * Reference: design/privacy.md §2.10 (measured costs) and §2.11 item 7 (n = 200, k = 20, 10 % dropouts: hub
 * unmasking under 2 s); and this benchmark's own run before the two fixes it led to (BEFORE_FIXES).
 */
import { createRequire } from 'node:module';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createScenario } from '../packages/core/src/data/scenario.js';
import { loadMnist } from '../packages/core/src/data/mnist-node.js';
import { federatedLength } from '../packages/core/src/learn/federated-layout.js';
import { MNIST_MLP } from '../packages/core/src/model/spec.js';
import { presetRunConfig } from '../packages/core/src/presets.js';
import { seededRandomSource } from '../packages/core/src/privacy/random-source.js';
import { RunConfigSchema, type RunConfigInput } from '../packages/core/src/protocol.js';
import { firstRoundUpdates } from './first-round.js';
import { createRng } from '../packages/core/src/rng.js';
import { secureInput, SecureContribution } from '../packages/core/src/secagg/contribution.js';
import { hkdf, maskWords, randomSecret, sha256, utf8, x25519FromSecret, x25519Shared } from '../packages/core/src/secagg/crypto.js';
import { SECAGG_EXTRAS, type SecAggStage } from '../packages/core/src/secagg/messages.js';
import {
  neighbourhoods,
  SecAggAggregator,
  type SecAggSession,
  type SealedShares,
  type UnmaskShares,
} from '../packages/core/src/secagg/protocol.js';
import { addWords, ringScales, secureMean } from '../packages/core/src/secagg/quantize.js';
import { runSecureRound, type SecAggAsk } from '../packages/core/src/secagg/secure-round.js';
import { runSimulation, type SimResult } from '../packages/core/src/sim/simulation.js';
import { PROTOCOL_VERSION } from '../packages/core/src/protocol.js';
import {
  REPO_ROOT,
  finish,
  fullGc,
  gaussianVector,
  interleave,
  median,
  numberList,
  parseFlags,
  positiveInt,
  printTable,
  runInfo,
  type Cell,
  type Table,
} from './lib.js';

const HELP = `Usage: npx tsx bench/secagg.ts [options]
  --parts LIST       of cost,accuracy                                          [cost,accuracy]
  --sizes LIST       tabs per group n                                          [10,50,100,200; quick 10,20]
  --neighbours K     SecAgg+ degree (even), for every n > K + 1 and n >= 50    [20; quick 4]
  --parameters L     parameters per input (plus ${SECAGG_EXTRAS} extras)                    [79510 (MNIST MLP); quick 5000]
  --dropout F        share of tabs that leave after the share stage            [0.1]
  --hub-reps N       extra runs of the hub's unmasking per row (median of 1+N)  [2; quick 1]
  --block-reps N     interleaved repetitions of the building blocks            [15; quick 3]
  --rounds N         accuracy: FedAvg rounds on MNIST shards                   [30; quick 3]
  --seeds N          accuracy: seeds 1..N                                      [2; quick 1]
  --quick            smoke sizes: runs in seconds
  -h, --help         this text`;

const PARTS = ['cost', 'accuracy'] as const;
type Part = (typeof PARTS)[number];
const STAGES = ['advertise', 'share', 'mask', 'unmask'] as const satisfies readonly SecAggStage[];
const RUN_ID = 'bench-secagg';
const ROUND = 1;
const MODEL_VERSION = 0;

/** design/privacy.md §2.10, measured with L = 79,511 words; `dropped` is that table's own count (30 % at n = 10). */
const DESIGN = [
  { n: 10, k: 9, dropped: 3, tabMask: 16, tabDecrypt: 7.5, tabStage1: 12.5, hubSum: 2.1, hubSelf: 3.8, hubPairwise: 55 },
  { n: 50, k: 49, dropped: 5, tabMask: 69, tabDecrypt: 13, tabStage1: 15, hubSum: 4.1, hubSelf: 58, hubPairwise: 382 },
  { n: 100, k: 99, dropped: 10, tabMask: 167, tabDecrypt: 53, tabStage1: 27, hubSum: 10.6, hubSelf: 176, hubPairwise: 1235 },
  { n: 100, k: 20, dropped: 10, tabMask: 40, tabDecrypt: 12, tabStage1: 8, hubSum: 8.2, hubSelf: 176, hubPairwise: 165 },
  { n: 200, k: 199, dropped: 20, tabMask: 529, tabDecrypt: 109, tabStage1: 85, hubSum: 55, hubSelf: 1490, hubPairwise: 9187 },
  { n: 200, k: 20, dropped: 20, tabMask: 34, tabDecrypt: 9.5, tabStage1: 7.6, hubSum: 24, hubSelf: 389, hubPairwise: 861 },
] as const;
/** §2.11 item 7: the cost guard for n = 200, k = 20, 10 % dropouts. */
const GUARD_MS = 2000;
/**
 * This benchmark's full run of 2026-11-30T16:55Z (same flags, same machine, load average 2.5 at its start), before
 * commit eed57f6 fixed what it found: maskWords allocated three buffers per mask (a fresh zero plaintext, WebCrypto's
 * keystream, and words copied out of it through a DataView), and SecAggAggregator.unmask handed Shamir's combine every
 * share it held of a secret instead of threshold many. Medians, ms: the hub's unmask (3 runs), the Shamir combines of
 * the unmask replica (2 runs), and a tab's mask stage.
 */
const BEFORE_FIXES = [
  { n: 10, k: 9, hubUnmask: 12.7, shamir: 0.84, tabMask: 10.2 },
  { n: 50, k: 49, hubUnmask: 424, shamir: 17.1, tabMask: 87.7 },
  { n: 50, k: 20, hubUnmask: 254, shamir: 4.37, tabMask: 20.5 },
  { n: 100, k: 99, hubUnmask: 1629, shamir: 126, tabMask: 194 },
  { n: 100, k: 20, hubUnmask: 448, shamir: 9.27, tabMask: 33.1 },
  { n: 200, k: 199, hubUnmask: 3268, shamir: 954, tabMask: 471 },
  { n: 200, k: 20, hubUnmask: 833, shamir: 22.8, tabMask: 33.9 },
] as const;

// ---- shamir-secret-sharing, through core's dependency (bench does not depend on it itself) -------------------

interface Shamir {
  split(secret: Uint8Array, shares: number, threshold: number): Promise<Uint8Array[]>;
  combine(shares: Uint8Array[]): Promise<Uint8Array>;
}

async function loadShamir(): Promise<Shamir> {
  const path = createRequire(join(REPO_ROOT, 'packages/core/package.json')).resolve('shamir-secret-sharing');
  return (await import(pathToFileURL(path).href)) as Shamir;
}

// ---- instruments on the hub's aggregator --------------------------------------------------------------------

/** Every garbage collection's pause (perf_hooks 'gc' entries: the stop-the-world part, not incremental marking). */
const gcPauses: { start: number; ms: number }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, ms: e.duration });
}).observe({ entryTypes: ['gc'] });

/** GC pauses that began in [from, to]; read after `settle()`, since entries arrive asynchronously. */
function gcWithin(from: number, to: number): { count: number; ms: number } {
  const inside = gcPauses.filter((g) => g.start >= from && g.start <= to);
  return { count: inside.length, ms: inside.reduce((a, g) => a + g.ms, 0) };
}

const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 20));

/** What the wrapped SecAggAggregator methods record for the row being measured. */
interface HubProbe {
  acceptSharesMs: number;
  /** acceptMasked: folding each masked input into the running sum (the hub's "sum"). */
  sumMs: number;
  /** The survivors' masked inputs, summed here too (outside the timed part), to check the unmask replica. */
  maskedSum: Uint32Array;
  /** Time this benchmark spent on its own bookkeeping inside the round (subtracted from the hub's share). */
  benchMs: number;
  unmask: { start: number; ms: number; heapMB: number; eldMaxMs: number; eldP99Ms: number; eldMeanMs: number }[];
  hub: SecAggAggregator | null;
  answers: readonly UnmaskShares[] | null;
}

let probe: HubProbe | null = null;
{
  const proto = SecAggAggregator.prototype;
  // The shipped methods, called on their own instance (`.call(this, …)`) inside the wrappers below.
  const original = <K extends 'acceptShares' | 'acceptMasked' | 'unmask'>(name: K) =>
    Reflect.get(proto, name) as unknown as (
      this: SecAggAggregator,
      ...args: Parameters<SecAggAggregator[K]>
    ) => ReturnType<SecAggAggregator[K]>;
  const acceptShares = original('acceptShares');
  const acceptMasked = original('acceptMasked');
  const unmask = original('unmask');
  proto.acceptShares = function (this: SecAggAggregator, from: number, sealed: readonly SealedShares[]): void {
    const t = performance.now();
    acceptShares.call(this, from, sealed);
    if (probe) probe.acceptSharesMs += performance.now() - t;
  };
  proto.acceptMasked = function (this: SecAggAggregator, from: number, masked: Uint32Array): void {
    const t = performance.now();
    acceptMasked.call(this, from, masked);
    const done = performance.now();
    if (probe) {
      probe.sumMs += done - t;
      addWords(probe.maskedSum, masked);
      probe.benchMs += performance.now() - done;
    }
  };
  proto.unmask = async function (this: SecAggAggregator, answers: readonly UnmaskShares[]): Promise<Uint32Array> {
    // Event-loop delay at 1 ms resolution while the hub unmasks: its max is the longest the loop went without a turn.
    const heapMB = process.memoryUsage().heapUsed / 1e6;
    const eld = monitorEventLoopDelay({ resolution: 1 });
    eld.enable();
    const t = performance.now();
    try {
      return await unmask.call(this, answers);
    } finally {
      const ms = performance.now() - t;
      eld.disable();
      if (probe) {
        probe.unmask.push({ start: t, ms, heapMB, eldMaxMs: eld.max / 1e6, eldP99Ms: eld.percentile(99) / 1e6, eldMeanMs: eld.mean / 1e6 });
        probe.hub = this;
        probe.answers = answers;
      }
    }
  };
}

// ---- one cost row -------------------------------------------------------------------------------------------

interface CostRow {
  readonly n: number;
  readonly k: number;
  readonly complete: boolean;
  readonly threshold: number;
  readonly dropped: number;
  readonly survivors: number;
  readonly words: number;
  /** Per stage: the median, the 10th and 90th percentile over tabs of one answer's wall time. */
  readonly tabMs: Record<SecAggStage, { median: number; p10: number; p90: number }>;
  readonly hub: {
    readonly roundWallMs: number;
    readonly tabsMs: number;
    readonly benchMs: number;
    /** Everything of the round that was neither a tab's answer nor this benchmark's bookkeeping. */
    readonly hubMs: number;
    readonly acceptSharesMs: number;
    readonly sumMs: number;
    readonly unmaskMs: readonly number[];
    readonly eldMaxMs: readonly number[];
    readonly eldP99Ms: readonly number[];
    readonly eldMeanMs: readonly number[];
    /** V8's used heap when each unmask run began, MB: what every full collection has to mark. */
    readonly heapMB: readonly number[];
    /** GC pauses during each unmask run. */
    readonly unmaskGc: readonly { readonly count: number; readonly ms: number }[];
    /** The replica of unmask, one per repetition (its median gives the split). */
    readonly replica: UnmaskSplit;
    readonly replicaRuns: readonly UnmaskSplit[];
  };
  /** JSON text of each request (down) and answer (up) per tab, medians over the tabs asked; the masked frame's bytes. */
  readonly bytes: {
    readonly down: Record<SecAggStage, number>;
    readonly up: Record<Exclude<SecAggStage, 'mask'>, number>;
    readonly frame: number;
    readonly keyUp: number;
    readonly keyDown: number;
  };
  /** runSecureRound's own count of bytes up (keys, shares, frames). */
  readonly roundBytesUp: number;
  readonly exact: boolean;
}

interface UnmaskSplit {
  readonly ms: number;
  readonly gc: { readonly count: number; readonly ms: number };
  readonly selfMs: number;
  readonly selfCombineMs: number;
  readonly pairMs: number;
  readonly pairCombineMs: number;
  /** Pairwise masks rebuilt: Σ over dropped tabs of their surviving neighbours. */
  readonly pairMasks: number;
  readonly selfMasks: number;
}

const quantile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))] ?? Number.NaN;
};

const sameWords = (a: Uint32Array, b: Uint32Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The work of SecAggAggregator.unmask, step for step from the same exported primitives, timed in two parts: the
 * survivors' self-masks, and the dropped tabs' keys with the pairwise masks they left. Like the hub, it rebuilds each
 * secret from the first `threshold` shares it received of it. Returns the correction the hub adds to the masked sum,
 * which the caller checks against the hub's own result.
 */
async function unmaskReplica(
  shamir: Shamir,
  session: SecAggSession,
  hub: SecAggAggregator,
  answers: readonly UnmaskShares[],
): Promise<UnmaskSplit & { correction: Uint32Array }> {
  const { survivors, dropped } = hub.unmaskRequest();
  const roster = hub.roster();
  const maskKeys = new Map(roster.map((r) => [r.index, r.maskKey]));
  const graph = neighbourhoods(
    roster.map((r) => r.index),
    session,
  );
  const salt = await sha256(utf8(`${session.runId}\u0000${session.round}\u0000${session.sessionId}`));
  const correction = new Uint32Array(session.words);
  // As the hub: any threshold of a secret's shares rebuild it, so it combines the first threshold it received.
  const sharesOf = (of: number, kind: 'selfShares' | 'keyShares') => {
    const shares = answers.flatMap((a) => a[kind].filter((s) => s.of === of).map((s) => s.share));
    if (shares.length < session.threshold)
      throw new Error(`replica: ${shares.length} shares of tab ${of}'s secret, the threshold is ${session.threshold}`);
    return shares.slice(0, session.threshold);
  };
  let selfCombineMs = 0;
  let pairCombineMs = 0;
  let pairMasks = 0;
  const t0 = performance.now();
  for (const v of survivors) {
    const c = performance.now();
    const seed = await shamir.combine(sharesOf(v, 'selfShares'));
    selfCombineMs += performance.now() - c;
    addWords(correction, await maskWords(await hkdf(seed, salt, utf8('tabula/secagg/v1/self'), 32), session.words), -1);
  }
  const t1 = performance.now();
  for (const v of dropped) {
    const c = performance.now();
    const secret = await shamir.combine(sharesOf(v, 'keyShares'));
    pairCombineMs += performance.now() - c;
    const pair = await x25519FromSecret(secret);
    if (!sameWords(Uint32Array.from(pair.publicKey), Uint32Array.from(maskKeys.get(v)!)))
      throw new Error(`replica: tab ${v}'s rebuilt key differs from its advertised key`);
    for (const u of survivors.filter((w) => graph.get(v)!.has(w))) {
      const key = await hkdf(await x25519Shared(pair.privateKey, maskKeys.get(u)!), salt, utf8('tabula/secagg/v1/pair'), 32);
      // Survivor u added +mask if u < v, −mask otherwise; the hub takes it back out.
      addWords(correction, await maskWords(key, session.words), u < v ? -1 : 1);
      pairMasks++;
    }
  }
  const t2 = performance.now();
  await settle();
  return {
    ms: t2 - t0,
    gc: gcWithin(t0, t2),
    selfMs: t1 - t0,
    selfCombineMs,
    pairMs: t2 - t1,
    pairCombineMs,
    pairMasks,
    selfMasks: survivors.length,
    correction,
  };
}

async function costRow(
  shamir: Shamir,
  n: number,
  degree: number | null,
  parameters: number,
  dropout: number,
  hubReps: number,
): Promise<CostRow> {
  const complete = degree === null || degree >= n - 1;
  const k = complete ? n - 1 : degree;
  // As the round engine sets them: a majority of each secret's k + 1 holders.
  const threshold = Math.floor((k + 1) / 2) + 1;
  const words = parameters + SECAGG_EXTRAS;
  const rng = createRng(1000 * n + k);
  const sessionId = `bench-${n}-${k}`;
  const graph = complete ? undefined : { degree: k, seed: Math.floor(rng.next() * 0x7fffffff) };
  const session: SecAggSession = { runId: RUN_ID, round: ROUND, sessionId, threshold, words, ...(graph ? { graph } : {}) };
  const terms = { clip: 1, maxGroup: n, maxExamples: 200 };

  const droppedCount = Math.round(dropout * n);
  const dropped = new Set(rng.shuffle(Array.from({ length: n }, (_, i) => i + 1)).slice(0, droppedCount));
  // Each tab's ring words: a delta-like vector and an example count, quantised as a tab does. The check's sum of the
  // survivors' words is taken here, so that no copies stay alive: in process, every buffer the hub's machine would not
  // hold makes V8 collect more often while the hub works (tabs are dropped too, after their last stage).
  const expected = new Uint32Array(words);
  const tabs = new Map<number, SecureContribution>();
  for (let index = 1; index <= n; index++) {
    const delta = gaussianVector(parameters, 7919 * n + index, 0.01);
    const { words: ring } = secureInput(delta, { numExamples: 100 + (index % 100), loss: 0.5 }, terms, seededRandomSource(index));
    if (!dropped.has(index)) addWords(expected, ring);
    tabs.set(index, new SecureContribution({ runId: RUN_ID, round: ROUND, modelVersion: MODEL_VERSION }, ring));
  }

  const tabMs = Object.fromEntries(STAGES.map((s) => [s, [] as number[]])) as Record<SecAggStage, number[]>;
  const down = Object.fromEntries(STAGES.map((s) => [s, [] as number[]])) as Record<SecAggStage, number[]>;
  const up = Object.fromEntries(STAGES.map((s) => [s, [] as number[]])) as Record<SecAggStage, number[]>;
  probe = {
    acceptSharesMs: 0,
    sumMs: 0,
    maskedSum: new Uint32Array(words),
    benchMs: 0,
    unmask: [],
    hub: null,
    answers: null,
  };
  const p = probe;
  // One tab answers at a time; the next starts after an event-loop turn, so the hub's handling of an answer
  // (validation, relaying, summing: microtasks) runs between tabs, outside every tab's measured window.
  let turn: Promise<void> = Promise.resolve();
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const ask: SecAggAsk = (participantId, stage, request) => {
    const index = Number(participantId);
    if (stage === 'mask' && dropped.has(index)) {
      tabs.delete(index);
      return Promise.reject(new Error('closed its socket after the share stage'));
    }
    const answered = turn.then(async () => {
      const t = performance.now();
      const reply = await tabs.get(index)!.answer(stage, request);
      const done = performance.now();
      tabMs[stage].push(done - t);
      down[stage].push(JSON.stringify(request).length);
      if (reply.ok) {
        const data: unknown = reply.data;
        up[stage].push(stage === 'mask' ? (data as { frame: Uint8Array }).frame.byteLength : JSON.stringify(data).length);
      }
      if (stage === 'unmask') tabs.delete(index);
      p.benchMs += performance.now() - done;
      return reply;
    });
    turn = answered.then(nextTurn, nextTurn);
    return answered;
  };

  try {
    return await measureRound();
  } finally {
    // The wrappers record only while a cost row runs (the accuracy part's simulations run through them too).
    probe = null;
  }

  async function measureRound(): Promise<CostRow> {
    fullGc();
    const t0 = performance.now();
    const result = await runSecureRound({
      runId: RUN_ID,
      round: ROUND,
      modelVersion: MODEL_VERSION,
      protocolVersion: PROTOCOL_VERSION,
      sessionId,
      roster: Array.from({ length: n }, (_, i) => String(i + 1)),
      threshold,
      ...(graph ? { graph } : {}),
      words,
      stageTimeoutMs: 10_000,
      minSurvivors: 3,
      ask,
    });
    const roundWallMs = performance.now() - t0;

    // The check: Σ of the survivors' ring words mod 2^32, word for word.
    const survivors = new Set(result.survivors.map(Number));
    if (survivors.size !== n - droppedCount || [...dropped].some((d) => survivors.has(d)))
      throw new Error(`n ${n}, k ${k}: the survivors are not the ${n - droppedCount} tabs that stayed`);
    const exact = sameWords(result.total, expected);
    if (!exact) throw new Error(`n ${n}, k ${k}: the unmasked total is NOT the plain sum of the survivors' inputs mod 2^32`);

    const hub = p.hub!;
    const answers = p.answers!;
    // More unmasking runs on the same answers, without a forced GC in between (a hub has none): the hub's own
    // unmask and the replica (the split), in an order that rotates every repetition.
    const replicaRuns: UnmaskSplit[] = [];
    const contenders = ['hub', 'replica'] as const;
    const runOnce = async (c: (typeof contenders)[number]) => {
      if (c === 'hub') {
        const again = await hub.unmask(answers);
        if (!sameWords(again, result.total)) throw new Error(`n ${n}, k ${k}: a repeated unmasking gave another total`);
        return;
      }
      const { correction, ...split } = await unmaskReplica(shamir, session, hub, answers);
      const rebuilt = Uint32Array.from(p.maskedSum);
      addWords(rebuilt, correction);
      if (!sameWords(rebuilt, result.total)) throw new Error(`n ${n}, k ${k}: the unmask replica does not reproduce the hub's total`);
      replicaRuns.push(split);
    };
    for (let rep = 0; rep < Math.max(1, hubReps); rep++)
      for (let j = 0; j < contenders.length; j++) {
        const c = contenders[(rep + j) % contenders.length]!;
        if (c === 'hub' && rep >= hubReps) continue;
        await runOnce(c);
      }
    await settle();
    const unmaskGc = p.unmask.map((u) => gcWithin(u.start, u.start + u.ms));
    const medianSplit = (runs: readonly UnmaskSplit[]): UnmaskSplit => ({
      ms: median(runs.map((r) => r.ms)),
      gc: { count: median(runs.map((r) => r.gc.count)), ms: median(runs.map((r) => r.gc.ms)) },
      selfMs: median(runs.map((r) => r.selfMs)),
      selfCombineMs: median(runs.map((r) => r.selfCombineMs)),
      pairMs: median(runs.map((r) => r.pairMs)),
      pairCombineMs: median(runs.map((r) => r.pairCombineMs)),
      pairMasks: runs[0]!.pairMasks,
      selfMasks: runs[0]!.selfMasks,
    });
    const replica = medianSplit(replicaRuns);

    const tabsMs = STAGES.reduce((a, s) => a + tabMs[s].reduce((x, y) => x + y, 0), 0);
    const med = (xs: readonly number[]) => median(xs);
    const bytesDown = Object.fromEntries(STAGES.map((s) => [s, med(down[s])])) as Record<SecAggStage, number>;
    const bytesUp = { advertise: med(up.advertise), share: med(up.share), unmask: med(up.unmask) };
    return {
      n,
      k,
      complete,
      threshold,
      dropped: droppedCount,
      survivors: result.survivors.length,
      words,
      tabMs: Object.fromEntries(
        STAGES.map((s) => [s, { median: med(tabMs[s]), p10: quantile(tabMs[s], 0.1), p90: quantile(tabMs[s], 0.9) }]),
      ) as CostRow['tabMs'],
      hub: {
        roundWallMs,
        tabsMs,
        benchMs: p.benchMs,
        hubMs: roundWallMs - tabsMs - p.benchMs,
        acceptSharesMs: p.acceptSharesMs,
        sumMs: p.sumMs,
        unmaskMs: p.unmask.map((u) => u.ms),
        eldMaxMs: p.unmask.map((u) => u.eldMaxMs),
        eldP99Ms: p.unmask.map((u) => u.eldP99Ms),
        eldMeanMs: p.unmask.map((u) => u.eldMeanMs),
        unmaskGc,
        heapMB: p.unmask.map((u) => u.heapMB),
        replica,
        replicaRuns,
      },
      bytes: {
        down: bytesDown,
        up: bytesUp,
        frame: med(up.mask),
        keyUp: bytesUp.advertise + bytesUp.share + bytesUp.unmask,
        keyDown: bytesDown.advertise + bytesDown.share + bytesDown.mask + bytesDown.unmask,
      },
      roundBytesUp: result.bytesUp,
      exact,
    };
  }
}

// ---- building blocks ----------------------------------------------------------------------------------------

interface BlockRow {
  readonly block: string;
  readonly ms: number;
  readonly note: string;
}

/** The primitives a mask and an unmasking are made of, each timed alone (interleaved, medians). */
async function buildingBlocks(
  shamir: Shamir,
  words: number,
  reps: number,
  dropout: number,
  groups: readonly { holders: number }[],
): Promise<BlockRow[]> {
  const key = randomSecret();
  const a = await x25519FromSecret(randomSecret());
  const b = await x25519FromSecret(randomSecret());
  const salt = randomSecret();
  const sum = new Uint32Array(words);
  const mask = await maskWords(key, words);
  const aes = await globalThis.crypto.subtle.importKey('raw', Uint8Array.from(key), { name: 'AES-CTR' }, false, ['encrypt']);
  const zeros = new Uint8Array(4 * words);
  const shares = new Map<number, Uint8Array[]>();
  for (const { holders } of groups) shares.set(holders, await shamir.split(randomSecret(), holders, Math.floor(holders / 2) + 1));
  const combineContenders = groups.flatMap(({ holders }) => {
    const t = Math.floor(holders / 2) + 1;
    // The threshold (what the hub combines), and what it combined before commit eed57f6: one share per surviving holder.
    return [`combine ${t} of ${holders}`, `combine ${holders - Math.round(dropout * (holders - 1))} of ${holders}`];
  });
  const contenders: string[] = [
    'maskWords',
    'AES-CTR keystream',
    'addWords',
    'X25519 shared secret',
    'HKDF',
    ...new Set(combineContenders),
  ];
  const run = async (c: string): Promise<number> => {
    const t = performance.now();
    if (c === 'maskWords') await maskWords(key, words);
    else if (c === 'AES-CTR keystream')
      await globalThis.crypto.subtle.encrypt({ name: 'AES-CTR', counter: new Uint8Array(16), length: 64 }, aes, zeros);
    else if (c === 'addWords') addWords(sum, mask);
    else if (c === 'X25519 shared secret') await x25519Shared(a.privateKey, b.publicKey);
    else if (c === 'HKDF') await hkdf(key, salt, utf8('tabula/secagg/v1/pair'), 32);
    else {
      const [, count, holders] = /^combine (\d+) of (\d+)$/.exec(c)!.map(Number);
      await shamir.combine(shares.get(holders!)!.slice(0, count));
    }
    return performance.now() - t;
  };
  for (const c of contenders) await run(c); // warm-up: the first call of each compiles and imports
  const samples = await interleave(contenders, reps, run);
  const notes: Record<string, string> = {
    maskWords: `one mask of ${words.toLocaleString('en-US')} words (crypto.ts: the AES-256-CTR keystream of a zero plaintext kept between calls, viewed in place as words)`,
    'AES-CTR keystream': `the WebCrypto encrypt alone, ${(4 * words).toLocaleString('en-US')} zero bytes`,
    addWords: 'adding one mask into a sum mod 2^32',
    'X25519 shared secret': 'importKey(raw) + deriveBits, as x25519Shared',
    HKDF: 'importKey + deriveBits, 32 bytes',
  };
  return contenders.map((c) => {
    const m = /^combine (\d+) of (\d+)$/.exec(c);
    const note = m
      ? `Shamir (GF(2^8)) rebuilding a 32-byte secret from ${m[1]} shares (threshold ${Math.floor(Number(m[2]) / 2) + 1} of ${m[2]} holders)`
      : notes[c]!;
    return { block: c, ms: median(samples[c] ?? []), note };
  });
}

// ---- accuracy -----------------------------------------------------------------------------------------------

interface SecureVariant {
  readonly name: string;
  readonly secure: { maxGroup: number; clip: number; maxExamples: number } | null;
}

interface AccuracyRun {
  readonly variant: string;
  readonly seed: number;
  /** The last round's accuracy of the global model on the trainers' own test data (in a secure run: from the masked extras). */
  readonly trainersAccuracy: number | null;
  readonly heldOutAccuracy: number | null;
  /** Meta-test of the held-out participants: the global model, and after 5 fine-tuning steps. */
  readonly metaTest: readonly number[];
  readonly roundMs: number;
  readonly bytesUpPerRound: number;
  readonly seconds: number;
}

interface RoundingRow {
  readonly variant: string;
  readonly scale: number;
  readonly weights: readonly [number, number];
  /** RMS of (secure mean − plain FedAvg mean) over RMS of the plain mean. */
  readonly relRms: number;
  readonly maxAbs: number;
  readonly clamped: number;
}

/** The rounding the ring adds to one aggregated update: first-round updates of `count` trainers, decoded both ways. */
async function roundingError(
  mnist: ReturnType<typeof loadMnist>,
  seed: number,
  count: number,
  variants: readonly SecureVariant[],
): Promise<RoundingRow[]> {
  const preset = presetRunConfig('shards', 'fedavg');
  const config = RunConfigSchema.parse({ ...preset, scenario: { ...preset.scenario!, seed }, seed });
  const updates = await firstRoundUpdates(config, mnist, count);
  const length = updates[0]!.delta.length;
  const plain = new Float64Array(length);
  const totalExamples = updates.reduce((a, u) => a + u.numExamples, 0);
  for (const u of updates) for (let i = 0; i < length; i++) plain[i]! += (u.numExamples * u.delta[i]!) / totalExamples;
  const rms = (f: (i: number) => number) => Math.sqrt(Array.from({ length }, (_, i) => f(i) ** 2).reduce((a, b) => a + b, 0) / length);
  const plainRms = rms((i) => plain[i]!);
  return variants.flatMap((variant) => {
    const terms = variant.secure;
    if (!terms) return [];
    const total = new Uint32Array(length + SECAGG_EXTRAS);
    let clamped = 0;
    updates.forEach((u, j) => {
      const input = secureInput(u.delta, u, terms, seededRandomSource(j + 1));
      clamped += input.clamped;
      addWords(total, input.words);
    });
    const scales = ringScales(terms.maxGroup, terms.clip);
    const { mean } = secureMean(total, length, scales, updates.length, terms.maxExamples);
    let maxAbs = 0;
    for (let i = 0; i < length; i++) maxAbs = Math.max(maxAbs, Math.abs(mean[i]! - plain[i]!));
    const ws = updates.map((u) => Math.min(u.numExamples, terms.maxExamples) / terms.maxExamples);
    return [
      {
        variant: variant.name,
        scale: scales.value,
        weights: [Math.min(...ws), Math.max(...ws)] as const,
        relRms: rms((i) => mean[i]! - plain[i]!) / plainRms,
        maxAbs,
        clamped,
      },
    ];
  });
}

async function accuracyRun(
  mnist: ReturnType<typeof loadMnist>,
  variant: SecureVariant,
  seed: number,
  rounds: number,
): Promise<{ run: AccuracyRun; result: SimResult }> {
  const preset = presetRunConfig('shards', 'fedavg');
  const input: RunConfigInput = {
    ...preset,
    scenario: { ...preset.scenario!, seed },
    seed,
    rounds,
    ...(variant.secure ? { secureAggregation: variant.secure } : {}),
  };
  const t = performance.now();
  const result = await runSimulation(input, { engine: 'fast', mnist, metaTestSteps: [0, 5] });
  const last = result.rounds.at(-1)!;
  return {
    run: {
      variant: variant.name,
      seed,
      trainersAccuracy: last.global,
      heldOutAccuracy: last.heldOutGlobal,
      metaTest: result.metaTest.mean,
      roundMs: median(result.rounds.map((r) => r.ms)),
      bytesUpPerRound: median(result.rounds.map((r) => r.bytesUp)),
      seconds: (performance.now() - t) / 1000,
    },
    result,
  };
}

// ---- main ---------------------------------------------------------------------------------------------------

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(2)}%`);
const pp = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} pp`;
const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
const ms = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x >= 10 ? 1 : 2));
/** A duration for prose: ms below a second, else seconds. */
const dur = (x: number) => (x < 1000 ? `${ms(x)} ms` : `${(x / 1000).toFixed(1)} s`);

async function main(): Promise<void> {
  const values = parseFlags(
    {
      parts: { type: 'string' },
      sizes: { type: 'string' },
      neighbours: { type: 'string' },
      parameters: { type: 'string' },
      dropout: { type: 'string' },
      'hub-reps': { type: 'string' },
      'block-reps': { type: 'string' },
      rounds: { type: 'string' },
      seeds: { type: 'string' },
    },
    HELP,
  );
  const quick = values.quick === true;
  const parts = (values.parts ?? PARTS.join(',')).split(',') as Part[];
  if (!parts.every((p) => PARTS.includes(p))) throw new Error(`--parts: of ${PARTS.join(',')}, got ${values.parts}`);
  const sizes = numberList(values.sizes ?? (quick ? '10,20' : '10,50,100,200'), 'sizes');
  const neighbours = positiveInt(values.neighbours ?? (quick ? '4' : '20'), 'neighbours');
  if (neighbours % 2 !== 0) throw new Error(`--neighbours: must be even, got ${neighbours}`);
  const parameters = positiveInt(values.parameters ?? (quick ? '5000' : String(federatedLength(MNIST_MLP, 'fedavg'))), 'parameters');
  const dropout = Number(values.dropout ?? '0.1');
  if (!(dropout >= 0 && dropout < 0.5)) throw new Error(`--dropout: expected a share in [0, 0.5), got ${values.dropout}`);
  const hubReps = Number(values['hub-reps'] ?? (quick ? '1' : '2'));
  if (!(Number.isInteger(hubReps) && hubReps >= 0)) throw new Error(`--hub-reps: expected an integer ≥ 0, got ${values['hub-reps']}`);
  const blockReps = positiveInt(values['block-reps'] ?? (quick ? '3' : '15'), 'block-reps');
  const rounds = positiveInt(values.rounds ?? (quick ? '3' : '30'), 'rounds');
  const seeds = positiveInt(values.seeds ?? (quick ? '1' : '2'), 'seeds');
  const started = performance.now();
  const shamir = await loadShamir();
  const words = parameters + SECAGG_EXTRAS;
  // The run before the fixes (BEFORE_FIXES) had the default flags; other flags measure something else.
  const comparable = parameters === federatedLength(MNIST_MLP, 'fedavg') && dropout === 0.1;
  // SecAgg+ from 50 tabs on (privacy.md §2.9: the complete graph up to ~30 tabs); in quick mode wherever k < n − 1.
  const rowsPlan = sizes.flatMap((n) => [
    { n, degree: null as number | null },
    ...(neighbours < n - 1 && (quick || n >= 50) ? [{ n, degree: neighbours }] : []),
  ]);

  const tables: Table[] = [];
  const headline: string[] = [];
  const notes: string[] = [];
  const rows: CostRow[] = [];
  let blocks: BlockRow[] = [];
  const runs: AccuracyRun[] = [];
  let rounding: RoundingRow[] = [];

  if (parts.includes('cost')) {
    console.log(
      `secagg cost: L = ${parameters.toLocaleString('en-US')} + ${SECAGG_EXTRAS} words, ${Math.round(100 * dropout)} % dropouts after the share stage, rows ${rowsPlan.map((r) => `n ${r.n} k ${r.degree ?? r.n - 1}`).join(' · ')}`,
    );
    for (const plan of rowsPlan) {
      const t = performance.now();
      const row = await costRow(shamir, plan.n, plan.degree, parameters, dropout, hubReps);
      rows.push(row);
      console.log(
        `n ${row.n} k ${row.k} t ${row.threshold}: tab mask ${ms(row.tabMs.mask.median)} ms, share ${ms(row.tabMs.share.median)} ms; hub unmask ${row.hub.unmaskMs.map(ms).join(' / ')} ms (self ${ms(row.hub.replica.selfMs)}, pairwise ${ms(row.hub.replica.pairMs)}), longest block ${ms(Math.max(...row.hub.eldMaxMs))} ms; exact: ${row.exact ? 'yes' : 'NO'} · ${((performance.now() - t) / 1000).toFixed(0)} s`,
      );
      fullGc();
    }
    blocks = await buildingBlocks(
      shamir,
      words,
      blockReps,
      dropout,
      [...new Set(rows.map((r) => r.k + 1))].filter((h) => h >= 3).map((holders) => ({ holders })),
    );

    const kLabel = (r: CostRow) => `${r.k}${r.complete ? ' (all)' : ''}`;
    tables.push({
      title: `Cost of one secure aggregation, ms: L = ${parameters.toLocaleString('en-US')} parameters + ${SECAGG_EXTRAS} extras, ${Math.round(100 * dropout)} % of the tabs leave after the share stage`,
      columns: [
        'n',
        'k',
        't',
        'dropped',
        'tab: advertise',
        'tab: share',
        'tab: mask',
        'tab: unmask',
        'hub: sum',
        'hub: unmask',
        '… self-masks (replica)',
        '… dropped pairwise masks (replica)',
        '… of which Shamir',
        'hub: rest',
        'round wall',
        'exact',
      ],
      rows: rows.map((r) => [
        r.n,
        kLabel(r),
        r.threshold,
        r.dropped,
        ms(r.tabMs.advertise.median),
        ms(r.tabMs.share.median),
        `${ms(r.tabMs.mask.median)} (${ms(r.tabMs.mask.p10)}–${ms(r.tabMs.mask.p90)})`,
        ms(r.tabMs.unmask.median),
        ms(r.hub.sumMs),
        ms(median(r.hub.unmaskMs)),
        `${ms(r.hub.replica.selfMs)} (${Math.round((100 * r.hub.replica.selfMs) / r.hub.replica.ms)} %)`,
        `${ms(r.hub.replica.pairMs)} (${Math.round((100 * r.hub.replica.pairMs) / r.hub.replica.ms)} %, ${r.hub.replica.pairMasks} masks)`,
        ms(r.hub.replica.selfCombineMs + r.hub.replica.pairCombineMs),
        ms(r.hub.hubMs - r.hub.sumMs - r.hub.unmaskMs[0]!),
        `${(r.hub.roundWallMs / 1000).toFixed(1)} s`,
        r.exact ? 'yes' : 'NO',
      ]),
      note: `tab: one tab's answer to one stage through SecureContribution.answer (schema validation, base64, WebCrypto, Shamir, the masked wire frame), median over the tabs that answered (mask: 10th–90th percentile in brackets); the mask stage includes opening the k sealed shares. hub: sum = folding every masked input into the running sum (SecAggAggregator.acceptMasked, all survivors together); unmask = SecAggAggregator.unmask, median of ${1 + hubReps} runs (the round's own and ${hubReps} more on the same answers); its split into rebuilding the survivors' self-masks and the dropped tabs' keys plus the pairwise masks they left comes from a replica of unmask built from the same primitives (checked to give the same total; median of ${Math.max(1, hubReps)} runs, interleaved with the hub's), with each part's share of the replica's time in brackets and the Shamir combines of both in their own column; the replica runs in the same process after the round, so its absolute times move with V8's GC state as the hub's repeated runs do (see the event-loop table), and its shares are the figures to read; rest = the round's wall time minus every tab's answer, the sum, the first unmask and this benchmark's bookkeeping (building requests, validating answers, decoding frames, relaying shares). round wall = runSecureRound with the tabs answering one at a time. exact = the unmasked total equals the plain sum of the survivors' ring words mod 2^32.`,
    });
    tables.push({
      title: 'Bytes per tab: key material (JSON text, as the stage events carry it) against the masked frame',
      columns: [
        'n',
        'k',
        'down: advertise',
        'down: share (neighbours’ keys)',
        'down: mask (shares)',
        'down: unmask (lists)',
        'up: advertise',
        'up: share (sealed)',
        'up: unmask (shares)',
        'key material down',
        'key material up',
        'masked frame up',
        'key material / frame',
      ],
      rows: rows.map((r) => [
        r.n,
        kLabel(r),
        r.bytes.down.advertise,
        r.bytes.down.share,
        r.bytes.down.mask,
        r.bytes.down.unmask,
        r.bytes.up.advertise,
        r.bytes.up.share,
        r.bytes.up.unmask,
        kb(r.bytes.keyDown),
        kb(r.bytes.keyUp),
        kb(r.bytes.frame),
        `${((100 * (r.bytes.keyUp + r.bytes.keyDown)) / r.bytes.frame).toFixed(1)} %`,
      ]),
      note: "Medians over the tabs asked each stage, in bytes: JSON.stringify of each request and answer (keys, IVs, sealed shares and shares are base64, about 4/3 of their raw bytes, plus field names); the masked frame is the binary `masked` wire frame of 4·(L + 6) bytes plus its header. The share stage (down) carries the keys of the tab and its k neighbours, and the group's indices (a few bytes per tab): an earlier version sent every tab's keys to every tab, 25 KB of the 29 KB a tab received at n = 200, k = 20. design/privacy.md §2.10's estimate counts raw bytes (≈ 6.5 KB at k = 20, ≈ 64 KB at k = 199).",
    });
    tables.push({
      title: "The hub's event loop while it unmasks (monitorEventLoopDelay, 1 ms resolution)",
      columns: [
        'n',
        'k',
        'dropped',
        'unmask runs, ms',
        'longest block, ms',
        'p99 delay, ms',
        'mean delay, ms',
        'GC pauses, ms (count)',
        'heap used, MB',
      ],
      rows: rows.map((r) => [
        r.n,
        kLabel(r),
        r.dropped,
        r.hub.unmaskMs.map(ms).join(' / '),
        r.hub.eldMaxMs.map(ms).join(' / '),
        r.hub.eldP99Ms.map(ms).join(' / '),
        r.hub.eldMeanMs.map(ms).join(' / '),
        r.hub.unmaskGc.map((g) => `${ms(g.ms)} (${g.count})`).join(' / '),
        r.hub.heapMB.map((x) => x.toFixed(0)).join(' / '),
      ]),
      note: "One value per run of SecAggAggregator.unmask (the round's own first, then the repetitions). The longest block is the largest delay a 1 ms timer saw: the longest the event loop went without a turn while the hub unmasked; p99 and mean are over the timer's samples (about 1 ms is no delay at all). AES-CTR, X25519 and HKDF run on libuv's thread pool (WebCrypto is asynchronous in Node), so the loop turns between masks; what holds it are the synchronous stretches between two awaits (a Shamir combine, adding a mask into the total), garbage collection, and, on 2 cores, the main thread waiting for a core while the thread pool's workers run. GC pauses: the stop-the-world pauses perf_hooks reports (count in brackets); V8's incremental marking steps between them are not in it. Heap used: V8's heap when the run began (this process has core's modules, TensorFlow.js among them, loaded; no tab's state is alive by then), which every full collection marks.",
    });
    const beforeRows = BEFORE_FIXES.map((b): Cell[] | null => {
      const r = comparable ? rows.find((x) => x.n === b.n && x.k === b.k) : undefined;
      if (!r) return null;
      const now = median(r.hub.unmaskMs);
      const shamirNow = r.hub.replica.selfCombineMs + r.hub.replica.pairCombineMs;
      return [
        b.n,
        kLabel(r),
        ms(b.hubUnmask),
        ms(now),
        `${(b.hubUnmask / now).toFixed(2)}×`,
        `${ms(b.shamir)} / ${ms(shamirNow)}`,
        ms(b.tabMask),
        ms(r.tabMs.mask.median),
        `${(b.tabMask / r.tabMs.mask.median).toFixed(2)}×`,
      ];
    }).filter((x): x is Cell[] => x !== null);
    if (beforeRows.length)
      tables.push({
        title: 'Before and after the fixes this benchmark led to (commit eed57f6), ms',
        columns: [
          'n',
          'k',
          'hub: unmask, before',
          'hub: unmask, now',
          'before ÷ now',
          '… of which Shamir, before / now',
          'tab: mask, before',
          'tab: mask, now',
          'before ÷ now',
        ],
        rows: beforeRows,
        note: "Before: this benchmark's run of 2026-11-30T16:55Z on this machine (BEFORE_FIXES in bench/secagg.ts; medians as in the cost table, Shamir = the replica's combines), when maskWords allocated three buffers of 4·(L + 6) bytes per mask (a fresh zero plaintext, WebCrypto's keystream, and words copied out of it through a DataView loop) and SecAggAggregator.unmask handed Shamir's combine every share it held of a secret (one per surviving holder) instead of threshold many. Now: maskWords encrypts one module-level zero plaintext, kept between calls, and views WebCrypto's keystream as words in place (the DataView copy remains for big-endian hosts only), and unmask combines the first threshold shares of each secret. A tab's mask stage calls maskWords k + 1 times, so it gains from the first fix too. Two runs on a shared machine: read the ratios to tens of percent. The complete graph at n = 200 (3,780 masks) depends on V8's collection pattern more than anything: each mask's keystream is still a fresh 318 KB ArrayBuffer, and V8 answers that external memory with full mark-compacts of the whole heap ('GC in old space requested' under --trace-gc: about 1,550 of them in a run of the two rows n = 200, k = 199 and 198), whose number and cost vary from run to run. Extra runs of that row, each in its own process on 2026-11-30, took 3,362, 3,280 and 8,088 ms with the code before the fixes (commit 0f5691e) and 4,253, 4,545, 4,305 ms, then 2,224, 4,172, 5,304 ms with the fixed code: the before run's 3.3 s was the old code's fast pattern, and one median of three there does not measure the fixes.",
      });
    const designRows = DESIGN.map((d): Cell[] | null => {
      const r = rows.find((x) => x.n === d.n && x.k === d.k);
      const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
      return r
        ? [
            d.n,
            d.k,
            `${d.dropped} / ${r.dropped}`,
            `${d.tabMask + d.tabDecrypt} / ${ms(r.tabMs.mask.median)} (${ratio(r.tabMs.mask.median, d.tabMask + d.tabDecrypt)})`,
            `${d.tabStage1} / ${ms(r.tabMs.share.median)} (${ratio(r.tabMs.share.median, d.tabStage1)})`,
            `${d.hubSum} / ${ms(r.hub.sumMs)} (${ratio(r.hub.sumMs, d.hubSum)})`,
            `${d.hubSelf} / ${ms(r.hub.replica.selfMs)} (${ratio(r.hub.replica.selfMs, d.hubSelf)})`,
            `${d.hubPairwise.toLocaleString('en-US')} / ${ms(r.hub.replica.pairMs)} (${ratio(r.hub.replica.pairMs, d.hubPairwise)})`,
            `${(d.hubSelf + d.hubPairwise).toLocaleString('en-US')} / ${ms(median(r.hub.unmaskMs))} (${ratio(median(r.hub.unmaskMs), d.hubSelf + d.hubPairwise)})`,
          ]
        : null;
    }).filter((x): x is Cell[] => x !== null);
    if (designRows.length)
      tables.push({
        title: 'Against design/privacy.md §2.10 (design / measured here, ms, and measured ÷ design)',
        columns: [
          'n',
          'k',
          'dropped',
          'tab: mask + decrypt shares',
          'tab: stage 1 (share)',
          'hub: sum',
          'hub: self-masks',
          'hub: dropped pairwise',
          'hub: unmask',
        ],
        rows: designRows,
        note: 'The design measured a single-process prototype of the protocol with L = 79,511 words and its own dropout counts (3 of 10 at n = 10); here the shipped code, through its wire layer, with L + 6 words and 10 % dropouts. Its tab columns "mask" and "decrypt shares" are one stage here (the mask stage opens the shares first), so they are compared summed.',
      });
    tables.push({
      title: 'Building blocks, ms (medians of interleaved repetitions)',
      columns: ['block', 'ms', 'what'],
      rows: blocks.map((b) => [b.block, ms(b.ms), b.note]),
    });

    const at = (n: number, complete: boolean) => rows.find((r) => r.n === n && r.complete === complete && (complete || r.k === neighbours));
    const big = at(Math.max(...sizes), false);
    const bigAll = at(Math.max(...sizes), true);
    if (big)
      headline.push(
        `n = ${big.n}, k = ${big.k}, ${big.dropped} dropped: hub unmasking ${ms(median(big.hub.unmaskMs))} ms (runs ${big.hub.unmaskMs.map(ms).join(' / ')}; design guard, privacy.md §2.11: under ${GUARD_MS.toLocaleString('en-US')} ms: ${Math.max(...big.hub.unmaskMs) < GUARD_MS ? 'met in every run' : median(big.hub.unmaskMs) < GUARD_MS ? 'met by the median' : 'NOT met'}); a tab's mask stage ${ms(big.tabMs.mask.median)} ms`,
      );
    if (bigAll)
      headline.push(
        `n = ${bigAll.n}, complete graph (k = ${bigAll.k}): hub unmasking ${dur(median(bigAll.hub.unmaskMs))} (runs ${bigAll.hub.unmaskMs.map(dur).join(' / ')}; ${Math.round((100 * bigAll.hub.replica.pairMs) / bigAll.hub.replica.ms)} % of it goes to rebuilding the ${bigAll.hub.replica.pairMasks.toLocaleString('en-US')} pairwise masks the ${bigAll.dropped} dropped tabs left), a tab's mask stage ${ms(bigAll.tabMs.mask.median)} ms, its share stage ${ms(bigAll.tabMs.share.median)} ms`,
      );
    const worstBlock = Math.max(...rows.flatMap((r) => r.hub.eldMaxMs));
    const worstRow = rows.find((r) => r.hub.eldMaxMs.includes(worstBlock))!;
    headline.push(
      `event loop during unmasking: longest gap between two turns ${ms(worstBlock)} ms (n = ${worstRow.n}, k = ${worstRow.k}, while unmasking took ${dur(median(worstRow.hub.unmaskMs))}): ${worstBlock < 100 ? 'the loop keeps turning, so unmasking need not move off it for responsiveness; its cost is time and CPU (GC pauses in the event-loop table)' : 'long enough to delay other sockets noticeably'}`,
    );
    if (big)
      headline.push(
        `key material per tab at n = ${big.n}, k = ${big.k}: ${kb(big.bytes.keyDown)} down + ${kb(big.bytes.keyUp)} up, ${((100 * (big.bytes.keyUp + big.bytes.keyDown)) / big.bytes.frame).toFixed(1)} % of the ${kb(big.bytes.frame)} masked frame${bigAll ? `; complete graph: ${kb(bigAll.bytes.keyDown)} + ${kb(bigAll.bytes.keyUp)} (${((100 * (bigAll.bytes.keyUp + bigAll.bytes.keyDown)) / bigAll.bytes.frame).toFixed(0)} %)` : ''}`,
      );
    headline.push(
      `every row's unmasked total equalled the plain sum of the survivors' ring words mod 2^32 (${rows.length} of ${rows.length} exact)`,
    );
  }

  if (parts.includes('accuracy')) {
    const mnist = loadMnist();
    const preset = presetRunConfig('shards', 'fedavg');
    const perRound = preset.perRound ?? 10;
    const variants: SecureVariant[] = [
      { name: 'plain FedAvg', secure: null },
      { name: `secure, maxExamples 200`, secure: { maxGroup: perRound, clip: 1, maxExamples: 200 } },
      { name: 'secure, maxExamples 10,000 (default)', secure: { maxGroup: perRound, clip: 1, maxExamples: 10_000 } },
      { name: 'secure, maxGroup 100 and maxExamples 10,000 (defaults)', secure: { maxGroup: 100, clip: 1, maxExamples: 10_000 } },
    ];
    console.log(`\nsecagg accuracy: MNIST shards, FedAvg preset, ${rounds} rounds, seeds 1..${seeds}, ${variants.length} variants`);
    const examples = createScenario({ ...preset.scenario!, seed: 1 }, mnist);
    const counts: number[] = [];
    for (let i = 0; i < examples.participants; i++) {
      const d = examples.participant(i);
      counts.push(d.support.count + d.query.count);
    }
    const heldOutTests = examples.heldOut.reduce((a, i) => a + examples.participant(i).test.count, 0);
    for (let seed = 1; seed <= seeds; seed++) {
      // The order rotates every seed, so no variant always runs first.
      for (let j = 0; j < variants.length; j++) {
        const variant = variants[(seed - 1 + j) % variants.length]!;
        const { run } = await accuracyRun(mnist, variant, seed, rounds);
        runs.push(run);
        console.log(
          `seed ${seed}, ${variant.name}: trainers ${pct(run.trainersAccuracy)}, held-out ${pct(run.heldOutAccuracy)}, meta-test ${run.metaTest.map((m) => pct(m)).join(' / ')}, ${ms(run.roundMs)} ms/round · ${run.seconds.toFixed(0)} s`,
        );
      }
    }
    rounding = await roundingError(mnist, 1, perRound, variants);
    const plainOf = (seed: number) => runs.find((r) => r.seed === seed && r.variant === variants[0]!.name)!;
    const accRows: Cell[][] = [];
    for (const variant of variants)
      for (let seed = 1; seed <= seeds; seed++) {
        const r = runs.find((x) => x.seed === seed && x.variant === variant.name)!;
        const p = plainOf(seed);
        const isPlain = variant.secure === null;
        accRows.push([
          variant.name,
          seed,
          pct(r.trainersAccuracy),
          pct(r.heldOutAccuracy),
          pct(r.metaTest[0]!),
          pct(r.metaTest[1]!),
          isPlain ? '–' : pp(r.metaTest[0]! - p.metaTest[0]!),
          isPlain ? '–' : pp(r.metaTest[1]! - p.metaTest[1]!),
          Math.round(r.roundMs),
          isPlain ? '1' : `${(r.roundMs / p.roundMs).toFixed(2)}×`,
          kb(r.bytesUpPerRound),
        ]);
      }
    tables.push({
      title: `Accuracy with and without secure aggregation, same seeds: MNIST shards, FedAvg, ${preset.scenario!.participants} participants, ${perRound} per round, ${rounds} rounds`,
      columns: [
        'variant',
        'seed',
        'last round: trainers',
        'last round: held-out',
        'meta-test: global model',
        'meta-test: 5 steps',
        'vs plain (global)',
        'vs plain (5 steps)',
        'ms / round',
        'vs plain',
        'bytes up / round',
      ],
      rows: accRows,
      note: `presetRunConfig('shards', 'fedavg') with the seed as both the scenario's and the run's seed; runSimulation, fast engine. Secure variants add secureAggregation { maxGroup, clip 1, maxExamples }: each of the ${perRound} trainers a round quantises w·Δ (w = min(examples, maxExamples) / maxExamples) into the ring and the four stages run in process (no dropouts). The participants train on ${Math.min(...counts)}–${Math.max(...counts)} examples each (support + query), so maxExamples 200 gives w ≈ ${(Math.min(...counts) / 200).toFixed(2)}–${(Math.max(...counts) / 200).toFixed(2)} and 10,000 gives w ≈ ${(Math.min(...counts) / 10_000).toFixed(4)}. last round: the global model's accuracy on the trainers' own test data (in a secure run from the masked extras) and on the held-out participants'; meta-test: the ${examples.heldOut.length} held-out participants after the last round, with the global model and after 5 fine-tuning steps (seed 1: ${heldOutTests} test digits in all, so one digit is ${(100 / heldOutTests).toFixed(2)} pp). A tab rounds stochastically with the platform CSPRNG (participant.ts), so secure runs are not bit-reproducible: a repeated run can move a digit or two. ms / round: median over rounds of the round's wall time (training and, in secure runs, the four stages for ${perRound} tabs), ratio to the plain run of the same seed.`,
    });
    tables.push({
      title: `Rounding added by the ring to one aggregated update (first-round updates of ${perRound} trainers, seed 1)`,
      columns: ['variant', 'scale S', 'weights w', 'RMS error / RMS of the mean', 'max |error|', 'clamped coordinates'],
      rows: rounding.map((r) => [
        r.variant,
        `2^${Math.log2(r.scale)}`,
        `${r.weights[0].toPrecision(3)}–${r.weights[1].toPrecision(3)}`,
        r.relRms.toExponential(2),
        r.maxAbs.toExponential(2),
        r.clamped,
      ]),
      note: 'The plain FedAvg mean Σ n·Δ / Σ n in float64 against secureMean of the summed ring words of the same updates (secureInput with stochastic rounding). Each tab rounds w·Δ to a step of 1/S, so the error of the mean is about one step / (S·Σw) per coordinate: a smaller w (a maxExamples far above the real counts) or a larger maxGroup (a smaller S) coarsens it.',
    });
    const secureRuns = variants.filter((v) => v.secure !== null);
    for (const v of secureRuns) {
      const diffs = Array.from({ length: seeds }, (_, i) => {
        const r = runs.find((x) => x.seed === i + 1 && x.variant === v.name)!;
        return r.metaTest[0]! - plainOf(i + 1).metaTest[0]!;
      });
      const ratios = Array.from({ length: seeds }, (_, i) => {
        const r = runs.find((x) => x.seed === i + 1 && x.variant === v.name)!;
        return r.roundMs / plainOf(i + 1).roundMs;
      });
      headline.push(
        `accuracy, ${v.name}: held-out meta-test of the global model ${diffs.map(pp).join(', ')} against plain FedAvg (seeds 1..${seeds}); round time ${median(ratios).toFixed(2)}× plain`,
      );
    }
  }

  for (const t of tables) printTable(t);

  notes.push(
    'How the round is driven: runSecureRound (the hub code) asks each tab over an in-process `ask` that calls that tab\'s SecureContribution.answer with the request object (its strings are what the socket events carry), exactly as the simulation does, except that the tabs answer one at a time (the next starts after an event-loop turn) so that each answer\'s wall time is its own. Tabs chosen by a seeded draw leave after the share stage: their `ask` of the mask stage rejects ("closed its socket"), so they are counted as dropped, and the hub rebuilds their keys. Timeouts are not exercised (answers come in process).',
    "Hub timings come from wrapping SecAggAggregator's acceptShares, acceptMasked and unmask in this benchmark (the shipped methods run unchanged inside the wrappers). The event-loop delay is recorded inside the unmask wrapper.",
    "Each tab's input: a Gaussian delta (std 0.01) and an example count quantised by secureInput at clip 1, maxGroup n, maxExamples 200, stochastic rounding from a seeded source.",
  );
  if (rows.length) {
    const big = rows.find((r) => r.n === Math.max(...sizes) && !r.complete);
    const bigAll = rows.find((r) => r.n === Math.max(...sizes) && r.complete);
    const worstBlock = Math.max(...rows.flatMap((r) => r.hub.eldMaxMs));
    const describe = (r: CostRow) =>
      `at n = ${r.n}, k = ${r.k} the unmask runs took ${r.hub.unmaskMs.map(dur).join(', ')}, with gaps of at most ${r.hub.eldMaxMs.map(ms).join(', ')} ms (p99 ${r.hub.eldP99Ms.map(ms).join(', ')} ms) and ${r.hub.unmaskGc.map((g) => `${ms(g.ms)} ms`).join(', ')} of stop-the-world GC pauses (${r.hub.unmaskGc.map((g) => g.count).join(', ')} collections)`;
    notes.push(
      `Off the event loop? Measured: ${[bigAll, big]
        .filter((r): r is CostRow => r !== undefined)
        .map(describe)
        .join(
          '; ',
        )}. Unmasking is asynchronous: AES-CTR, X25519 and HKDF run on libuv's thread pool, and the loop turns between masks, so the longest gap anywhere here (${ms(worstBlock)} ms) is far below anything a socket notices (socket.io's heartbeat allows 20 s; acks and stage timeouts are in seconds). It does not need worker_threads to keep the hub responsive. What it costs is time and CPU: the thread pool's 4 workers compete with the main thread for 2 cores, and every mask's keystream is a fresh ${kb(4 * words)} ArrayBuffer that V8 counts as external memory, so thousands of masks bring full collections of the hub's whole heap (the GC pauses above). Fewer masks cut all of it (SecAgg+ beyond ~50 tabs, privacy.md §2.9).`,
    );
    const after = (r: CostRow | undefined) => {
      const b = r && BEFORE_FIXES.find((x) => x.n === r.n && x.k === r.k);
      return r && b ? `${ms(b.hubUnmask)} → ${ms(median(r.hub.unmaskMs))} ms at n = ${r.n}, k = ${r.k}` : null;
    };
    const fixed = [bigAll, big].map(after).filter((x): x is string => x !== null);
    const combineOf = (holders: number) => {
      const t = blocks.find((b) => b.block === `combine ${Math.floor(holders / 2) + 1} of ${holders}`);
      const all = blocks.find((b) => b.block.startsWith('combine ') && b.block.endsWith(` of ${holders}`) && b !== t);
      return t && all
        ? `; one combine with the threshold's ${t.block.split(' ')[1]} shares costs ${ms(t.ms)} ms against ${ms(all.ms)} ms with the ${all.block.split(' ')[1]} it used to combine (one per surviving holder of ${holders})`
        : '';
    };
    notes.push(
      `Found by this benchmark and fixed (commit eed57f6; the before-and-after table): maskWords allocated three buffers of 4·(L + 6) bytes (${kb(4 * words)}) per mask, so a hub rebuilding thousands of masks spent much of its time collecting garbage; it now keeps one all-zero plaintext between calls and reads WebCrypto's keystream in place as words. And SecAggAggregator.unmask combined every share it held of a secret, at a cost in the square of their number (GF(2^8) Lagrange interpolation); it now combines the first threshold of them (each rebuilt mask key is still checked against the advertised one). Hub unmasking, median${comparable && fixed.length ? `: ${fixed.join('; ')}` : ' (not comparable: these flags differ from the run before the fixes)'}${bigAll ? combineOf(bigAll.k + 1) : ''}.`,
    );
  }

  finish({
    name: 'secagg',
    title: 'Secure aggregation: tab and hub cost, and accuracy with and without it',
    description:
      "What secure aggregation (SecAgg / SecAgg+, design/privacy.md §2) costs a tab and the hub for 10, 50, 100 and 200 tabs per group with 10 % of them leaving after the share stage, on the complete graph and with SecAgg+ at k = 20, for the MNIST MLP's 79,510 parameters: each tab's time per stage, the hub's time to sum and to unmask (split into rebuilding self-masks and the dropped tabs' pairwise masks), the event-loop delay while it unmasks, and the bytes of key material against the masked frame; every total is checked to be the exact sum mod 2^32. Then accuracy on MNIST shards with FedAvg, the same seeds with and without secure aggregation, and the rounding the ring adds to an aggregated update. design/privacy.md §2.10's measured costs are the reference.",
    ...runInfo(started, quick),
    headline,
    tables,
    notes,
    data: { parameters, words, dropout, hubReps, blockReps, rounds, seeds, rows, blocks, runs, rounding, design: DESIGN },
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
