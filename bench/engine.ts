/**
 * bench/engine.ts — what the simulation's fast engine (packages/core/src/learn/fast/: plain-JS loops for ReLU
 * MLPs, exact second-order MAML) saves over TF.js's per-client path, measured side by side in one process.
 *
 *   npx tsx bench/engine.ts [--reps 5] [--rounds 20] [--sim-rounds 200] [--quick]
 *
 * Why: one federated round is one meta-step, so the learning benchmark needs thousands of rounds, and TF.js spends
 * >= 92 % of a small MLP's update dispatching kernels (design/learning.md §6). The headline is a sinusoid MAML round
 * of 25 participants (the preset: 1-40-40-1, K = 5, one inner step); the goal is >= 8x. Each contender computes
 * the same round's client updates from the same participants' data and seeds, interleaved round-robin; the deltas of
 * the two engines are compared too. Then whole `npm run sim` rounds (round engine, codec, FedAdam) with each engine.
 */
import { loadMnist } from '../packages/core/src/data/mnist-node.js';
import { createScenario, type MnistData } from '../packages/core/src/data/index.js';
import { clientUpdate, type ClientUpdateInput } from '../packages/core/src/learn/client-update.js';
import { fastClientUpdate } from '../packages/core/src/learn/fast/fast-client-update.js';
import { ClientHyperSchema, type Algorithm } from '../packages/core/src/learn/hyper.js';
import { initialFederated } from '../packages/core/src/learn/initial-federated.js';
import { presetRunConfig } from '../packages/core/src/presets.js';
import { RunConfigSchema } from '../packages/core/src/protocol.js';
import { runSimulation } from '../packages/core/src/sim/simulation.js';
import { useBackend } from '../packages/core/src/tf.js';
import { finish, interleave, median, pairedRatio, parseFlags, positiveInt, printTable, runInfo, spread, type Table } from './lib.js';
import { relativeL2Error } from '../packages/core/src/aggregate/norm.js';

const HELP = `Usage: npx tsx bench/engine.ts [options]
  --reps N         interleaved repetitions per contender            [5; quick 2]
  --rounds N       rounds of client updates per repetition          [20 sinusoid, a twentieth of it MNIST; quick 2]
  --sim-rounds N   rounds of each whole simulation                  [200; quick 20]
  --quick          small sizes: runs in seconds
  -h, --help`;

const CONTENDERS = ['fast', 'tfjs wasm', 'tfjs cpu'] as const;
type Contender = (typeof CONTENDERS)[number];

interface Workload {
  readonly name: string;
  readonly algorithm: Algorithm;
  readonly inputs: readonly ClientUpdateInput[];
  readonly rounds: number;
}

/** One round's client updates as `npm run sim` computes them: the preset's model and hyper-parameters, its participants. */
function workload(scenarioName: 'sinusoid' | 'rotated', algorithm: Algorithm, rounds: number, mnist?: MnistData): Workload {
  const config = RunConfigSchema.parse(presetRunConfig(scenarioName, algorithm));
  const scenario = createScenario(config.scenario!, mnist);
  const heldOut = new Set(scenario.heldOut);
  const trainers = Array.from({ length: scenario.participants }, (_, i) => i).filter((i) => !heldOut.has(i));
  const perRound = config.perRound ?? trainers.length;
  const global = initialFederated(config.model, algorithm, config.seed, config.client.innerLr);
  const hyper = ClientHyperSchema.parse(config.client);
  const inputs = trainers.slice(0, perRound).map((index, i) => {
    const data = scenario.participant(index);
    return { spec: config.model, algorithm, hyper, global, support: data.support, query: data.query, seed: 1000 + i };
  });
  const model =
    config.model.kind === 'mlp'
      ? `${[config.model.inputShape.reduce((a, b) => a * b, 1), ...config.model.hidden, config.model.outputs].join('-')}`
      : 'cnn';
  return { name: `${scenarioName} ${algorithm} (${model}, ${perRound} per round)`, algorithm, inputs, rounds };
}

async function main(): Promise<void> {
  const values = parseFlags({ reps: { type: 'string' }, rounds: { type: 'string' }, 'sim-rounds': { type: 'string' } }, HELP);
  const quick = values.quick === true;
  const reps = positiveInt(values.reps ?? (quick ? '2' : '5'), 'reps');
  const rounds = positiveInt(values.rounds ?? (quick ? '2' : '20'), 'rounds');
  const simRounds = positiveInt(values['sim-rounds'] ?? (quick ? '20' : '200'), 'sim-rounds');
  const started = performance.now();
  const mnist = loadMnist();

  const workloads: Workload[] = [
    ...(['maml', 'fomaml', 'fedavg', 'reptile', 'meta-sgd', 'per-fedavg-hf'] as const).map((a) => workload('sinusoid', a, rounds)),
    ...(['maml', 'fedavg', 'reptile'] as const).map((a) => workload('rotated', a, Math.max(1, Math.round(rounds / 20)), mnist)),
  ];

  const rows: (string | number)[][] = [];
  const data: Record<string, unknown> = {};
  let headlineRatio = Number.NaN;
  for (const w of workloads) {
    // Equality first, and a warm-up of every path.
    await useBackend('wasm');
    let worst = 0;
    for (const input of w.inputs) {
      const [a, b] = [await fastClientUpdate(input), await clientUpdate(input)];
      worst = Math.max(worst, relativeL2Error(a.delta, b.delta));
    }
    await useBackend('cpu');
    for (const input of w.inputs.slice(0, 2)) await clientUpdate(input);
    const samples = await interleave(CONTENDERS, reps, async (c: Contender) => {
      if (c !== 'fast') await useBackend(c === 'tfjs wasm' ? 'wasm' : 'cpu');
      const update = c === 'fast' ? fastClientUpdate : clientUpdate;
      const t0 = performance.now();
      for (let r = 0; r < w.rounds; r++) for (const input of w.inputs) await update(input);
      return (performance.now() - t0) / w.rounds;
    });
    const perRound = Object.fromEntries(CONTENDERS.map((c) => [c, median(samples[c])])) as Record<Contender, number>;
    const ratioWasm = pairedRatio(samples['tfjs wasm'], samples.fast);
    const ratioCpu = pairedRatio(samples['tfjs cpu'], samples.fast);
    if (w.name.startsWith('sinusoid maml')) headlineRatio = ratioWasm;
    rows.push([
      w.name,
      perRound.fast,
      perRound['tfjs wasm'],
      perRound['tfjs cpu'],
      `${ratioWasm.toFixed(1)}x`,
      `${ratioCpu.toFixed(1)}x`,
      worst.toExponential(1),
      `${Math.round(100 * Math.max(...CONTENDERS.map((c) => spread(samples[c]))))}%`,
    ]);
    data[w.name] = { samples, rounds: w.rounds, participants: w.inputs.length, maxRelativeError: worst };
    console.log(`${w.name}: fast ${perRound.fast.toFixed(2)} ms, tfjs wasm ${perRound['tfjs wasm'].toFixed(2)} ms per round`);
  }
  const updates: Table = {
    title: 'Client updates of one round, computed one after another (median ms per round)',
    columns: ['workload', 'fast ms', 'tfjs wasm ms', 'tfjs cpu ms', 'wasm / fast', 'cpu / fast', 'max rel. error of delta', 'spread'],
    rows,
    note: 'Ratios are medians of per-repetition ratios. "max rel. error" is ‖fast − tfjs‖ / ‖tfjs‖ of each participant\'s delta, the worst over the round. Spread: (max − min) / median of the noisiest contender.',
  };
  printTable(updates);

  // Whole rounds, as `npm run sim -- --scenario sinusoid --algorithm maml` runs them (wasm, evaluation every 100 rounds).
  await useBackend('wasm');
  const config = { ...presetRunConfig('sinusoid', 'maml'), rounds: simRounds };
  const engines = ['fast', 'tfjs'] as const;
  const evalMs: Record<(typeof engines)[number], number[]> = { fast: [], tfjs: [] };
  const wallS: Record<(typeof engines)[number], number[]> = { fast: [], tfjs: [] };
  const sims = await interleave(engines, quick ? 1 : 2, async (engine) => {
    const t0 = performance.now();
    const result = await runSimulation(config, { engine });
    wallS[engine].push((performance.now() - t0) / 1000);
    const evaluated = result.rounds.filter((r) => r.heldOutGlobal !== null);
    evalMs[engine].push(...evaluated.map((r) => r.ms));
    return median(result.rounds.filter((r) => r.heldOutGlobal === null).map((r) => r.ms));
  });
  const simFast = median(sims.fast);
  const simTfjs = median(sims.tfjs);
  const evaluateEvery = RunConfigSchema.parse(config).evaluateEvery;
  /** 5,000 rounds: training rounds at their median, one evaluation round in `evaluateEvery` at theirs. */
  const minutes5k = (engine: (typeof engines)[number]) =>
    (5000 * median(sims[engine]) + (5000 / evaluateEvery) * median(evalMs[engine])) / 60000;
  const row = (name: string, engine: (typeof engines)[number]) => [
    name,
    median(sims[engine]),
    median(evalMs[engine]),
    median(wallS[engine]),
    minutes5k(engine),
  ];
  const simTable: Table = {
    title: `npm run sim, sinusoid maml preset, ${simRounds} rounds of 25 participants`,
    columns: ['engine', 'training round, ms', 'evaluation round, ms', 'whole run, s', '5,000 rounds, min'],
    rows: [row('fast', 'fast'), row('tfjs (wasm)', 'tfjs')],
    note: `Medians. A round: selection, weights frames, client updates, codec, validation and FedAdam. An evaluation round (every ${evaluateEvery}th, and the last) also has trainers and the held-out tasks adapt and score (in plain JS under the fast engine); the whole run adds the final meta-test. 5,000 rounds: training rounds plus one evaluation round in ${evaluateEvery}.`,
  };
  printTable(simTable);
  data.simulation = { rounds: simRounds, trainingRoundMs: sims, evaluationRoundMs: evalMs, wallSeconds: wallS };

  finish({
    name: 'engine',
    title: 'Simulation engine: plain-JS client updates against TF.js',
    description:
      "The same client updates (same participants, data, seeds and minibatch draws) computed by the fast engine (packages/core/src/learn/fast/: float64 loops over the flat weights, exact second-order MAML by Hessian-vector products) and by TF.js's per-client path (learn/client-update.ts) on the wasm and cpu backends, interleaved in one process; then whole simulated rounds with each engine.",
    ...runInfo(started, quick),
    headline: [
      `Sinusoid MAML round of 25 participants: fast engine ${headlineRatio.toFixed(1)}x faster than TF.js wasm (goal >= 8x).`,
      `Whole sinusoid MAML training rounds in npm run sim: ${simFast.toFixed(1)} ms (fast) against ${simTfjs.toFixed(1)} ms (TF.js wasm), ${(simTfjs / simFast).toFixed(1)}x; with the evaluation rounds, 5,000 rounds take ≈ ${minutes5k('fast').toFixed(1)} min instead of ${minutes5k('tfjs').toFixed(1)} min.`,
      `Every delta equals TF.js's to float32 rounding (worst relative error in the table; Per-FedAvg-HF's to the round-off of TF.js's float32 central difference).`,
    ],
    tables: [updates, simTable],
    notes: [
      "The fast engine computes every algorithm's update and every evaluation (adaptation curves, Meta-SGD rates included) on MLPs; CNNs stay on TF.js under --engine fast.",
      'Tabs keep TF.js: one task per tab, where WebGL and WASM serve it.',
    ],
    data,
  });
}

await main();
