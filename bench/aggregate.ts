/**
 * bench/aggregate.ts — how fast the hub folds deltas into its streaming FedAvg, and how much memory that takes.
 *
 *   npx tsx bench/aggregate.ts [--params 79510,1600000] [--n 10,200] [--reps 7] [--mem-params 79510,1600000] [--quick]
 *
 * Why: every valid update the hub accepts is folded into a running weighted sum (`WeightedSum.add`, the
 * accumulator of `FedAvgStrategy`) on the hub's single event-loop thread. If folding were slow, it would cap
 * how many participants a round can have. The natural speed limit is a plain `acc[i] += w * d[i]` loop over
 * typed arrays, so Tabula's paths are measured against that loop in the same process, interleaved:
 *
 *   - plain f32: the axpy loop into a Float32Array accumulator (what DESIGN.md quotes, ~1.4 G params/s)
 *   - plain f64: the same loop into a Float64Array accumulator (what WeightedSum does, for order-independence)
 *   - WeightedSum.add: `new WeightedSum(P)` + N x `add(delta, examples)` (includes its per-add validation)
 *   - FedAvgStrategy: a FitBatch over `createAccumulator` + N x `add` + `aggregateFit` (mean + server SGD -> new weights)
 *
 * Round reuse: the hub's whole fold of one round (N x `FitBatch.addIfFinite` + `aggregateFit`) with a fresh FitBatch
 * per round (what the hub did: ~24 bytes per parameter of new buffers, ~45 MB per round at 1.6 M parameters) versus
 * the run's one FitBatch reset each round (what the round engine does). At 1.6 M parameters and 10 updates the fold
 * lost to DISCO's mean aggregator, most likely from those fresh buffers.
 *
 * Throughput is N*P folded parameters per second; ratios are to the plain loops (goal: >= 0.5 of plain f32).
 * Deltas are distinct, pre-generated vectors (a pool of ~64 MiB, cycled), so a contender never re-reads a delta
 * still in cache from its previous add.
 *
 * Memory: heap + arrayBuffers retained after folding N = 10, 50, 200 fresh deltas (as the hub decodes each
 * update into a fresh array) with WeightedSum, versus keeping every delta (what a non-streaming aggregator or
 * a robust rule such as trimmed mean must do). Streaming should stay flat at about 8 bytes per parameter.
 */
import { FedAvgStrategy, FitBatch, WeightedSum, type FitResult } from '../packages/core/src/aggregate/index.js';
import {
  MiB,
  parseFlags,
  runInfo,
  finish,
  gaussianVector,
  interleave,
  median,
  numberList,
  pairedRatio,
  positiveInt,
  printTable,
  retainedMemory,
  spread,
  type Table,
} from './lib.js';

const HELP = `Usage: npx tsx bench/aggregate.ts [options]
  --params LIST      parameter counts P                       [79510,1600000; quick 10000,100000]
  --n LIST           deltas folded per round N                [10,200; quick 5,20]
  --reps N           interleaved repetitions per contender    [7; quick 3]
  --mem-params LIST  P for the memory part                    [79510,1600000; quick 100000]
  --mem-n LIST       N for the memory part                    [10,50,200; quick 5,20]
  --pool-mib N       size of the pool of distinct deltas      [64; quick 8]
  --reuse-params N   P for the round-reuse part               [1600000; quick 100000]
  --reuse-n N        N for the round-reuse part               [10]
  --quick            small sizes: runs in seconds
  -h, --help`;

const MLP_PARAMS = 79_510; // MNIST 784-100-10

const CONTENDERS = ['plain f32', 'plain f64', 'WeightedSum.add', 'FedAvgStrategy'] as const;
type Contender = (typeof CONTENDERS)[number];

// The two reference loops: separate functions so each stays monomorphic for the JIT.
function axpy32(acc: Float32Array, d: Float32Array, w: number): void {
  const n = acc.length;
  for (let i = 0; i < n; i++) acc[i] = acc[i]! + w * d[i]!;
}
function axpy64(acc: Float64Array, d: Float32Array, w: number): void {
  const n = acc.length;
  for (let i = 0; i < n; i++) acc[i] = acc[i]! + w * d[i]!;
}

const REUSE = ['fresh FitBatch', 'reused FitBatch'] as const;
type Reuse = (typeof REUSE)[number];

interface ReuseRow {
  params: number;
  n: number;
  roundsPerSample: number;
  samplesMs: Record<Reuse, number[]>;
  msPerRound: Record<Reuse, number>;
}

/**
 * One hub round's fold, N updates of P parameters then aggregateFit, with a fresh FitBatch each round versus one
 * FitBatch reset each round. Interleaved, on distinct deltas from the pool.
 */
async function measureReuse(P: number, N: number, reps: number, poolMiB: number): Promise<ReuseRow> {
  const poolSize = Math.max(4, Math.min(512, Math.ceil((poolMiB * MiB) / (4 * P))));
  const pool = Array.from({ length: poolSize }, (_, k) => gaussianVector(P, 3000 + k));
  const global = gaussianVector(P, 11, 0.1);
  const results: FitResult[] = Array.from({ length: N }, (_, k) => ({
    participantId: `p${k}`,
    numExamples: 10 + ((k * 37) % 90),
    metrics: {},
  }));
  const strategy = new FedAvgStrategy({ seed: 1, perRound: N, optimizer: { kind: 'sgd', lr: 1 } });
  const kept = new FitBatch(strategy.createAccumulator(P));
  const roundsPerSample = Math.max(1, Math.round(40e6 / (N * P)));
  let cursor = 0;
  let sink = 0;
  const runOnce = (c: Reuse): number => {
    const t0 = performance.now();
    for (let r = 0; r < roundsPerSample; r++) {
      let fits: FitBatch;
      switch (c) {
        case 'fresh FitBatch':
          fits = new FitBatch(strategy.createAccumulator(P));
          break;
        case 'reused FitBatch':
          fits = kept;
          fits.reset();
          break;
        default: {
          const never: never = c;
          throw new Error(`unknown contender ${String(never)}`);
        }
      }
      for (let k = 0; k < N; k++)
        if (!fits.addIfFinite(pool[cursor++ % poolSize]!, results[k]!)) throw new Error('unreachable: a pool delta is not finite');
      const next = strategy.aggregateFit(1, global, fits);
      sink += next ? next[r % P]! : 0;
    }
    return performance.now() - t0;
  };
  for (const c of REUSE) runOnce(c); // warm-up
  const samplesMs = await interleave(REUSE, reps, runOnce);
  if (!Number.isFinite(sink)) throw new Error('unreachable: non-finite sink');
  const msPerRound = Object.fromEntries(REUSE.map((c) => [c, median(samplesMs[c]) / roundsPerSample])) as Record<Reuse, number>;
  return { params: P, n: N, roundsPerSample, samplesMs, msPerRound };
}

interface ThroughputRow {
  params: number;
  n: number;
  itersPerSample: number;
  poolSize: number;
  medianMs: Record<Contender, number>;
  samplesMs: Record<Contender, number[]>;
  paramsPerSec: Record<Contender, number>;
}

/**
 * heapUsed + arrayBuffers that `build` leaves reachable, after full GCs before and after: the result is held
 * while the second measurement runs, then released, so nothing from one measurement leaks into the next.
 */
function retainedAfter(build: () => unknown): number {
  const bytes = (m: { heapUsed: number; arrayBuffers: number }) => m.heapUsed + m.arrayBuffers;
  const before = retainedMemory();
  const held: unknown = build();
  const after = retainedMemory();
  // read after the measurement, so the result stays reachable through it; it is released when this returns
  if (held === undefined) throw new Error('unreachable');
  return bytes(after) - bytes(before);
}

interface MemoryRow {
  params: number;
  n: number;
  streamingBytes: number;
  keepAllBytes: number;
}

async function main(): Promise<void> {
  const values = parseFlags(
    {
      params: { type: 'string' },
      n: { type: 'string' },
      reps: { type: 'string' },
      'mem-params': { type: 'string' },
      'mem-n': { type: 'string' },
      'pool-mib': { type: 'string' },
      'reuse-params': { type: 'string' },
      'reuse-n': { type: 'string' },
    },
    HELP,
  );
  const quick = values.quick === true;
  const paramsList = numberList(values.params ?? (quick ? '10000,100000' : `${MLP_PARAMS},1600000`), 'params');
  const nList = numberList(values.n ?? (quick ? '5,20' : '10,200'), 'n');
  const reps = positiveInt(values.reps ?? (quick ? '3' : '7'), 'reps');
  const memParams = numberList(values['mem-params'] ?? (quick ? '100000' : `${MLP_PARAMS},1600000`), 'mem-params');
  const memN = numberList(values['mem-n'] ?? (quick ? '5,20' : '10,50,200'), 'mem-n');
  const poolMiB = positiveInt(values['pool-mib'] ?? (quick ? '8' : '64'), 'pool-mib');
  const reuseParams = positiveInt(values['reuse-params'] ?? (quick ? '100000' : '1600000'), 'reuse-params');
  const reuseN = positiveInt(values['reuse-n'] ?? '10', 'reuse-n');
  const started = performance.now();

  console.log(
    `aggregate: P ${paramsList.join(', ')} · N ${nList.join(', ')} · ${reps} interleaved reps · pool ${poolMiB} MiB of distinct deltas`,
  );

  // ---- throughput ---------------------------------------------------------------------------------------
  const rows: ThroughputRow[] = [];
  for (const P of paramsList) {
    const poolSize = Math.max(4, Math.min(512, Math.ceil((poolMiB * MiB) / (4 * P))));
    const pool = Array.from({ length: poolSize }, (_, k) => gaussianVector(P, 1000 + k));
    const global = gaussianVector(P, 7, 0.1);
    const strategyFor = new Map<number, FedAvgStrategy>();
    for (const N of nList) {
      // Enough work per sample (>= ~40 M parameters) that timer resolution and GC pauses do not dominate.
      const itersPerSample = Math.max(1, Math.round(40e6 / (N * P)));
      const weights = Array.from({ length: N }, (_, k) => 10 + ((k * 37) % 90)); // example counts 10..99
      const results: FitResult[] = weights.map((w, k) => ({ participantId: `p${k}`, numExamples: w, metrics: {} }));
      const strategy = strategyFor.get(N) ?? new FedAvgStrategy({ seed: 1, perRound: N, optimizer: { kind: 'sgd', lr: 1 } });
      strategyFor.set(N, strategy);
      let cursor = 0; // walks the pool so consecutive folds (and contenders) read different deltas
      let sink = 0; // keeps the JIT from discarding results
      const runOnce = (c: Contender): number => {
        const t0 = performance.now();
        for (let it = 0; it < itersPerSample; it++) {
          switch (c) {
            case 'plain f32': {
              const acc = new Float32Array(P);
              for (let k = 0; k < N; k++) axpy32(acc, pool[cursor++ % poolSize]!, weights[k]!);
              sink += acc[it % P]!;
              break;
            }
            case 'plain f64': {
              const acc = new Float64Array(P);
              for (let k = 0; k < N; k++) axpy64(acc, pool[cursor++ % poolSize]!, weights[k]!);
              sink += acc[it % P]!;
              break;
            }
            case 'WeightedSum.add': {
              const acc = new WeightedSum(P);
              for (let k = 0; k < N; k++) acc.add(pool[cursor++ % poolSize]!, weights[k]!);
              sink += acc.totalWeight;
              break;
            }
            case 'FedAvgStrategy': {
              const fits = new FitBatch(strategy.createAccumulator(P));
              for (let k = 0; k < N; k++) fits.add(pool[cursor++ % poolSize]!, results[k]!);
              const next = strategy.aggregateFit(1, global, fits);
              sink += next ? next[it % P]! : 0;
              break;
            }
            default: {
              const never: never = c;
              throw new Error(`unknown contender ${String(never)}`);
            }
          }
        }
        return performance.now() - t0;
      };
      for (const c of CONTENDERS) runOnce(c); // warm-up: JIT and first-touch page faults
      const samplesMs = await interleave(CONTENDERS, reps, runOnce);
      if (!Number.isFinite(sink)) throw new Error('unreachable: non-finite sink');
      const medianMs = Object.fromEntries(CONTENDERS.map((c) => [c, median(samplesMs[c])])) as Record<Contender, number>;
      const paramsPerSec = Object.fromEntries(CONTENDERS.map((c) => [c, (N * P * itersPerSample) / (medianMs[c] / 1000)])) as Record<
        Contender,
        number
      >;
      rows.push({ params: P, n: N, itersPerSample, poolSize, medianMs, samplesMs, paramsPerSec });
      console.log(
        `  P ${P.toLocaleString('en-US')} N ${N}: ${CONTENDERS.map((c) => `${c} ${(paramsPerSec[c] / 1e9).toFixed(2)} G/s (±${(50 * spread(samplesMs[c])).toFixed(0)}%)`).join(' · ')}`,
      );
    }
  }

  // ---- memory -------------------------------------------------------------------------------------------
  const memRows: MemoryRow[] = [];
  for (const P of memParams) {
    const source = Array.from({ length: 8 }, (_, k) => gaussianVector(P, 5000 + k));
    for (const N of memN) {
      const streaming = retainedAfter(() => {
        // Streaming: each update arrives as a fresh array (decodeFrame copies), is folded, and dropped.
        const acc = new WeightedSum(P);
        for (let k = 0; k < N; k++) acc.add(source[k % source.length]!.slice(), 10);
        return acc;
      });
      const keepAll = retainedAfter(() => {
        // Keep every delta: what an aggregator needs when it cannot stream (and the trimmed-mean rule does).
        const kept: Float32Array[] = [];
        for (let k = 0; k < N; k++) kept.push(source[k % source.length]!.slice());
        return kept;
      });
      memRows.push({ params: P, n: N, streamingBytes: streaming, keepAllBytes: keepAll });
      console.log(
        `  memory P ${P.toLocaleString('en-US')} N ${N}: streaming ${(streaming / MiB).toFixed(1)} MiB · keep all ${(keepAll / MiB).toFixed(1)} MiB`,
      );
    }
  }

  // ---- reuse across rounds -----------------------------------------------------------------------------
  const reuse = await measureReuse(reuseParams, reuseN, reps, poolMiB);
  const reuseSpeedup = pairedRatio(reuse.samplesMs['fresh FitBatch'], reuse.samplesMs['reused FitBatch']);
  console.log(
    `  round reuse P ${reuseParams.toLocaleString('en-US')} N ${reuseN}: ${REUSE.map((c) => `${c} ${reuse.msPerRound[c].toFixed(2)} ms/round`).join(' · ')} · reused ${reuseSpeedup.toFixed(2)}x as fast`,
  );

  // ---- report -------------------------------------------------------------------------------------------
  const g = (x: number) => x / 1e9;
  // Throughput ratio = time ratio, paired within each repetition (the contenders of one rep ran back to back).
  const ratio = (r: ThroughputRow, ours: Contender, plain: Contender) => pairedRatio(r.samplesMs[plain], r.samplesMs[ours]);
  const throughputTable: Table = {
    title: 'Folding N deltas of P parameters (median of interleaved reps; G parameters/s; ratio = Tabula / plain loop)',
    columns: ['P', 'N', 'plain f32', 'plain f64', 'WeightedSum.add', 'FedAvgStrategy', 'WS / f32', 'WS / f64', 'FedAvg / f32', 'spread'],
    rows: rows.map((r) => [
      r.params,
      r.n,
      g(r.paramsPerSec['plain f32']),
      g(r.paramsPerSec['plain f64']),
      g(r.paramsPerSec['WeightedSum.add']),
      g(r.paramsPerSec.FedAvgStrategy),
      ratio(r, 'WeightedSum.add', 'plain f32'),
      ratio(r, 'WeightedSum.add', 'plain f64'),
      ratio(r, 'FedAvgStrategy', 'plain f32'),
      `${(100 * Math.max(...CONTENDERS.map((c) => spread(r.samplesMs[c])))).toFixed(0)}%`,
    ]),
    note: "Ratios are medians over reps of the per-rep ratio (the contenders of one rep ran back to back). spread = largest (max - min) / median over the contenders' samples: a noise indicator for that row.",
  };
  const memoryTable: Table = {
    title: 'Hub memory retained after folding N updates (heapUsed + arrayBuffers after a full GC, MiB)',
    columns: ['P', 'N', 'WeightedSum (streaming)', 'keep every delta', 'keep-all / streaming', 'one f32 model copy'],
    rows: memRows.map((r) => [
      r.params,
      r.n,
      r.streamingBytes / MiB,
      r.keepAllBytes / MiB,
      r.keepAllBytes / r.streamingBytes,
      (4 * r.params) / MiB,
    ]),
    note: 'WeightedSum keeps a Float64Array sum: 8 bytes per parameter (two float32 model copies), whatever N is.',
  };
  const reuseTable: Table = {
    title: "One round's fold (N x FitBatch.addIfFinite + aggregateFit with server SGD): a fresh FitBatch per round vs one reset each round",
    columns: [
      'P',
      'N',
      'fresh ms/round',
      'reused ms/round',
      'fresh / reused',
      'fresh MiB allocated/round',
      'reused MiB allocated/round',
      'spread',
    ],
    rows: [
      [
        reuse.params,
        reuse.n,
        reuse.msPerRound['fresh FitBatch'],
        reuse.msPerRound['reused FitBatch'],
        reuseSpeedup,
        // fresh: the float64 sum and addIfFinite's float64 spare, plus the mean and the new weights (float32)
        (24 * reuse.params) / MiB,
        (8 * reuse.params) / MiB,
        `${(100 * Math.max(...REUSE.map((c) => spread(reuse.samplesMs[c])))).toFixed(0)}%`,
      ],
    ],
    note: 'fresh / reused is the median over reps of the per-rep time ratio: above 1, reuse is faster. Allocations are by construction, not measured.',
  };
  printTable(throughputTable);
  printTable(memoryTable);
  printTable(reuseTable);

  const worst = rows.reduce((a, r) => Math.min(a, ratio(r, 'WeightedSum.add', 'plain f32')), Number.POSITIVE_INFINITY);
  const worstFull = rows.reduce((a, r) => Math.min(a, ratio(r, 'FedAvgStrategy', 'plain f32')), Number.POSITIVE_INFINITY);
  const mlpRow = rows.find((r) => r.params === MLP_PARAMS) ?? rows[0]!;
  const headline = [
    `WeightedSum.add folds ${g(mlpRow.paramsPerSec['WeightedSum.add']).toFixed(2)} G params/s at P ${mlpRow.params.toLocaleString('en-US')}, N ${mlpRow.n} (plain f32 loop ${g(mlpRow.paramsPerSec['plain f32']).toFixed(2)}, plain f64 ${g(mlpRow.paramsPerSec['plain f64']).toFixed(2)})`,
    `worst ratio to the plain f32 loop: WeightedSum.add ${worst.toFixed(2)}, full FedAvgStrategy path ${worstFull.toFixed(2)} (goal >= 0.5): ${Math.min(worst, worstFull) >= 0.5 ? 'met' : 'NOT met'}`,
    `one round's fold at P ${reuse.params.toLocaleString('en-US')}, N ${reuse.n}: ${reuse.msPerRound['fresh FitBatch'].toFixed(1)} ms with fresh buffers, ${reuse.msPerRound['reused FitBatch'].toFixed(1)} ms reusing the run's FitBatch (${reuseSpeedup.toFixed(2)}x)`,
    ...memParams.map((P) => {
      const rs = memRows.filter((r) => r.params === P);
      return `memory at P ${P.toLocaleString('en-US')}: streaming ${rs.map((r) => (r.streamingBytes / MiB).toFixed(1)).join(' / ')} MiB vs keep-all ${rs.map((r) => (r.keepAllBytes / MiB).toFixed(1)).join(' / ')} MiB for N = ${rs.map((r) => r.n).join(' / ')}`;
    }),
  ];
  finish({
    name: 'aggregate',
    title: 'Aggregation: streaming FedAvg vs a plain axpy loop',
    description:
      "Folds N distinct pre-generated deltas of P parameters into the hub's streaming FedAvg accumulator (WeightedSum.add; and the full FedAvgStrategy path: createAccumulator + add + aggregateFit with server SGD) and into plain `acc[i] += w * d[i]` loops (Float32 and Float64 accumulators), interleaved in one process. Also the memory the hub retains after N updates: streaming vs keeping every delta; and one round's whole fold with a fresh FitBatch per round vs the run's one FitBatch reset each round (what the round engine does).",
    ...runInfo(started, quick),
    headline,
    tables: [throughputTable, memoryTable, reuseTable],
    notes: [
      "One core: the fold runs on the hub's event-loop thread, as in production. Timings on this shared 2-core machine are noisy; compare ratios within a row, not absolute numbers across runs.",
    ],
    data: { reps, poolMiB, rows, memRows, reuse },
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
