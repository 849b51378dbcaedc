/**
 * bench/tune.ts — chooses an algorithm's preset settings on validation participants (issue 11 item 6). Every point of
 * a grid over client settings (and the server learning rate) runs a short federated simulation on the fast engine;
 * each is scored by its validation participants (neither trained nor held out) after fine-tuning chosen on them too
 * (simulation.ts MetaTest.tuned), and the best point is the choice. Held-out scores are shown beside, never used.
 *
 *   npx tsx bench/tune.ts                        # the plan behind presets.ts (DEFAULT_PLAN), [--quick] to smoke it
 *   npx tsx bench/tune.ts --scenario S --algorithm A --grid key=v1,v2 [--grid key=...] [--rounds N] [--seeds N]
 *                         [--support-shots N]
 *
 * Keys: any client setting (lr, innerLr, outerLr, innerSteps, metaSteps, localEpochs, headEpochs, adaptSteps) and
 * serverLr. Results accumulate in bench/results/tune.json, one entry per scenario, algorithm and shots (a rerun
 * replaces its entry), so RESULTS.md shows every tuning next to the others; presets.ts cites the choices.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMnist } from '../packages/core/src/data/mnist-node.js';
import { AlgorithmSchema, ClientHyperSchema, type Algorithm, type ClientHyper } from '../packages/core/src/learn/hyper.js';
import { presetRunConfig } from '../packages/core/src/presets.js';
import { SCENARIOS, type RunConfigInput } from '../packages/core/src/protocol.js';
import { runSimulation } from '../packages/core/src/sim/simulation.js';
import { useBackend } from '../packages/core/src/tf.js';
import {
  ADAPT_LR_FACTORS,
  ADAPT_LR_FACTORS_BEFORE,
  adaptLrsAround,
  RESULTS_DIR,
  commandLine,
  failUsage,
  finish,
  machine,
  positiveInt,
  printTable,
  type BenchResult,
  type Cell,
} from './lib.js';

const HELP = `Usage: npx tsx bench/tune.ts [--quick]     (the plan behind packages/core/src/presets.ts)
       npx tsx bench/tune.ts --scenario S --algorithm A --grid key=v1,v2,... [options]
  --scenario S         ${SCENARIOS.join(', ')}
  --algorithm A        ${AlgorithmSchema.options.join(', ')}
  --grid key=values    repeatable; keys: ${[...Object.keys(ClientHyperSchema.shape), 'serverLr'].join(', ')}
  --rounds N           rounds per simulation                                  [MNIST 60, sinusoid 2000]
  --seeds N            seeds 1..N per grid point (the score is their mean)    [1]
  --support-shots N    MNIST few-shot: labelled support digits per participant [all]
  --label-permutations G  MNIST: trainers in G label-permutation groups, newcomers unseen ones
  --fresh-points       sinusoid: fresh support and query points every round
  -h, --help           this text`;

interface Plan {
  readonly scenario: (typeof SCENARIOS)[number];
  readonly algorithm: Algorithm;
  readonly grid: readonly [string, number[]][];
  readonly rounds: number;
  readonly seeds: number;
  readonly shots: number | null;
  /** MNIST: label-permutation groups (scenario.labelPermutations). */
  readonly labelPermutations?: number;
  /** Sinusoid: fresh support and query points every round (as the 20,000-round benchmark). */
  readonly freshPoints?: boolean;
}

/**
 * What presets.ts cites: the MNIST settings chosen in the learning benchmark's few-shot regime (Dirichlet label skew,
 * 10 support digits) and the sinusoid server step, short runs and one seed (the time this machine allows; a choice,
 * not a measurement).
 */
const DEFAULT_PLAN: readonly Plan[] = [
  ...(['maml', 'fomaml', 'per-fedavg-hf'] as const).map((algorithm) => ({
    scenario: 'dirichlet' as const,
    algorithm,
    grid: [['outerLr', [0.05, 0.2, 0.5]]] as [string, number[]][],
    rounds: 40,
    seeds: 1,
    shots: 10,
  })),
  // Again at the benchmark's 200 rounds with 2 seeds (Meta-SGD had collapsed in 1 of 5 seeds there at outerLr 0.5):
  // outer x inner lr for MAML and Meta-SGD, the inner lr for the first-order methods, FedAvg's server lr.
  ...(['maml', 'meta-sgd'] as const).map((algorithm) => ({
    scenario: 'dirichlet' as const,
    algorithm,
    grid: [
      ['outerLr', [0.2, 0.5, 1]],
      ['innerLr', [0.02, 0.05, 0.1]],
    ] as [string, number[]][],
    rounds: 200,
    seeds: 2,
    shots: 10,
  })),
  ...(['fomaml', 'per-fedavg-hf'] as const).map((algorithm) => ({
    scenario: 'dirichlet' as const,
    algorithm,
    grid: [['innerLr', [0.02, 0.05, 0.1]]] as [string, number[]][],
    rounds: 200,
    seeds: 2,
    shots: 10,
  })),
  { scenario: 'dirichlet', algorithm: 'fedavg', grid: [['serverLr', [0.5, 1, 2]]], rounds: 200, seeds: 2, shots: 10 },
  { scenario: 'dirichlet', algorithm: 'fedrep', grid: [['headEpochs', [1, 2, 5]]], rounds: 40, seeds: 1, shots: 10 },
  { scenario: 'dirichlet', algorithm: 'fedavg', grid: [['lr', [0.05, 0.1, 0.2]]], rounds: 40, seeds: 1, shots: 10 },
  // Sinusoid: the hub's FedAdam step around the MAML paper's Adam 0.001 (the preset's 0.003), at a tenth of the
  // 20,000-round benchmark.
  ...(['maml', 'fomaml', 'meta-sgd', 'per-fedavg-hf', 'fedavg', 'fedrep', 'fedper'] as const).map((algorithm) => ({
    scenario: 'sinusoid' as const,
    algorithm,
    grid: [['serverLr', [0.001, 0.003, 0.01]]] as [string, number[]][],
    rounds: 2000,
    seeds: 1,
    shots: null,
  })),
];

interface Point {
  readonly settings: Record<string, number>;
  /** Per seed: the validation participants' mean at their chosen fine-tuning (what chooses), and the held-out one. */
  readonly validation: readonly number[];
  readonly heldOut: readonly number[];
  readonly fineTuning: readonly string[];
  readonly seconds: number;
}

interface Entry {
  readonly scenario: string;
  readonly algorithm: Algorithm;
  readonly supportShots: number | null;
  readonly labelPermutations?: number;
  readonly freshPoints?: boolean;
  readonly rounds: number;
  readonly seeds: number;
  readonly metric: 'accuracy' | 'mse';
  readonly points: readonly Point[];
  readonly chosen: Record<string, number>;
  /** The inner-lr factors fine-tuning was chosen from (absent from older entries: ADAPT_LR_FACTORS_BEFORE). */
  readonly adaptLrFactors?: readonly number[];
  readonly date: string;
  readonly command: string;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const better = (metric: 'accuracy' | 'mse', a: number, b: number) =>
  (Number.isFinite(a) && !Number.isFinite(b)) || (metric === 'mse' ? a < b : a > b);
const show = (metric: 'accuracy' | 'mse', x: number) =>
  !Number.isFinite(x) ? String(x) : metric === 'accuracy' ? `${(100 * x).toFixed(1)}%` : x.toFixed(3);

function product(grid: readonly [string, number[]][]): Record<string, number>[] {
  return grid.reduce<Record<string, number>[]>((acc, [key, values]) => acc.flatMap((p) => values.map((v) => ({ ...p, [key]: v }))), [{}]);
}

async function tuneOne(plan: Plan, mnist: ReturnType<typeof loadMnist> | undefined): Promise<Entry> {
  const { scenario, rounds, seeds, shots } = plan;
  const sinusoid = scenario === 'sinusoid';
  const preset = presetRunConfig(scenario, plan.algorithm);
  const points: Point[] = [];
  let metric: 'accuracy' | 'mse' = sinusoid ? 'mse' : 'accuracy';
  for (const settings of product(plan.grid)) {
    const t = performance.now();
    const { serverLr, ...client } = settings;
    const validation: number[] = [];
    const heldOut: number[] = [];
    const fineTuning: string[] = [];
    for (let seed = 1; seed <= seeds; seed++) {
      const clientHyper: ClientHyper = ClientHyperSchema.parse({ ...preset.client, ...client });
      const input: RunConfigInput = {
        ...preset,
        // The learning benchmark's sizes (bench/learning.ts), so a choice here holds there.
        scenario: sinusoid
          ? { ...preset.scenario!, seed, ...(plan.freshPoints ? { freshPoints: true } : {}) }
          : {
              ...preset.scenario!,
              participants: 100,
              heldOut: 20,
              validation: 10,
              seed,
              ...(shots ? { supportShots: shots } : {}),
              ...(plan.labelPermutations ? { labelPermutations: plan.labelPermutations } : {}),
            },
        ...(sinusoid ? {} : { perRound: 10 }),
        seed,
        rounds,
        evaluateEvery: rounds,
        client: clientHyper,
        ...(serverLr !== undefined ? { server: { ...preset.server!, lr: serverLr } } : {}),
      };
      const adaptLrs = adaptLrsAround(clientHyper.innerLr);
      const result = await runSimulation(input, { engine: 'fast', adaptLrs, ...(mnist ? { mnist } : {}) });
      metric = result.metaTest.metric;
      const tuned = result.metaTest.tuned;
      validation.push(tuned?.validation ?? Number.NaN);
      heldOut.push(tuned?.mean ?? Number.NaN);
      fineTuning.push(tuned ? `lr ${tuned.lr}, k ${tuned.steps}` : '–');
    }
    const point = { settings, validation, heldOut, fineTuning, seconds: (performance.now() - t) / 1000 };
    points.push(point);
    console.log(
      `${scenario} ${plan.algorithm} ${JSON.stringify(settings)}: validation ${show(metric, mean(validation))} (held-out ${show(metric, mean(heldOut))}) · ${fineTuning.join('; ')} · ${point.seconds.toFixed(0)} s`,
    );
  }
  const best = points.reduce((x, y) => (better(metric, mean(y.validation), mean(x.validation)) ? y : x));
  return {
    scenario,
    algorithm: plan.algorithm,
    supportShots: shots,
    ...(plan.labelPermutations ? { labelPermutations: plan.labelPermutations } : {}),
    ...(plan.freshPoints ? { freshPoints: true } : {}),
    rounds,
    seeds,
    metric,
    points,
    chosen: best.settings,
    adaptLrFactors: [...ADAPT_LR_FACTORS],
    date: new Date().toISOString(),
    command: commandLine(),
  };
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      scenario: { type: 'string' },
      algorithm: { type: 'string' },
      grid: { type: 'string', multiple: true },
      rounds: { type: 'string' },
      seeds: { type: 'string', default: '1' },
      'support-shots': { type: 'string' },
      'fresh-points': { type: 'boolean', default: false },
      'label-permutations': { type: 'string' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (v.help) return void console.log(HELP);
  if (v.scenario === undefined && v.algorithm === undefined && v.grid === undefined) {
    // The smoke run tries the plan's first grid for a few rounds: that it runs, not what it chooses (it writes tune.json).
    const plans = v.quick ? DEFAULT_PLAN.slice(0, 1).map((p) => ({ ...p, rounds: 3 })) : DEFAULT_PLAN;
    return run(plans, v.quick);
  }
  const scenario = v.scenario as (typeof SCENARIOS)[number];
  if (!SCENARIOS.includes(scenario)) failUsage(`--scenario: one of ${SCENARIOS.join(', ')}`, HELP);
  const algorithm = AlgorithmSchema.safeParse(v.algorithm);
  if (!algorithm.success) failUsage(`--algorithm: one of ${AlgorithmSchema.options.join(', ')}`, HELP);
  const keys = new Set([...Object.keys(ClientHyperSchema.shape), 'serverLr']);
  const grid = (v.grid ?? []).map((g): [string, number[]] => {
    const [key, values] = g.split('=');
    if (!key || !values || !keys.has(key)) failUsage(`--grid: expected key=v1,v2 with a key of ${[...keys].join(', ')}, got "${g}"`, HELP);
    const numbers = values.split(',').map(Number);
    if (!numbers.every((x) => Number.isFinite(x) && x > 0)) failUsage(`--grid ${key}: positive numbers, got "${values}"`, HELP);
    return [key, numbers];
  });
  if (!grid.length) failUsage('--grid: at least one', HELP);
  const sinusoid = scenario === 'sinusoid';
  const plans: Plan[] = [
    {
      scenario,
      algorithm: algorithm.data,
      grid,
      rounds: v.rounds ? positiveInt(v.rounds, 'rounds') : sinusoid ? 2000 : 60,
      seeds: positiveInt(v.seeds, 'seeds'),
      shots: v['support-shots'] ? positiveInt(v['support-shots'], 'support-shots') : null,
      ...(v['fresh-points'] ? { freshPoints: true } : {}),
      ...(v['label-permutations'] ? { labelPermutations: positiveInt(v['label-permutations'], 'label-permutations') } : {}),
    },
  ];
  await run(plans, false);
}

async function run(plans: readonly Plan[], quick: boolean): Promise<void> {
  await useBackend('wasm');
  const mnist = plans.some((p) => p.scenario !== 'sinusoid') ? loadMnist() : undefined;
  const started = performance.now();
  const fresh: Entry[] = [];
  for (const plan of plans) fresh.push(await tuneOne(plan, mnist));
  const path = join(RESULTS_DIR, 'tune.json');
  // A smoke run replaces the file, as every benchmark's --quick does (RESULTS.md marks it quick).
  const previous =
    !quick && existsSync(path) ? ((JSON.parse(readFileSync(path, 'utf8')) as { data?: { entries?: Entry[] } }).data?.entries ?? []) : [];
  // One entry per setting tuned: a tuning at another budget or with fresh points stands beside it.
  const same = (e: Entry, f: Entry) =>
    e.scenario === f.scenario &&
    e.algorithm === f.algorithm &&
    e.supportShots === f.supportShots &&
    e.rounds === f.rounds &&
    (e.labelPermutations ?? 0) === (f.labelPermutations ?? 0) &&
    (e.freshPoints ?? false) === (f.freshPoints ?? false);
  const entries = [...previous.filter((e) => !fresh.some((f) => same(e, f))), ...fresh].sort(
    (a, b) => a.scenario.localeCompare(b.scenario) || a.algorithm.localeCompare(b.algorithm),
  );
  const rows: Cell[][] = entries.flatMap((e) =>
    e.points.map((p) => [
      `${e.scenario}${e.supportShots ? ` (${e.supportShots} shots)` : ''}${e.labelPermutations ? ` (${e.labelPermutations} label permutations)` : ''}${e.freshPoints ? ' (fresh points)' : ''}, ${e.rounds} rounds`,
      e.algorithm,
      Object.entries(p.settings)
        .map(([k, x]) => `${k} ${x}`)
        .join(', '),
      show(e.metric, mean(p.validation)),
      show(e.metric, mean(p.heldOut)),
      p.fineTuning.join('; '),
      JSON.stringify(p.settings) === JSON.stringify(e.chosen) ? 'chosen' : '',
    ]),
  );
  const result: BenchResult = {
    name: 'tune',
    title: 'Tuning: preset settings chosen on validation participants',
    description:
      "Short federated simulations (fast engine) over a grid of each algorithm's settings; each point is scored on the run's validation participants (neither trained nor held out) after the fine-tuning learning rate and steps chosen on them, and the best point is the choice that packages/core/src/presets.ts cites. The held-out column is shown for reference only and chooses nothing. Entries accumulate: each was run with its own command (data.entries[].command).",
    command: commandLine(),
    date: new Date().toISOString(),
    quick,
    machine: machine(),
    seconds: (performance.now() - started) / 1000,
    headline: entries.map(
      (e) =>
        `${e.scenario}${e.supportShots ? ` ${e.supportShots}-shot` : ''}${e.labelPermutations ? `, ${e.labelPermutations} label permutations,` : ''} ${e.algorithm} (${e.rounds} rounds, ${e.seeds} seed${e.seeds === 1 ? '' : 's'}): chose ${Object.entries(
          e.chosen,
        )
          .map(([k, x]) => `${k} ${x}`)
          .join(', ')}`,
    ),
    tables: [
      {
        title: 'Grid points: validation score (chooses) and held-out score (reference), mean over seeds',
        columns: ['scenario', 'algorithm', 'settings', 'validation', 'held-out', 'fine-tuning chosen (per seed)', ''],
        rows,
        note: `Fine-tuning: each simulation picks the adaptation lr (the point's inner lr x ${[...new Set(entries.map((e) => (e.adaptLrFactors ?? ADAPT_LR_FACTORS_BEFORE).join(', ')))].join(' or ')}) and steps (0, 1, 5, 10) best on its validation participants. MNIST: 100 participants, 20 held out, 10 validation, 10 per round, as bench/learning.ts; sinusoid: the preset's sizes. Accuracy higher / MSE lower is better.`,
      },
    ],
    notes: [],
    data: { entries },
  };
  printTable(result.tables[0]!);
  finish(result);
}

await main();
