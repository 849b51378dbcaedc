/**
 * bench/codec.ts — what the wire codec costs and saves: bytes per update, encode/decode speed, and the accuracy
 * price of the lossy dtypes.
 *
 *   npx tsx bench/codec.ts [--reps 7] [--pool 32] [--sim-rounds 10] [--sim-participants 20] [--sim-per-round 5] [--no-sim] [--quick]
 *
 * Why: every round moves the model down to each participant and a delta back up, so frame size is the
 * hub's bandwidth bill, and encode/decode sit on the hub's event loop (decode, per update) and on each tab
 * (decode of the weights, encode of the delta). float16 halves and int8 quarters the upload; int8 uses one
 * scale per tensor and error feedback (EF-SGD) on the participant so its rounding error is carried to the next
 * round, not lost. This benchmark checks the sizes against 4·P + header, measures each dtype's speed in MB/s
 * of float32 input (interleaved, medians), and runs the same short federated simulation with each codec on the
 * same seed to show what the compression costs in accuracy.
 *
 * Sizes and speeds use the MNIST MLP (784-100-10, 79,510 parameters) with its real tensor segments
 * (segmentSizes(MNIST_MLP): 4 segments, so int8 carries 4 scales), and delta-like values: normal(0, 0.01).
 */
import { presetRunConfig } from '../packages/core/src/presets.js';
import { PROTOCOL_VERSION, type RunConfigInput } from '../packages/core/src/protocol.js';
import { MNIST_MLP } from '../packages/core/src/model/spec.js';
import { parameterCount, segmentSizes } from '../packages/core/src/model/layout.js';
import { ErrorFeedback, decodeFrame, encodeFrame, frameByteLength, type FrameDtype } from '../packages/core/src/wire/index.js';
import { loadMnist } from '../packages/core/src/data/mnist-node.js';
import { runSimulation, type SimResult } from '../packages/core/src/sim/simulation.js';
import { useBackend } from '../packages/core/src/tf.js';
import { MB, parseFlags, runInfo, finish, gaussianVector, interleave, median, positiveInt, printTable, spread, type Table } from './lib.js';

const HELP = `Usage: npx tsx bench/codec.ts [options]
  --reps N               interleaved repetitions per contender         [7; quick 3]
  --pool N               distinct deltas (and frames) cycled through    [32; quick 8]
  --sim-rounds N         rounds of the accuracy simulation              [10; quick 2]
  --sim-participants N   participants in the simulated scenario         [20; quick 10]
  --sim-per-round N      participants trained per round                 [5; quick 3]
  --no-sim               skip the accuracy simulation
  --quick                small sizes: runs in seconds
  -h, --help`;

const DTYPES: readonly FrameDtype[] = ['float32', 'float16', 'int8'];
/** What a real run id looks like (hub.ts: `run-${now.toString(36)}-${3 random bytes hex}`). */
const RUN_ID = 'run-mgx2k9q1-a1b2c3';

const CONTENDERS = [
  'encode float32',
  'encode float16',
  'encode int8',
  'ErrorFeedback.encode int8',
  'decode float32',
  'decode float16',
  'decode int8',
  'JSON.stringify(number[])',
  'JSON.parse -> Float32Array',
] as const;
type Contender = (typeof CONTENDERS)[number];

function fields(dtype: FrameDtype, segments: readonly number[]) {
  return { kind: 'delta' as const, protocolVersion: PROTOCOL_VERSION, runId: RUN_ID, round: 3, modelVersion: 2, dtype, segments };
}

async function main(): Promise<void> {
  const values = parseFlags(
    {
      reps: { type: 'string' },
      pool: { type: 'string' },
      'sim-rounds': { type: 'string' },
      'sim-participants': { type: 'string' },
      'sim-per-round': { type: 'string' },
      'no-sim': { type: 'boolean', default: false },
    },
    HELP,
  );
  const quick = values.quick === true;
  const reps = positiveInt(values.reps ?? (quick ? '3' : '7'), 'reps');
  const poolSize = positiveInt(values.pool ?? (quick ? '8' : '32'), 'pool');
  const simRounds = positiveInt(values['sim-rounds'] ?? (quick ? '2' : '10'), 'sim-rounds');
  const simParticipants = positiveInt(values['sim-participants'] ?? (quick ? '10' : '20'), 'sim-participants');
  const simPerRound = positiveInt(values['sim-per-round'] ?? (quick ? '3' : '5'), 'sim-per-round');
  const runSim = values['no-sim'] !== true;
  const started = performance.now();

  const P = parameterCount(MNIST_MLP);
  const segments = segmentSizes(MNIST_MLP);
  const rawBytes = 4 * P;
  console.log(
    `codec: MNIST MLP, ${P.toLocaleString('en-US')} parameters in ${segments.length} segments (${segments.join(', ')}) · ${reps} interleaved reps · pool ${poolSize}`,
  );

  // ---- bytes on the wire ---------------------------------------------------------------------------------
  const pool = Array.from({ length: poolSize }, (_, k) => gaussianVector(P, 300 + k));
  const sample = pool[0]!;
  const jsonBytes = Buffer.byteLength(JSON.stringify(Array.from(sample)));
  const sizeRows = DTYPES.map((dtype) => {
    const frame = encodeFrame({ ...fields(dtype, segments), values: sample });
    const predicted = frameByteLength(P, dtype, segments, RUN_ID);
    if (frame.byteLength !== predicted)
      throw new Error(`${dtype}: frame is ${frame.byteLength} bytes but frameByteLength says ${predicted}`);
    const payload = P * (dtype === 'float32' ? 4 : dtype === 'float16' ? 2 : 1);
    return { dtype, bytes: frame.byteLength, header: frame.byteLength - payload };
  });
  const sizeTable: Table = {
    title: `Bytes on the wire per update (MNIST MLP, ${P.toLocaleString('en-US')} parameters; socket.io adds ~63 bytes per binary message on top)`,
    columns: ['encoding', 'bytes', 'header bytes', 'bytes / parameter', 'vs raw float32', 'vs JSON'],
    rows: [
      ['raw float32 (4·P)', rawBytes, 0, 4, 1, rawBytes / jsonBytes],
      ...sizeRows.map((r) => [`frame ${r.dtype}`, r.bytes, r.header, r.bytes / P, r.bytes / rawBytes, r.bytes / jsonBytes]),
      ['JSON.stringify(number[])', jsonBytes, 0, jsonBytes / P, jsonBytes / rawBytes, 1],
    ],
    note: `Header: 21 fixed bytes + run id (${RUN_ID.length} bytes here) + 2 + 4 per segment (8 for int8: length + scale), padded to 4 bytes.`,
  };
  printTable(sizeTable);

  // ---- speed ---------------------------------------------------------------------------------------------
  const frames = Object.fromEntries(DTYPES.map((d) => [d, pool.map((v) => encodeFrame({ ...fields(d, segments), values: v }))])) as Record<
    FrameDtype,
    Uint8Array[]
  >;
  const jsonPool = pool.map((v) => JSON.stringify(Array.from(v)));
  const feedback = new ErrorFeedback(P);
  const int8Fields = fields('int8', segments);
  // Enough ops per sample for ~20-50 ms, so timer resolution and GC pauses do not dominate.
  const opsFor = (c: Contender) => (c.startsWith('JSON') ? 4 : 64);
  let cursor = 0;
  let sink = 0;
  const runOnce = (c: Contender): number => {
    const ops = opsFor(c);
    const t0 = performance.now();
    for (let i = 0; i < ops; i++) {
      const k = cursor++ % poolSize;
      switch (c) {
        case 'encode float32':
          sink += encodeFrame({ ...fields('float32', segments), values: pool[k]! }).byteLength;
          break;
        case 'encode float16':
          sink += encodeFrame({ ...fields('float16', segments), values: pool[k]! }).byteLength;
          break;
        case 'encode int8':
          sink += encodeFrame({ ...int8Fields, values: pool[k]! }).byteLength;
          break;
        case 'ErrorFeedback.encode int8':
          sink += feedback.encode(pool[k]!, int8Fields).byteLength;
          break;
        case 'decode float32':
          sink += decodeFrame(frames.float32[k]!, { kind: 'delta', length: P }).values.length;
          break;
        case 'decode float16':
          sink += decodeFrame(frames.float16[k]!, { kind: 'delta', length: P }).values.length;
          break;
        case 'decode int8':
          sink += decodeFrame(frames.int8[k]!, { kind: 'delta', length: P }).values.length;
          break;
        case 'JSON.stringify(number[])':
          sink += JSON.stringify(Array.from(pool[k]!)).length;
          break;
        case 'JSON.parse -> Float32Array':
          sink += Float32Array.from(JSON.parse(jsonPool[k]!) as number[]).length;
          break;
        default: {
          const never: never = c;
          throw new Error(`unknown contender ${String(never)}`);
        }
      }
    }
    return (performance.now() - t0) / ops;
  };
  for (const c of CONTENDERS) runOnce(c); // warm-up
  const samples = await interleave(CONTENDERS, reps, runOnce);
  if (!Number.isFinite(sink)) throw new Error('unreachable');
  const speedRows = CONTENDERS.map((c) => {
    const ms = median(samples[c]);
    return { contender: c, msPerUpdate: ms, mbPerSec: rawBytes / MB / (ms / 1000), spread: spread(samples[c]) };
  });
  const f32Copy = speedRows.find((r) => r.contender === 'encode float32')!.mbPerSec;
  const speedTable: Table = {
    title: 'Encode / decode speed (median per update; MB/s of float32 input = 4·P bytes per update; one core)',
    columns: ['operation', 'ms / update', 'MB/s', 'vs encode float32', 'spread'],
    rows: speedRows.map((r) => [r.contender, r.msPerUpdate, r.mbPerSec, r.mbPerSec / f32Copy, `${(100 * r.spread).toFixed(0)}%`]),
    note: 'Decoding checks the header, copies, converts, and scans every value for NaN/Infinity; int8 encoding scans each segment twice (max |v|, then quantize). ErrorFeedback.encode = add the residual + encode + decode (to learn what the hub will see) + new residual.',
  };
  printTable(speedTable);

  // ---- accuracy ------------------------------------------------------------------------------------------
  const simRows: { codec: FrameDtype; result: SimResult; seconds: number }[] = [];
  let simConfig: RunConfigInput | null = null;
  if (runSim) {
    await useBackend('wasm');
    const mnist = loadMnist();
    const preset = presetRunConfig('shards', 'fedavg');
    simConfig = { ...preset, rounds: simRounds, perRound: simPerRound, scenario: { ...preset.scenario!, participants: simParticipants } };
    console.log(
      `\naccuracy: shards · fedavg · MNIST MLP · ${simParticipants} participants (${Math.max(1, Math.round(simParticipants / 10))} held out) · ${simPerRound} per round · ${simRounds} rounds · seed ${preset.seed} · wasm`,
    );
    for (const codec of DTYPES) {
      const t0 = performance.now();
      const result = await runSimulation({ ...simConfig, codec }, { mnist });
      const seconds = (performance.now() - t0) / 1000;
      simRows.push({ codec, result, seconds });
      const last = result.rounds.at(-1)!;
      console.log(
        `  ${codec}: global ${pct(last.global)} · personalized ${pct(last.personalized)} · meta-test ${result.metaTest.mean.map((m) => pct(m)).join(' / ')} · ${seconds.toFixed(1)} s`,
      );
    }
  }
  const base = simRows.find((r) => r.codec === 'float32');
  const accuracyTable: Table | null = simRows.length
    ? {
        title: `Accuracy cost of the codec (same seed; final round; meta-test = held-out participants after k adaptation steps)`,
        columns: [
          'codec',
          'loss',
          'max |loss - float32 loss| over rounds',
          'global',
          'personalized',
          'held-out global',
          'held-out personalized',
          ...base!.result.metaTest.steps.map((k) => `meta-test k=${k}`),
          'bytes up (all rounds)',
          'seconds',
        ],
        rows: simRows.map(({ codec, result, seconds }) => {
          const last = result.rounds.at(-1)!;
          return [
            codec,
            (last.loss ?? Number.NaN).toFixed(4),
            maxLossGap(result, base!.result).toExponential(1),
            pct(last.global),
            pct(last.personalized),
            pct(last.heldOutGlobal),
            pct(last.heldOutPersonalized),
            ...result.metaTest.mean.map((m) => pct(m)),
            result.rounds.reduce((s, r) => s + r.bytesUp, 0),
            seconds,
          ];
        }),
        note: `Config: presetRunConfig('shards', 'fedavg') with rounds ${simRounds}, participants ${simParticipants}, perRound ${simPerRound}; only the codec differs. int8 and float16 go through the participant's ErrorFeedback.`,
      }
    : null;
  if (accuracyTable) printTable(accuracyTable);

  // ---- report --------------------------------------------------------------------------------------------
  const byDtype = (d: FrameDtype) => sizeRows.find((r) => r.dtype === d)!;
  const speed = (c: Contender) => speedRows.find((r) => r.contender === c)!.mbPerSec;
  const headline = [
    `bytes per MLP update: float32 ${byDtype('float32').bytes.toLocaleString('en-US')} (4·P + ${byDtype('float32').header}), float16 ${byDtype('float16').bytes.toLocaleString('en-US')} (${(byDtype('float16').bytes / rawBytes).toFixed(3)}x raw), int8 ${byDtype('int8').bytes.toLocaleString('en-US')} (${(byDtype('int8').bytes / rawBytes).toFixed(3)}x raw); JSON ${jsonBytes.toLocaleString('en-US')} (${(jsonBytes / rawBytes).toFixed(1)}x raw)`,
    `encode MB/s: float32 ${speed('encode float32').toFixed(0)}, float16 ${speed('encode float16').toFixed(0)}, int8 ${speed('encode int8').toFixed(0)}, int8 with error feedback ${speed('ErrorFeedback.encode int8').toFixed(0)}; decode MB/s: float32 ${speed('decode float32').toFixed(0)}, float16 ${speed('decode float16').toFixed(0)}, int8 ${speed('decode int8').toFixed(0)}; JSON ${speed('JSON.stringify(number[])').toFixed(0)} / ${speed('JSON.parse -> Float32Array').toFixed(0)}`,
    ...(base
      ? simRows.map(({ codec, result }) => {
          const last = result.rounds.at(-1)!;
          const b = base.result.rounds.at(-1)!;
          return `${codec}: final global ${pct(last.global)} (${signedPts(last.global, b.global)}), personalized ${pct(last.personalized)} (${signedPts(last.personalized, b.personalized)}), meta-test k=${result.metaTest.steps.at(-1)} ${pct(result.metaTest.mean.at(-1))} (${signedPts(result.metaTest.mean.at(-1)!, base.result.metaTest.mean.at(-1)!)})`;
        })
      : ['accuracy simulation skipped (--no-sim)']),
  ];
  finish({
    name: 'codec',
    title: 'Wire codec: size, speed, accuracy',
    description:
      "Bytes per update for each frame dtype (encodeFrame with the MNIST MLP's real segments) against raw float32 and a JSON number array; encode/decode throughput per dtype (and ErrorFeedback.encode for int8) in MB/s of float32 input, interleaved; and the accuracy of a short federated simulation (runSimulation, shards, fedavg) with each codec on the same seed.",
    ...runInfo(started, quick),
    headline,
    tables: [sizeTable, speedTable, ...(accuracyTable ? [accuracyTable] : [])],
    notes: [
      'Speeds are single-core and noisy on this shared 2-core machine: compare rows with each other (measured interleaved), not with other runs.',
      'The accuracy runs use TF.js wasm in one process; deltas differ only by the codec (the seed fixes data, sampling and initial weights).',
    ],
    data: {
      parameters: P,
      segments,
      sizes: sizeRows,
      jsonBytes,
      speed: speedRows.map((r) => ({ ...r, samplesMs: samples[r.contender] })),
      simConfig,
      simulations: simRows.map(({ codec, result, seconds }) => ({
        codec,
        seconds,
        rounds: result.rounds,
        metaTest: { steps: result.metaTest.steps, mean: result.metaTest.mean },
      })),
    },
  });
}

/** How far a run's training-loss trajectory strays from the float32 run's: 0 means the codec changed nothing. */
function maxLossGap(run: SimResult, reference: SimResult): number {
  return run.rounds.reduce((gap, r, i) => Math.max(gap, Math.abs((r.loss ?? 0) - (reference.rounds[i]?.loss ?? 0))), 0);
}

function pct(x: number | null | undefined): string {
  return x === null || x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`;
}

function signedPts(x: number | null, base: number | null): string {
  if (x === null || base === null) return '-';
  const d = 100 * (x - base);
  return `${d >= 0 ? '+' : ''}${d.toFixed(2)} pts`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
