/**
 * bench/learning.ts — does federated meta-learning learn, and is it worth it? Every scenario x algorithm x seed
 * runs a full in-process federated simulation (packages/core/src/sim/simulation.ts, the hub's own participant runtime,
 * codec and strategy) from presetRunConfig(scenario, algorithm), then meta-tests the final model on held-out
 * participants that never trained: accuracy (MSE for sinusoid) after 0, 1, 5 and 10 adaptation steps on their
 * support set. Also: rounds and bytes until the held-out personalized metric first reaches a target, the
 * communication ratio fedavg / meta-learner (FedMeta's claim), and learning-curve PNGs.
 *
 *   npx tsx bench/learning.ts [--quick] [--scenarios a,b] [--algorithms a,b] [--seeds N] [--rounds N]
 *                             [--sinusoid-rounds N] [--jobs N] [--target scenario=value] [--name NAME] [--reanalyze]
 *
 * Simulations run as child processes (this file with --worker), --jobs at a time (2: this machine has 2
 * cores), each on the fast engine (learn/fast/engine.ts: plain JS where it computes the same update as TF.js,
 * TF.js's wasm backend elsewhere, e.g. for CNNs). "fedavg + fine-tuning" is the fedavg-trained model meta-tested after
 * k adaptation steps; plain "fedavg" is the same model at k = 0. Each run also chooses its fine-tuning learning rate
 * and step count on its validation participants (simulation.ts MetaTest.tuned) and reports the held-out result there.
 *
 * Needs packages/core/assets/mnist.bin (node packages/core/scripts/build-mnist.mjs) and, for the PNGs,
 * /usr/bin/chromium (or CHROMIUM_PATH).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadMnist } from '../packages/core/src/data/mnist-node.js';
import { MNIST_ASSET_DIGITS, createScenario } from '../packages/core/src/data/scenario.js';
import { gradientsPerUpdate } from '../packages/core/src/learn/client-update.js';
import type { Engine } from '../packages/core/src/learn/fast/engine.js';
import { fastEngineSupports } from '../packages/core/src/learn/fast/fast-client-update.js';
import { ClientHyperSchema, type Algorithm } from '../packages/core/src/learn/hyper.js';
import { presetRunConfig } from '../packages/core/src/presets.js';
import type { RunConfig, RunConfigInput } from '../packages/core/src/protocol.js';
import { runSimulation } from '../packages/core/src/sim/simulation.js';
import { useBackend } from '../packages/core/src/tf.js';
import {
  ADAPT_LR_FACTORS,
  ADAPT_LR_FACTORS_BEFORE,
  adaptLrsAround,
  BENCH_DIR,
  RESULTS_DIR,
  commandLine,
  failUsage,
  finish,
  machine,
  median,
  positiveInt,
  printTable,
  estimate,
  renderPngs,
  T975,
  type Estimate,
  type BenchResult,
  type Cell,
  type Table,
} from './lib.js';

const SCENARIOS = ['iid', 'shards', 'dirichlet', 'rotated', 'sinusoid'] as const;
/** What runs without --scenarios: iid alone is only a base for --label-permutations. */
const DEFAULT_SCENARIOS: readonly Scenario[] = ['shards', 'dirichlet', 'rotated', 'sinusoid'];
type Scenario = (typeof SCENARIOS)[number];
/**
 * What is compared: the algorithms, plus 'fedavg-matched', fedavg with as many local epochs as it takes to
 * spend Reptile's local steps per round, so a lead of Reptile over fedavg can be told apart from its extra compute,
 * and 'fedavg-e2', fedavg with 2 local epochs: on sinusoid as many gradients per round as MAML's one inner step plus
 * its query gradient (design/learning.md §3), the FLOP-matched baseline for MAML, and 'fedavg-head', fedavg whose
 * newcomers replace the head by a fresh one and fit only that on their support set (SimOptions.freshHead): the
 * "FedAvg body + linear head" baseline that design/learning.md asks meta-learning to beat where labellings conflict.
 */
const CONTENDERS = [
  'fedavg',
  'fedavg-matched',
  'fedavg-e2',
  'fedavg-e4',
  'fedavg-head',
  'fomaml',
  'reptile',
  'maml',
  'meta-sgd',
  'per-fedavg-hf',
  'fedrep',
  'fedper',
] as const;
type Contender = (typeof CONTENDERS)[number];
const FEDAVG_VARIANTS: readonly Contender[] = ['fedavg-matched', 'fedavg-e2', 'fedavg-e4', 'fedavg-head'];
const algorithmOf = (c: Contender): Algorithm => (FEDAVG_VARIANTS.includes(c) ? 'fedavg' : (c as Algorithm));
const STEPS = [0, 1, 5, 10] as const;

const HELP = `Usage: npx tsx bench/learning.ts [options]
  --scenarios LIST        of ${SCENARIOS.join(',')}              [${DEFAULT_SCENARIOS.join(',')}]
  --algorithms LIST       of ${CONTENDERS.join(',')}             [all]
  --seeds N               seeds 1..N (seed applied to the run and to the scenario's data)      [3]
  --rounds N              MNIST rounds (100 participants, 20 held out, 10 validation, 10 per round) [20]
  --support-shots N       MNIST few-shot: N labelled support digits per participant (scenario.supportShots) [all]
  --label-permutations G  MNIST: trainers in G groups naming the digits by their own permutation, newcomers by
                          unseen ones (scenario.labelPermutations: where personalization is necessary)  [0]
  --eval-every N          MNIST: held-out evaluation every N rounds                             [2]
  --sinusoid-rounds N     sinusoid rounds (1000 participants, 200 held out, 100 validation,
                          25 per round)                                                         [500]
  --sinusoid-eval-every N sinusoid: held-out evaluation every N rounds                          [50]
  --fresh-points          sinusoid: trainers draw fresh support and query points every round (a long run
                          cannot overfit the fixed pool of 1,000 tasks x 10 points)
  --sinusoid-tau X        override the sinusoid preset's FedAdam tau (1e-3): an experiment, not the reference
                          (it writes learning.json too: set TABULA_BENCH_RESULTS_DIR to keep the reference)
  --jobs N                simulations in parallel, each its own Node process (fast engine)    [2]
  --target S=X            communication target for scenario S (accuracy in [0,1] or MSE), repeatable;
                          default: MNIST derived from fedavg + fine-tuning's curve, sinusoid fixed 2.5 (see notes)
  --name NAME             result name: writes bench/results/NAME.json and NAME-<scenario>.png, so a run of
                          one scenario at another budget keeps its own RESULTS.md section      [learning]
  --add                   run only --algorithms, at the sizes, seeds and scenarios stored in NAME.json, and add
                          their runs to it (a contender run again replaces its runs), so a long benchmark can
                          grow by a contender without re-running the others
  --reanalyze             run nothing: rebuild tables, plots and the JSON from the raw data in
                          ${relative(process.cwd(), join(RESULTS_DIR, 'NAME.json')) || 'bench/results/NAME.json'} (with --name; else learning.json)
  --quick                 smoke test (1-2 min, depending on load): 1 seed, rotated + sinusoid, 6 MNIST / 100 sinusoid rounds
  -h, --help              this text`;

// ---- sizes --------------------------------------------------------------------------------------------------

interface Sizes {
  readonly participants: number;
  readonly heldOut: number;
  /** Participants that neither train nor count in the meta-test: where fine-tuning settings get chosen. */
  readonly validation: number;
  readonly perRound: number;
  readonly rounds: number;
  readonly evaluateEvery: number;
  /** MNIST few-shot: labelled support digits per participant. */
  readonly supportShots?: number;
  /** MNIST: label-permutation groups of trainers (scenario.labelPermutations). */
  readonly labelPermutations?: number;
  /** Sinusoid: fresh support and query points every round (scenario.freshPoints). */
  readonly freshPoints?: boolean;
}

interface Job extends Sizes {
  readonly scenario: Scenario;
  readonly algorithm: Contender;
  readonly seed: number;
  /** Where the worker writes its RunRecord. */
  readonly out: string;
  /** Overrides the preset server optimizer's tau (FedAdam), if set. */
  readonly tau?: number;
}

/** One simulation's raw outcome: what the report is computed from (kept in the result JSON). */
interface RunRecord {
  readonly scenario: Scenario;
  readonly algorithm: Contender;
  readonly seed: number;
  readonly metric: 'accuracy' | 'mse';
  /** runSimulation's wall time, and the child process's (start-up, MNIST load, wasm init included). */
  readonly seconds: number;
  processSeconds: number;
  readonly parameters: number;
  readonly config: RunConfig;
  /** What computed the client updates (absent from results recorded before the fast engine: all TF.js). */
  readonly engine?: Engine;
  readonly metaTest: {
    readonly steps: readonly number[];
    readonly mean: readonly number[];
    readonly perParticipant: readonly (readonly number[])[];
    /** The validation participants' scores at the same steps (absent from results recorded before they existed). */
    readonly validation?: { readonly mean: readonly number[]; readonly perParticipant: readonly (readonly number[])[] };
    /** The inner-lr factors the fine-tuning lr was chosen from (absent from older results: ADAPT_LR_FACTORS_BEFORE). */
    readonly adaptLrFactors?: readonly number[];
    /** How a newcomer's head starts under a personal head (absent from older results: a zero output layer). */
    readonly newHead?: 'imprinted';
    /** Fine-tuning lr and steps chosen on the validation participants (absent from older results). */
    readonly tuned?: {
      readonly lr: number;
      readonly steps: number;
      readonly validation: number;
      readonly mean: number;
      readonly perParticipant: readonly number[];
    } | null;
  };
  /** At every evaluation round: held-out and trainer metrics, cumulative bytes (all traffic / training traffic). */
  readonly curve: {
    readonly round: readonly number[];
    readonly heldOutGlobal: readonly (number | null)[];
    readonly heldOutPersonalized: readonly (number | null)[];
    readonly global: readonly (number | null)[];
    readonly personalized: readonly (number | null)[];
    readonly bytes: readonly number[];
    readonly trainingBytes: readonly number[];
    /** Training loss at the same rounds. */
    readonly loss?: readonly (number | null)[];
  };
  /** Training loss per round (the worker's record; the result JSON keeps it only at the evaluation rounds, as curve.loss). */
  readonly loss?: readonly (number | null)[];
  readonly bytesPerRound: { readonly up: number; readonly down: number; readonly downEvaluationRound: number };
  /** Non-finite numbers and other anomalies seen in this run. */
  readonly problems: readonly string[];
}

function jobLabel(j: { scenario: string; algorithm: string; seed: number }): string {
  return `${j.scenario} · ${j.algorithm} · seed ${j.seed}`;
}

// ---- worker: one simulation ---------------------------------------------------------------------------------

function round4(x: number | null): number | null {
  return x === null ? null : Number.isFinite(x) ? Number(x.toPrecision(5)) : x;
}

async function worker(job: Job): Promise<void> {
  const started = performance.now();
  await useBackend('wasm');
  const preset = presetRunConfig(job.scenario, algorithmOf(job.algorithm));
  const scenario = {
    ...preset.scenario!,
    participants: job.participants,
    heldOut: job.heldOut,
    validation: job.validation,
    seed: job.seed,
    ...(job.supportShots !== undefined && job.scenario !== 'sinusoid' ? { supportShots: job.supportShots } : {}),
    ...(job.labelPermutations !== undefined && job.scenario !== 'sinusoid' ? { labelPermutations: job.labelPermutations } : {}),
    ...(job.freshPoints && job.scenario === 'sinusoid' ? { freshPoints: true } : {}),
  };
  const mnist = job.scenario === 'sinusoid' ? undefined : loadMnist();
  const input: RunConfigInput = {
    ...preset,
    scenario,
    seed: job.seed,
    rounds: job.rounds,
    perRound: job.perRound,
    evaluateEvery: job.evaluateEvery,
    ...(job.tau !== undefined && preset.server?.kind === 'fedadam' ? { server: { ...preset.server, tau: job.tau } } : {}),
  };
  if (job.algorithm === 'fedavg-e2') input.client = { ...preset.client, localEpochs: 2 };
  if (job.algorithm === 'fedavg-e4') input.client = { ...preset.client, localEpochs: 4 };
  if (job.algorithm === 'fedavg-matched') {
    const fedavg = ClientHyperSchema.parse(preset.client ?? {});
    const reptile = ClientHyperSchema.parse(presetRunConfig(job.scenario, 'reptile').client ?? {});
    const examples = mean(trainerExamples(createScenario(scenario, mnist)));
    const localEpochs = Math.max(
      1,
      Math.round(gradientsPerUpdate('reptile', reptile, examples) / gradientsPerUpdate('fedavg', { ...fedavg, localEpochs: 1 }, examples)),
    );
    input.client = { ...preset.client, localEpochs };
  }
  const simStarted = performance.now();
  const innerLr = ClientHyperSchema.parse(input.client ?? {}).innerLr;
  const adaptLrs = adaptLrsAround(innerLr);
  const result = await runSimulation(input, {
    engine: 'fast',
    adaptLrs,
    ...(job.algorithm === 'fedavg-head' ? { freshHead: true } : {}),
    ...(mnist ? { mnist } : {}),
  });
  const seconds = (performance.now() - simStarted) / 1000;

  const problems: string[] = [];
  const check = (what: string, x: number | null) => {
    if (x !== null && !Number.isFinite(x)) problems.push(`${what} = ${x}`);
  };
  const curve = {
    round: [] as number[],
    heldOutGlobal: [] as (number | null)[],
    heldOutPersonalized: [] as (number | null)[],
    global: [] as (number | null)[],
    personalized: [] as (number | null)[],
    bytes: [] as number[],
    trainingBytes: [] as number[],
  };
  let bytes = 0;
  let trainingBytes = 0;
  let down = 0;
  let downEval = 0;
  for (const r of result.rounds) {
    check(`round ${r.round} loss`, r.loss);
    const evaluated = r.heldOutPersonalized !== null || r.heldOutGlobal !== null;
    // bytesDown counts one weights frame per trainer and per held-out evaluator (simulation.ts); split them.
    const receivers = r.participants + (evaluated ? job.heldOut : 0);
    const trainingDown = receivers > 0 ? (r.bytesDown * r.participants) / receivers : 0;
    bytes += r.bytesUp + r.bytesDown;
    trainingBytes += r.bytesUp + trainingDown;
    if (evaluated) downEval = r.bytesDown;
    else down = r.bytesDown;
    if (!evaluated && r.round !== result.config.rounds) continue;
    for (const [k, v] of [
      ['heldOutGlobal', r.heldOutGlobal],
      ['heldOutPersonalized', r.heldOutPersonalized],
      ['global', r.global],
      ['personalized', r.personalized],
    ] as const)
      check(`round ${r.round} ${k}`, v);
    curve.round.push(r.round);
    curve.heldOutGlobal.push(round4(r.heldOutGlobal));
    curve.heldOutPersonalized.push(round4(r.heldOutPersonalized));
    curve.global.push(round4(r.global));
    curve.personalized.push(round4(r.personalized));
    curve.bytes.push(bytes);
    curve.trainingBytes.push(Math.round(trainingBytes));
  }
  result.metaTest.mean.forEach((m, i) => check(`meta-test mean k=${result.metaTest.steps[i]}`, m));
  const record: RunRecord = {
    scenario: job.scenario,
    algorithm: job.algorithm,
    seed: job.seed,
    metric: result.metaTest.metric,
    seconds,
    processSeconds: (performance.now() - started) / 1000,
    parameters: result.parameters,
    config: result.config,
    engine: fastEngineSupports(result.config.model, result.config.algorithm) ? 'fast' : 'tfjs',
    metaTest: {
      steps: result.metaTest.steps,
      adaptLrFactors: [...ADAPT_LR_FACTORS],
      newHead: 'imprinted',
      mean: result.metaTest.mean.map((x) => round4(x)!),
      perParticipant: result.metaTest.perParticipant.map((row) => row.map((x) => round4(x)!)),
      validation: {
        mean: result.metaTest.validation.mean.map((x) => round4(x)!),
        perParticipant: result.metaTest.validation.perParticipant.map((row) => row.map((x) => round4(x)!)),
      },
      tuned: result.metaTest.tuned && {
        ...result.metaTest.tuned,
        mean: round4(result.metaTest.tuned.mean)!,
        perParticipant: result.metaTest.tuned.perParticipant.map((x) => round4(x)!),
      },
    },
    curve,
    loss: result.rounds.map((r) => round4(r.loss)),
    bytesPerRound: { up: result.rounds[0]?.bytesUp ?? 0, down, downEvaluationRound: downEval },
    problems: problems.slice(0, 20),
  };
  writeFileSync(job.out, JSON.stringify(record));
}

// ---- statistics ---------------------------------------------------------------------------------------------

// ---- orchestration ------------------------------------------------------------------------------------------

/** Rough relative cost, only to start the long simulations first (measured here: MNIST maml/fomaml ~2x fedavg). */
function cost(j: Job): number {
  const perRound =
    j.scenario === 'sinusoid'
      ? {
          fedavg: 0.04,
          'fedavg-matched': 0.1,
          'fedavg-e2': 0.05,
          'fedavg-e4': 0.06,
          'fedavg-head': 0.04,
          fomaml: 0.05,
          reptile: 0.12,
          maml: 0.07,
          'meta-sgd': 0.08,
          'per-fedavg-hf': 0.08,
          fedrep: 0.06,
          fedper: 0.04,
        }[j.algorithm]
      : {
          fedavg: 2.3,
          'fedavg-matched': 2.8,
          'fedavg-e2': 2.8,
          'fedavg-e4': 3.5,
          'fedavg-head': 2.3,
          fomaml: 3.5,
          reptile: 1.6,
          maml: 3.7,
          'meta-sgd': 3.7,
          'per-fedavg-hf': 3.7,
          fedrep: 3,
          fedper: 2.3,
        }[j.algorithm];
  return perRound * j.rounds;
}

async function runJobs(jobs: readonly Job[], parallel: number): Promise<RunRecord[]> {
  const self = fileURLToPath(import.meta.url);
  const queue = [...jobs].sort((a, b) => cost(b) - cost(a));
  const records: RunRecord[] = [];
  let done = 0;
  const width = String(jobs.length).length;
  const runOne = (job: Job) =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      // process.execArgv carries tsx's loader, so the child runs TypeScript exactly as this process does.
      const child = spawn(process.execPath, [...process.execArgv, self, '--worker', JSON.stringify(job)], {
        stdio: ['ignore', 'inherit', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code, signal) => {
        const wall = (performance.now() - started) / 1000;
        done++;
        const tag = `[${String(done).padStart(width)}/${jobs.length}] ${jobLabel(job)}`;
        try {
          if (code !== 0) throw new Error(`exit ${code ?? signal}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
          const record = JSON.parse(readFileSync(job.out, 'utf8')) as RunRecord;
          record.processSeconds = wall;
          records.push(record);
          const mt = record.metaTest;
          const shown = mt.steps.map((k, i) => `k=${k} ${formatMetric(record.metric, mt.mean[i]!)}`).join(' ');
          console.log(
            `${tag}: ${record.seconds.toFixed(1)} s simulation (${wall.toFixed(1)} s process) · meta-test ${shown}${record.problems.length ? ` · PROBLEMS: ${record.problems.slice(0, 3).join('; ')}` : ''}`,
          );
        } catch (error) {
          console.error(`${tag}: FAILED after ${wall.toFixed(1)} s: ${error instanceof Error ? error.message : String(error)}`);
        }
        resolve();
      });
    });
  const lanes = Array.from({ length: Math.min(parallel, queue.length) }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await runOne(job);
  });
  await Promise.all(lanes);
  return records;
}

// ---- analysis -----------------------------------------------------------------------------------------------

function formatMetric(metric: 'accuracy' | 'mse', x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return metric === 'accuracy' ? `${(100 * x).toFixed(1)}%` : x.toFixed(3);
}

function formatEstimate(metric: 'accuracy' | 'mse', e: Estimate, signed = false): string {
  if (!Number.isFinite(e.mean)) return 'n/a';
  let mean = metric === 'accuracy' ? (100 * e.mean).toFixed(1) : mse(e.mean);
  if (/^-0\.0+$/.test(mean)) mean = mean.slice(1); // no "-0.0"
  if (signed && Number(mean) > 0) mean = `+${mean}`;
  mean = metric === 'accuracy' ? `${mean}${signed ? ' pp' : '%'}` : mean;
  if (!Number.isFinite(e.half)) return mean;
  return `${mean} ± ${metric === 'accuracy' ? (100 * e.half).toFixed(1) : mse(e.half)}`;
}

/** An MSE to 3 decimals; a diverged one (adaptation blowing up) short, in exponent form. */
function mse(x: number): string {
  return Math.abs(x) >= 1e4 ? x.toExponential(1) : x.toFixed(3);
}

function better(metric: 'accuracy' | 'mse', a: number, b: number): boolean {
  return metric === 'accuracy' ? a > b : a < b;
}

const SCENARIO_TITLE: Record<Scenario, string> = {
  iid: 'MNIST, digits spread evenly over participants',
  shards: 'MNIST shards (2 label shards per participant)',
  dirichlet: 'MNIST Dirichlet label skew (α 0.5)',
  rotated: 'rotated MNIST (0/90/180/270° per participant, label skew α 1)',
  sinusoid: 'one sine task A·sin(x − φ) per participant, A ∈ [0.1, 5], φ ∈ [0, π], x ∈ [−5, 5]; K = 5 support points',
};

const SCENARIO_SHORT: Record<Scenario, string> = {
  shards: 'MNIST shards',
  iid: 'MNIST IID',
  dirichlet: 'MNIST Dirichlet',
  rotated: 'rotated MNIST',
  sinusoid: 'sinusoid (K = 5)',
};

const COLORS: Record<Contender, string> = {
  fedavg: '#555555',
  'fedavg-matched': '#9467bd',
  fomaml: '#1f77b4',
  reptile: '#2ca02c',
  maml: '#d62728',
  'fedavg-e2': '#8c564b',
  'meta-sgd': '#ff7f0e',
  'per-fedavg-hf': '#17becf',
  'fedavg-e4': '#c49c94',
  'fedavg-head': '#7f7f7f',
  fedrep: '#e377c2',
  fedper: '#bcbd22',
};

interface Settings {
  readonly scenarios: readonly Scenario[];
  readonly algorithms: readonly Contender[];
  readonly seeds: readonly number[];
  readonly mnist: Sizes;
  readonly sinusoid: Sizes;
  readonly jobs: number;
  readonly targets: Partial<Record<Scenario, number>>;
  readonly sinusoidTau?: number;
  /** The result's name (bench/results/NAME.json); absent: 'learning'. */
  readonly name?: string;
}

interface Target {
  readonly value: number;
  readonly how: string;
}

function byKey(records: readonly RunRecord[]): Map<string, RunRecord[]> {
  const map = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = `${r.scenario}/${r.algorithm}`;
    map.set(
      key,
      [...(map.get(key) ?? []), r].sort((a, b) => a.seed - b.seed),
    );
  }
  return map;
}

/** Mean over seeds (and 95% t interval) of a curve field at each evaluation round. */
function meanCurve(runs: readonly RunRecord[], field: 'heldOutPersonalized' | 'heldOutGlobal'): { round: number; est: Estimate }[] {
  const first = runs[0];
  if (!first) return [];
  return first.curve.round.map((round) => ({
    round,
    est: estimate(
      runs.map((r) => r.curve[field][r.curve.round.indexOf(round)]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)),
    ),
  }));
}

/**
 * The default target of a scenario: the running best (max accuracy / min MSE) of fedavg + fine-tuning's mean
 * curve over seeds at the evaluation round nearest 2/3 of the run, rounded down to a whole percent (accuracy) or
 * up to 0.01 (MSE). So fedavg + fine-tuning reaches it late in the run, typically in every seed.
 */
function defaultTarget(fedavg: readonly RunRecord[], metric: 'accuracy' | 'mse'): Target | null {
  const curve = meanCurve(fedavg, 'heldOutPersonalized').filter((p) => Number.isFinite(p.est.mean));
  if (!curve.length) return null;
  const rounds = fedavg[0]!.config.rounds;
  let at = 0;
  for (let i = 0; i < curve.length; i++)
    if (Math.abs(curve[i]!.round - (2 * rounds) / 3) < Math.abs(curve[at]!.round - (2 * rounds) / 3)) at = i;
  const upTo = curve.slice(0, at + 1).map((p) => p.est.mean);
  const best = metric === 'accuracy' ? Math.max(...upTo) : Math.min(...upTo);
  const value = metric === 'accuracy' ? Math.floor(best * 100) / 100 : Math.ceil(best * 100) / 100;
  return {
    value,
    how: `fedavg + fine-tuning's best mean-over-seeds level up to round ${curve[at]!.round} of ${rounds} (${formatMetric(metric, best)}), rounded ${metric === 'accuracy' ? 'down to a whole percent' : 'up to 0.01'}`,
  };
}

/**
 * Scenarios where the fedavg-derived rule gives no meaningful level. Sinusoid: fedavg + fine-tuning's curve is
 * shallow and noisy for most of a 500-round run, so a fixed level is used instead: MSE 2.5, a little above the
 * MAML paper's joint-training result (2.19), i.e. "as good as joint training gets".
 */
const FIXED_TARGETS: Partial<Record<Scenario, Target>> = {
  sinusoid: {
    value: 2.5,
    how: "fixed, not derived: a little above the MAML paper's joint-training MSE (2.19), since fedavg + fine-tuning's own curve is too shallow and noisy to derive a level from",
  },
};

interface Reach {
  /** Per seed: first evaluation round whose held-out personalized metric reaches the target; Infinity if none. */
  readonly rounds: readonly number[];
  readonly bytes: readonly number[];
  readonly medianRounds: number;
  readonly medianBytes: number;
  readonly reached: number;
  /** The whole run's bytes, for "more than" bounds. */
  readonly totalBytes: number;
}

function reach(
  runs: readonly RunRecord[],
  metric: 'accuracy' | 'mse',
  target: number,
  field: 'heldOutPersonalized' | 'heldOutGlobal' = 'heldOutPersonalized',
): Reach {
  const rounds: number[] = [];
  const bytes: number[] = [];
  for (const r of runs) {
    const i = r.curve[field].findIndex((x) => typeof x === 'number' && (metric === 'accuracy' ? x >= target : x <= target));
    rounds.push(i < 0 ? Number.POSITIVE_INFINITY : r.curve.round[i]!);
    bytes.push(i < 0 ? Number.POSITIVE_INFINITY : r.curve.bytes[i]!);
  }
  return {
    rounds,
    bytes,
    medianRounds: median(rounds),
    medianBytes: median(bytes),
    reached: rounds.filter(Number.isFinite).length,
    totalBytes: median(runs.map((r) => r.curve.bytes[r.curve.bytes.length - 1] ?? 0)),
  };
}

function mb(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 1e6).toFixed(1) : 'not reached';
}

// ---- plots --------------------------------------------------------------------------------------------------

function niceTicks(lo: number, hi: number, count = 6, integer = false): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = Math.max(integer ? 1 : 0, 10 ** Math.floor(Math.log10(raw)));
  const step = (integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]).map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step) ticks.push(Number(t.toPrecision(10)));
  return ticks;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface PlotLine {
  readonly color: string;
  readonly dashed: boolean;
  readonly points: readonly { x: number; y: number }[];
  readonly band?: readonly { x: number; lo: number; hi: number }[];
}

/** Where a sinusoid plot's MSE axis stops: above predicting 0 everywhere (E[A²]/2 ≈ 4.25). */
const MSE_AXIS_CAP = 6;

function learningCurveSvg(
  scenario: Scenario,
  groups: Map<string, RunRecord[]>,
  algorithms: readonly Contender[],
  target: Target | null,
): string | null {
  const lines: PlotLine[] = [];
  let metric: 'accuracy' | 'mse' = 'accuracy';
  let sample: RunRecord | undefined;
  const present: Contender[] = [];
  for (const algorithm of algorithms) {
    const runs = groups.get(`${scenario}/${algorithm}`) ?? [];
    if (!runs.length) continue;
    present.push(algorithm);
    sample ??= runs[0];
    metric = runs[0]!.metric;
    const toPoints = (c: { round: number; est: Estimate }[]) =>
      c.filter((p) => Number.isFinite(p.est.mean)).map((p) => ({ x: p.round, y: p.est.mean }));
    const personal = meanCurve(runs, 'heldOutPersonalized');
    const band = personal
      .filter((p) => Number.isFinite(p.est.half))
      .map((p) => ({ x: p.round, lo: p.est.mean - p.est.half, hi: p.est.mean + p.est.half }));
    lines.push({ color: COLORS[algorithm], dashed: true, points: toPoints(meanCurve(runs, 'heldOutGlobal')) });
    lines.push({ color: COLORS[algorithm], dashed: false, points: toPoints(personal), ...(band.length ? { band } : {}) });
  }
  if (!sample) return null;
  const seeds = new Set(
    [...groups.values()]
      .flat()
      .filter((r) => r.scenario === scenario)
      .map((r) => r.seed),
  ).size;
  const accuracy = metric === 'accuracy';
  const W = 980;
  const H = 600;
  const m = { left: 78, right: 250, top: 92, bottom: 62 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const rounds = sample.config.rounds;
  // A diverged evaluation (MSE in the millions) would flatten every other curve: the axis stops at MSE_AXIS_CAP.
  const ys = lines
    .flatMap((l) => [...l.points.map((p) => p.y), ...(l.band ?? []).flatMap((b) => [b.lo, b.hi])])
    .filter((y) => Number.isFinite(y) && (metric === 'accuracy' || y <= MSE_AXIS_CAP));
  const cut = metric === 'mse' && lines.some((l) => l.points.some((p) => p.y > MSE_AXIS_CAP));
  if (target) ys.push(target.value);
  let yLo = Math.min(...ys);
  let yHi = Math.max(...ys);
  if (accuracy) {
    yLo = Math.max(0, yLo - 0.02);
    yHi = Math.min(1, yHi + 0.02);
  } else {
    yLo = 0;
    yHi *= 1.05;
  }
  const yTicks = niceTicks(yLo, yHi);
  const step = yTicks.length > 1 ? yTicks[1]! - yTicks[0]! : 1;
  yLo = Math.min(yLo, yTicks[0]!);
  if (yTicks[yTicks.length - 1]! < yHi) yTicks.push(Number((yTicks[yTicks.length - 1]! + step).toPrecision(10)));
  yHi = yTicks[yTicks.length - 1]!;
  if (accuracy && yTicks[0]! > yLo) {
    yLo = Math.max(0, yTicks[0]! - step);
    yTicks.unshift(Number(yLo.toPrecision(10)));
  }
  yLo = Math.min(yLo, yTicks[0]!);
  const xTicks = niceTicks(0, rounds, 10, true);
  const X = (x: number) => m.left + (x / rounds) * pw;
  const Y = (y: number) => m.top + ph - ((y - yLo) / (yHi - yLo)) * ph;
  const fmtY = (y: number) => (accuracy ? `${Math.round(100 * y * 10) / 10}%` : String(Number(y.toPrecision(3))));
  const k = sample.config.client.adaptSteps;
  const heldOut = sample.config.scenario?.heldOut ?? 0;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Liberation Sans, sans-serif">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(
    `<text x="${m.left}" y="30" font-size="19" font-weight="bold">${escapeXml(`${SCENARIO_SHORT[scenario]}: held-out ${accuracy ? 'accuracy' : 'MSE'} vs federated round`)}</text>`,
  );
  out.push(`<text x="${m.left}" y="52" font-size="13" fill="#444">${escapeXml(SCENARIO_TITLE[scenario])}</text>`);
  out.push(
    `<text x="${m.left}" y="70" font-size="13" fill="#444">${escapeXml(`${heldOut} held-out participants (never trained) per seed · mean of ${seeds} seed${seeds === 1 ? '' : 's'}${seeds > 1 ? ', band = 95% t interval over seeds' : ''} · ${accuracy ? 'higher' : 'lower'} is better`)}</text>`,
  );
  // grid and axes
  for (const t of yTicks) {
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${m.left - 8}" y="${Y(t) + 4}" font-size="12" text-anchor="end" fill="#333">${fmtY(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${X(t)}" y="${m.top + ph + 18}" font-size="12" text-anchor="middle" fill="#333">${t}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 16}" font-size="14" text-anchor="middle">federated round</text>`);
  out.push(
    `<text transform="translate(22 ${m.top + ph / 2}) rotate(-90)" font-size="14" text-anchor="middle">${escapeXml(accuracy ? 'held-out test accuracy' : 'held-out test MSE')}</text>`,
  );
  out.push(`<clipPath id="plot"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath>`);
  out.push('<g clip-path="url(#plot)">');
  for (const l of lines) {
    if (!l.band || l.band.length < 2) continue;
    const upper = l.band.map((b) => `${X(b.x).toFixed(1)},${Y(b.hi).toFixed(1)}`);
    const lower = [...l.band].reverse().map((b) => `${X(b.x).toFixed(1)},${Y(b.lo).toFixed(1)}`);
    out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${l.color}" fill-opacity="0.11" stroke="none"/>`);
  }
  if (target) {
    out.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${Y(target.value)}" y2="${Y(target.value)}" stroke="#000" stroke-width="1" stroke-dasharray="1 4"/>`,
    );
  }
  for (const l of lines) {
    if (!l.points.length) continue;
    const d = l.points.map((p, i) => `${i ? 'L' : 'M'}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${l.color}" stroke-width="${l.dashed ? 1.6 : 2.4}"${l.dashed ? ' stroke-dasharray="7 5" stroke-opacity="0.85"' : ''}/>`,
    );
    if (!l.dashed)
      for (const p of l.points) out.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="2.6" fill="${l.color}"/>`);
  }
  out.push('</g>');
  if (target) out.push(`<text x="${m.left + 6}" y="${Y(target.value) - 5}" font-size="11" fill="#000">target ${fmtY(target.value)}</text>`);
  // legend
  const lx = m.left + pw + 22;
  let ly = m.top + 8;
  out.push(`<text x="${lx}" y="${ly}" font-size="13" font-weight="bold">algorithm</text>`);
  ly += 22;
  for (const a of present) {
    out.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="${COLORS[a]}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 36}" y="${ly}" font-size="13">${a === 'fedavg' ? 'fedavg' : a}</text>`);
    ly += 21;
  }
  ly += 12;
  out.push(`<text x="${lx}" y="${ly}" font-size="13" font-weight="bold">line</text>`);
  ly += 22;
  const key = (dashed: boolean, text: string[]) => {
    out.push(
      `<line x1="${lx}" x2="${lx + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="#333" stroke-width="${dashed ? 1.6 : 2.4}"${dashed ? ' stroke-dasharray="7 5"' : ''}/>`,
    );
    text.forEach((t, i) => out.push(`<text x="${lx + 36}" y="${ly + 16 * i}" font-size="12">${escapeXml(t)}</text>`));
    ly += 16 * text.length + 10;
  };
  key(false, [`personalized: after ${k} SGD`, `steps on the support set`, `(fedavg: + fine-tuning)`]);
  key(true, ['global model, no', 'adaptation (k = 0)']);
  if (seeds > 1) {
    out.push(`<rect x="${lx}" y="${ly - 11}" width="28" height="12" fill="#333" fill-opacity="0.13"/>`);
    out.push(`<text x="${lx + 36}" y="${ly}" font-size="12">95% CI, personalized</text>`);
    ly += 26;
  }
  if (target) {
    out.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="#000" stroke-dasharray="1 4"/>`);
    out.push(`<text x="${lx + 36}" y="${ly}" font-size="12">communication target</text>`);
    ly += 26;
  }
  const lr = sample.config.client.innerLr;
  if (cut) out.push(`<text x="${lx}" y="${m.top + ph - 16}" font-size="11" fill="#555">MSE axis cut at ${MSE_AXIS_CAP}</text>`);
  out.push(`<text x="${lx}" y="${m.top + ph}" font-size="11" fill="#555">adaptation lr ${lr}; evaluated</text>`);
  out.push(`<text x="${lx}" y="${m.top + ph + 14}" font-size="11" fill="#555">every ${sample.config.evaluateEvery} rounds</text>`);
  out.push('</svg>');
  return out.join('\n');
}

// ---- report -------------------------------------------------------------------------------------------------

/** Which engine computed the runs' client updates, in words (records from before the fast engine: TF.js wasm). */
function engineOf(records: readonly RunRecord[]): string {
  const fast = records.filter((r) => r.engine === 'fast').length;
  if (fast === records.length) return 'the fast plain-JS engine';
  if (fast === 0) return 'TF.js, wasm backend';
  return `the fast plain-JS engine (${fast} runs) and TF.js wasm (${records.length - fast}, where the fast engine does not apply)`;
}

/** Local examples (support + query) of each of a scenario's trainers: what a fedavg epoch walks through. */
function trainerExamples(data: ReturnType<typeof createScenario>): number[] {
  const idle = new Set([...data.heldOut, ...data.validation]);
  return Array.from({ length: data.participants }, (_, i) => i)
    .filter((i) => !idle.has(i))
    .map((i) => data.participant(i))
    .map((p) => p.support.count + p.query.count);
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** How a contender is named in tables: the matched fedavg says how many epochs its runs took. */
function labelOf(a: Contender, runs: readonly RunRecord[]): string {
  if (a === 'fedavg-matched') return `fedavg + fine-tuning, ${runs[0]?.config.client.localEpochs ?? '?'} epochs (reptile's local steps)`;
  if (a === 'fedavg-e2') return 'fedavg + fine-tuning, 2 epochs';
  if (a === 'fedavg-e4') return 'fedavg + fine-tuning, 4 epochs';
  if (a === 'fedavg-head') return 'fedavg + a new head fitted';
  if (a === 'fedrep' || a === 'fedper') return `${a} (head fitted, body shared)`;
  return a;
}

async function report(
  settings: Settings,
  records: readonly RunRecord[],
  meta: { command: string; date: string; quick: boolean; seconds: number; wallSeconds: number; failures: readonly string[] },
): Promise<BenchResult> {
  const groups = byKey(records);
  const scenarios = settings.scenarios.filter((s) => settings.algorithms.some((a) => groups.has(`${s}/${a}`)));
  const metricOf = (s: Scenario): 'accuracy' | 'mse' => (s === 'sinusoid' ? 'mse' : 'accuracy');
  const stepIndex = (r: RunRecord, k: number) => r.metaTest.steps.indexOf(k);
  const at = (runs: readonly RunRecord[], k: number) =>
    estimate(runs.map((r) => r.metaTest.mean[stepIndex(r, k)]!).filter((x) => Number.isFinite(x)));
  const paired = (runs: readonly RunRecord[], base: readonly RunRecord[], k: number) =>
    estimate(
      runs
        .flatMap((r) => {
          const b = base.find((x) => x.seed === r.seed);
          const [x, y] = [r.metaTest.mean[stepIndex(r, k)], b?.metaTest.mean[stepIndex(b, k)]];
          // A non-finite score is null in the result JSON: it must not count as 0.
          return typeof x === 'number' && typeof y === 'number' ? [x - y] : [];
        })
        .filter((x) => Number.isFinite(x)),
    );
  // Everything shown against fedavg + fine-tuning; the meta-learners among them compete for "best".
  const others = settings.algorithms.filter((a) => a !== 'fedavg');
  const metaLearners = others.filter((a) => !FEDAVG_VARIANTS.includes(a));
  const seedsRun = [...new Set(records.map((r) => r.seed))].sort((a, b) => a - b);
  const nSeeds = seedsRun.length;

  // 1. meta-test
  const metaRows: Cell[][] = [];
  const deltaRows: Cell[][] = [];
  const headline: string[] = [];
  for (const s of scenarios) {
    const metric = metricOf(s);
    const fedavg = groups.get(`${s}/fedavg`) ?? [];
    if (fedavg.length) {
      const plain = at(fedavg, 0);
      metaRows.push([s, 'fedavg (no adaptation)', fedavg.length, ...STEPS.map(() => formatEstimate(metric, plain))]);
      metaRows.push([s, 'fedavg + fine-tuning', fedavg.length, ...STEPS.map((k) => formatEstimate(metric, at(fedavg, k)))]);
    }
    for (const a of others) {
      const runs = groups.get(`${s}/${a}`) ?? [];
      if (!runs.length) continue;
      metaRows.push([s, labelOf(a, runs), runs.length, ...STEPS.map((k) => formatEstimate(metric, at(runs, k)))]);
      if (fedavg.length) deltaRows.push([s, labelOf(a, runs), ...STEPS.map((k) => formatEstimate(metric, paired(runs, fedavg, k), true))]);
    }
    // headline: the best meta-learner at k=5 and k=10 vs fedavg + fine-tuning
    const parts: string[] = [];
    for (const k of [5, 10]) {
      const candidates = metaLearners.filter((a) => groups.has(`${s}/${a}`)).map((a) => ({ a, e: at(groups.get(`${s}/${a}`)!, k) }));
      const best = candidates.length ? candidates.reduce((x, y) => (better(metric, y.e.mean, x.e.mean) ? y : x)) : null;
      const base = fedavg.length ? at(fedavg, k) : null;
      if (best && base) {
        const d = paired(groups.get(`${s}/${best.a}`)!, fedavg, k);
        const winner =
          Math.abs(best.e.mean - base.mean) < 1e-9 ? 'tie' : better(metric, best.e.mean, base.mean) ? best.a : 'fedavg + fine-tuning';
        parts.push(
          `k=${k}: best meta-learner ${best.a} ${formatEstimate(metric, best.e)} vs fedavg + fine-tuning ${formatEstimate(metric, base)} (paired Δ ${formatEstimate(metric, d, true)}; better mean: ${winner})`,
        );
      } else if (best) parts.push(`k=${k}: best ${best.a} ${formatEstimate(metric, best.e)}`);
      else if (base) parts.push(`k=${k}: fedavg + fine-tuning ${formatEstimate(metric, base)}`);
    }
    const matched = groups.get(`${s}/fedavg-matched`);
    const reptile = groups.get(`${s}/reptile`);
    if (matched?.length && reptile?.length) {
      parts.push(
        `reptile vs ${labelOf('fedavg-matched', matched)} (the same local steps): paired Δ k=5 ${formatEstimate(metric, paired(reptile, matched, 5), true)}, k=10 ${formatEstimate(metric, paired(reptile, matched, 10), true)}`,
      );
    }
    const e2 = groups.get(`${s}/fedavg-e2`);
    const maml = groups.get(`${s}/maml`);
    if (e2?.length && maml?.length) {
      parts.push(
        `maml − ${labelOf('fedavg-e2', e2)}, paired: ${[1, 5, 10].map((k) => `k=${k} ${formatEstimate(metric, paired(maml, e2, k), true)}`).join(', ')}`,
      );
    }
    headline.push(`${s} (${metric === 'accuracy' ? 'accuracy, higher is better' : 'MSE, lower is better'}): ${parts.join('; ')}`);
  }
  const metaTable: Table = {
    title: `Meta-test on held-out participants (never trained): ${scenarios.includes('sinusoid') ? 'accuracy (MNIST) / MSE (sinusoid)' : 'accuracy'} after k adaptation steps, mean over seeds ± 95% CI`,
    columns: ['scenario', 'algorithm', 'seeds', ...STEPS.map((k) => `k=${k}`)],
    rows: metaRows,
    note: `Mean over seeds of each seed's mean over its held-out participants; ± is the half-width of the 95% confidence interval from Student's t over the per-seed means (df = seeds − 1${nSeeds > 1 ? ` = ${nSeeds - 1}, t = ${T975[nSeeds - 2] ?? 1.96}` : ''}; n/a with one seed). Adaptation: k full-batch SGD steps on the participant's support set at the preset's inner lr (MNIST 0.05, sinusoid 0.01), scored on its test set. Plain fedavg does not adapt: its k=0 figure is repeated in every column.`,
  };
  const deltaTable: Table = {
    title: 'Difference to fedavg + fine-tuning at the same k, paired by seed (same data and initial weights), mean ± 95% CI',
    columns: ['scenario', 'algorithm', ...STEPS.map((k) => `Δ k=${k}`)],
    rows: deltaRows,
    note: 'Accuracy in percentage points (+ is better); MSE (− is better). An interval that contains 0 means the seeds do not separate the two.',
  };

  // 1b. fine-tuning chosen on validation participants, per-participant distributions, who personalization hurt
  const tunedRows: Cell[][] = [];
  const quantile = (xs: readonly number[], q: number): number => {
    const sorted = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
    if (!sorted.length) return Number.NaN;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
  };
  const tunedOf = (r: RunRecord) => r.metaTest.tuned ?? null;
  for (const s of scenarios) {
    const metric = metricOf(s);
    const fedavg = groups.get(`${s}/fedavg`) ?? [];
    for (const a of settings.algorithms) {
      const runs = (groups.get(`${s}/${a}`) ?? []).filter((r) => tunedOf(r));
      if (!runs.length) continue;
      const est = estimate(runs.map((r) => tunedOf(r)!.mean).filter(Number.isFinite));
      const d = estimate(
        runs.flatMap((r) => {
          const b = fedavg.find((x) => x.seed === r.seed);
          const [x, y] = [tunedOf(r)?.mean, b ? tunedOf(b)?.mean : undefined];
          return typeof x === 'number' && typeof y === 'number' && Number.isFinite(x - y) ? [x - y] : [];
        }),
      );
      const pooled = runs.flatMap((r) => tunedOf(r)!.perParticipant);
      // Worse than plain fedavg's global model on the same participant (same seed: same held-out participants, in order).
      let worse = 0;
      let compared = 0;
      for (const r of runs) {
        const b = fedavg.find((x) => x.seed === r.seed);
        const k0 = b ? b.metaTest.steps.indexOf(0) : -1;
        if (!b || k0 < 0) continue;
        tunedOf(r)!.perParticipant.forEach((x, i) => {
          const base = b.metaTest.perParticipant[i]?.[k0];
          if (typeof base !== 'number') return;
          compared++;
          if (!Number.isFinite(x) || better(metric, base, x)) worse++;
        });
      }
      const chosen = (f: (t: NonNullable<RunRecord['metaTest']['tuned']>) => number) => runs.map((r) => f(tunedOf(r)!)).join(', ');
      tunedRows.push([
        s,
        labelOf(a, runs),
        chosen((t) => t.lr),
        chosen((t) => t.steps),
        formatEstimate(metric, est),
        a === 'fedavg' ? '–' : formatEstimate(metric, d, true),
        [0.1, 0.5, 0.9].map((q) => formatMetric(metric, quantile(pooled, q))).join(' / '),
        compared ? `${((100 * worse) / compared).toFixed(0)}% (${worse}/${compared})` : '–',
      ]);
    }
  }
  const tunedTable: Table = {
    title: 'Fine-tuning chosen on validation participants: held-out result, per-participant spread, and who personalization made worse',
    columns: [
      'scenario',
      'algorithm',
      'lr chosen (per seed)',
      'k chosen (per seed)',
      'held-out, mean ± 95% CI',
      'Δ vs fedavg + FT (tuned), paired',
      'participants p10 / p50 / p90',
      'worse than plain fedavg',
    ],
    rows: tunedRows,
    note: `Each run picks the adaptation learning rate (its preset's inner lr x ${[...new Set(records.map((r) => (r.metaTest.adaptLrFactors ?? ADAPT_LR_FACTORS_BEFORE).join(', ')))].join(' or ')}) and the step count (of k = ${STEPS.join(', ')}) with the best mean on its validation participants (neither trained nor held out), then scores its held-out participants with them (packages/core/src/sim/simulation.ts, MetaTest.tuned). Meta-SGD adapts at its learned rates (lr column: its inner lr, unused). fedrep, fedper and fedavg + a new head adapt only a new head for a newcomer: ${records.some((r) => r.metaTest.newHead !== 'imprinted' && ['fedrep', 'fedper'].includes(r.algorithm)) ? 'in runs recorded before imprinting, a zero output layer whose k = 0 predicts nothing; otherwise ' : ''}a classifier's is imprinted from its support set (each class at its examples' mean feature, learn/imprint.ts), so its k = 0 is the nearest-class-mean classifier on the body's features, and a regressor's starts at zero. Percentiles pool every held-out participant of every seed. "Worse than plain fedavg": share of held-out participants whose tuned score is worse than plain fedavg's global model (no adaptation) on the same participant, same seed — the participants for whom this method's personalization did not pay.`,
  };

  // 2. communication to a target
  const commRows: Cell[][] = [];
  const targets: Record<string, Target> = {};
  const ratioLines: string[] = [];
  const plainRatioLines: string[] = [];
  /** base's median MB / this one's, with bounds where one of them never reached the target. */
  const ratioOf = (base: Reach | null, r: Reach): string => {
    if (!base) return '–';
    if (Number.isFinite(base.medianBytes) && Number.isFinite(r.medianBytes)) return `${(base.medianBytes / r.medianBytes).toFixed(2)}x`;
    if (Number.isFinite(r.medianBytes)) return `> ${(base.totalBytes / r.medianBytes).toFixed(2)}x`;
    if (Number.isFinite(base.medianBytes)) return `< ${(base.medianBytes / r.totalBytes).toFixed(2)}x`;
    return 'neither reached';
  };
  for (const s of scenarios) {
    const metric = metricOf(s);
    const fedavg = groups.get(`${s}/fedavg`) ?? [];
    const override = settings.targets[s];
    const fixed = FIXED_TARGETS[s];
    const target: Target | null =
      override !== undefined
        ? { value: override, how: 'given with --target' }
        : fixed
          ? fixed
          : fedavg.length
            ? defaultTarget(fedavg, metric)
            : null;
    if (!target) continue;
    targets[s] = target;
    const tuned = fedavg.length ? reach(fedavg, metric, target.value) : null;
    const plain = fedavg.length ? reach(fedavg, metric, target.value, 'heldOutGlobal') : null;
    const ratios: string[] = [];
    const plainRatios: string[] = [];
    const row = (name: string, r: Reach, n: number, vsTuned: string, vsPlain: string): Cell[] => [
      s,
      name,
      formatMetric(metric, target.value),
      Number.isFinite(r.medianRounds) ? r.medianRounds : 'not reached',
      r.rounds.map((x) => (Number.isFinite(x) ? String(x) : '–')).join(', '),
      mb(r.medianBytes),
      `${r.reached}/${n}`,
      vsTuned,
      vsPlain,
    ];
    if (plain) commRows.push(row('fedavg (no adaptation)', plain, fedavg.length, '–', '–'));
    if (tuned) commRows.push(row('fedavg + fine-tuning', tuned, fedavg.length, '–', ratioOf(plain, tuned)));
    for (const a of others) {
      const runs = groups.get(`${s}/${a}`) ?? [];
      if (!runs.length) continue;
      const r = reach(runs, metric, target.value);
      const vsTuned = ratioOf(tuned, r);
      const vsPlain = ratioOf(plain, r);
      if (tuned) ratios.push(`${a} ${vsTuned}`);
      if (plain) plainRatios.push(`${a} ${vsPlain}`);
      commRows.push(row(labelOf(a, runs), r, runs.length, vsTuned, vsPlain));
    }
    if (ratios.length) ratioLines.push(`${s} (target ${formatMetric(metric, target.value)}): ${ratios.join(', ')}`);
    if (plainRatios.length) plainRatioLines.push(`${s}: ${plainRatios.join(', ')}`);
  }
  const commTable: Table = {
    title: 'Rounds and bytes until the held-out metric first reaches the target (median over seeds)',
    columns: [
      'scenario',
      'algorithm',
      'target',
      'rounds (median)',
      'rounds per seed',
      'MB up+down (median)',
      'seeds reached',
      'fedavg+FT / this',
      'plain fedavg / this',
    ],
    rows: commRows,
    note: `Every row but "fedavg (no adaptation)" uses the held-out personalized metric (mean over the held-out participants after adaptSteps SGD steps: MNIST 5, sinusoid 10); that row uses the held-out global metric of the same fedavg runs (what FedAvg without personalization delivers). Measured only every evaluateEvery rounds (MNIST ${settings.mnist.evaluateEvery}, sinusoid ${settings.sinusoid.evaluateEvery}): rounds are resolved to that grid. A seed that never reaches the target counts as infinite, so the median is "not reached" when most seeds do not. MB = cumulative bytesUp + bytesDown of simulation.ts (every trainer's delta up, the weights down to every trainer and, on evaluation rounds, to every held-out participant). Ratio columns: the baseline's median MB / this row's; > 1 means this row needs less communication; "> x" / "< x" are bounds where one side never reached the target (its whole run's bytes used).`,
  };

  // timing
  const timeRows: Cell[][] = [];
  for (const s of scenarios) {
    for (const a of settings.algorithms) {
      const runs = groups.get(`${s}/${a}`) ?? [];
      if (!runs.length) continue;
      const sec = runs.map((r) => r.seconds);
      timeRows.push([
        s,
        a,
        runs.length,
        runs[0]!.config.rounds,
        median(sec),
        Math.min(...sec),
        Math.max(...sec),
        (1000 * median(sec)) / runs[0]!.config.rounds,
      ]);
    }
  }
  const timeTable: Table = {
    title: `Wall time per simulation (${engineOf(records)}, ${settings.jobs} simulations in parallel)`,
    columns: ['scenario', 'algorithm', 'runs', 'rounds', 'median s', 'min s', 'max s', 'ms / round'],
    rows: timeRows,
    note: 'runSimulation only (process start-up, MNIST load and wasm initialisation excluded: about 2-4 s more per process), evaluation rounds included. Two simulations share the 2 cores, plus whatever else runs on the machine: absolute times drift by tens of percent.',
  };

  // local compute per round, from each run's config and its scenario's trainers
  const computeRows: Cell[][] = [];
  const gradientsOf = new Map<string, number>();
  let mnistData: ReturnType<typeof loadMnist> | undefined;
  for (const s of scenarios) {
    const config = settings.algorithms.map((a) => groups.get(`${s}/${a}`)?.[0]?.config).find((c) => c !== undefined);
    if (!config?.scenario) continue;
    const data = createScenario(config.scenario, s === 'sinusoid' ? undefined : (mnistData ??= loadMnist()));
    const examples = trainerExamples(data);
    const meanExamples = mean(examples);
    for (const a of settings.algorithms) {
      const runs = groups.get(`${s}/${a}`) ?? [];
      if (!runs.length) continue;
      const hyper = runs[0]!.config.client;
      const algorithm = algorithmOf(a);
      const grads = mean(examples.map((n) => gradientsPerUpdate(algorithm, hyper, n)));
      gradientsOf.set(`${s}/${a}`, grads);
      const shape =
        algorithm === 'fedavg' || algorithm === 'fedper'
          ? `${hyper.localEpochs} epoch(s), batch ${hyper.batchSize}, lr ${hyper.lr}`
          : algorithm === 'fedrep'
            ? `${hyper.headEpochs} head + ${hyper.localEpochs} body epoch(s), batch ${hyper.batchSize}, lr ${hyper.lr}`
            : `${hyper.metaSteps} meta x ${hyper.innerSteps} inner steps, batch ${hyper.batchSize}, inner lr ${hyper.innerLr}, outer lr ${hyper.outerLr}`;
      const note =
        a === 'maml' || a === 'meta-sgd'
          ? 'x ~2 (second order)'
          : a === 'per-fedavg-hf'
            ? 'Hessian-free: 2 of them for the Hessian-vector product'
            : a === 'fedrep'
              ? 'head epochs: backward pass through the head only'
              : '';
      computeRows.push([s, labelOf(a, runs), meanExamples.toFixed(0), shape, grads, note]);
    }
  }
  const computeTable: Table = {
    title: 'Local compute per trainer per round (minibatch gradients), from the presets',
    columns: ['scenario', 'algorithm', 'local examples (mean)', 'local update', 'gradients per round', 'note'],
    rows: computeRows,
    note: 'fedavg: epochs x ceil(examples / batch); reptile: meta steps x inner steps; fomaml / maml / meta-sgd: meta steps x (inner steps + 1); per-fedavg-hf: meta steps x 4 (support, query, and two for the Hessian-vector product by central difference) (learn/client-update.ts gradientsPerUpdate). Adaptation at meta-test time is the same for every algorithm (k steps at the inner lr). An accuracy lead that comes with more local steps per round is partly a lead in compute.',
  };

  // equal local compute: every contender at the round where its local gradients reach the cheapest contender's whole run
  const equalRows: Cell[][] = [];
  for (const s of scenarios) {
    const metric = metricOf(s);
    const present = settings.algorithms.filter((a) => groups.has(`${s}/${a}`) && gradientsOf.has(`${s}/${a}`));
    if (present.length < 2) continue;
    const rounds = groups.get(`${s}/${present[0]}`)![0]!.config.rounds;
    const budget = Math.min(...present.map((a) => gradientsOf.get(`${s}/${a}`)!)) * rounds;
    for (const a of present) {
      const runs = groups.get(`${s}/${a}`)!;
      const g = gradientsOf.get(`${s}/${a}`)!;
      const want = budget / g;
      const values = runs.flatMap((r) => {
        let i = -1;
        r.curve.round.forEach((round, j) => {
          if (round <= want + 1e-9) i = j;
        });
        const x = i >= 0 ? r.curve.heldOutPersonalized[i] : null;
        return typeof x === 'number' && Number.isFinite(x) ? [{ round: r.curve.round[i]!, x }] : [];
      });
      const at = estimate(values.map((v) => v.x));
      equalRows.push([
        s,
        labelOf(a, runs),
        g.toFixed(1),
        values.length ? values[0]!.round : 'before the first evaluation',
        formatEstimate(metric, at),
        runs[0]!.bytesPerRound.up / (runs[0]!.config.perRound ?? 1),
      ]);
    }
  }
  const equalTable: Table = {
    title: "Equal local compute: the held-out personalized metric when each contender has spent the cheapest one's local gradients",
    columns: [
      'scenario',
      'algorithm',
      'gradients per trainer-round',
      'round read',
      'held-out personalized, mean ± 95% CI',
      'bytes up per trainer-round',
    ],
    rows: equalRows,
    note: "Budget: the cheapest contender's gradients per round x the run's rounds. A contender spending g gradients per round is read at the last evaluation round at or below budget / g (so a 4x-compute method is read at a quarter of the run). Metric: the training-time held-out evaluation (adaptSteps steps at the preset's inner lr), as in the curves. The meta-test tables above compare at equal rounds (equal communication per round, except Meta-SGD's doubled vector and the personal-head methods' body-only vector: see the bytes column).",
  };

  // 3. plots
  const svgs = scenarios
    .map((s) => ({ scenario: s, svg: learningCurveSvg(s, groups, settings.algorithms, targets[s] ?? null) }))
    .filter((x): x is { scenario: Scenario; svg: string } => x.svg !== null);
  let pngs: { scenario: Scenario; path: string }[] = [];
  let plotProblem: string | null = null;
  try {
    const paths = await renderPngs(svgs.map(({ scenario, svg }) => ({ name: `${settings.name ?? 'learning'}-${scenario}`, svg })));
    pngs = svgs.map(({ scenario }, i) => ({ scenario, path: paths[i]! }));
  } catch (error) {
    plotProblem = `learning-curve PNGs not rendered: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
    console.error(plotProblem);
  }

  // notes
  const notes: string[] = [];
  const sizes = (z: Sizes) =>
    `${z.participants} participants (${z.heldOut} held out for the meta-test, ${z.validation} for validation), ${z.perRound} per round, ${z.rounds} rounds, held-out evaluation every ${z.evaluateEvery} rounds`;
  notes.push(
    `Sizes: MNIST scenarios ${sizes(settings.mnist)}; sinusoid ${sizes(settings.sinusoid)}. Everything else is presetRunConfig(scenario, algorithm) (packages/core/src/presets.ts), with the seed applied to the run (initial weights, participant sampling, minibatches) and to the scenario (data, held-out choice). Seeds ${seedsRun.join(', ')}. Validation participants neither train nor count in the meta-test. This run took ${(meta.wallSeconds / 60).toFixed(1)} min.`,
  );
  notes.push(
    `Per-seed meta-test figures are already means over the held-out participants (MNIST: ${settings.mnist.heldOut} participants of ~${Math.round(MNIST_ASSET_DIGITS / settings.mnist.participants / 4)} test digits each, so one seed's figure is itself noisy; sinusoid: ${settings.sinusoid.heldOut} tasks of 100 test points). ${nSeeds} seed${nSeeds === 1 ? '' : 's'}${nSeeds > 1 ? `: the t intervals (t = ${T975[nSeeds - 2] ?? 1.96} at df ${nSeeds - 1}) are wide by construction; the paired table removes the seed-to-seed variation that both algorithms share (same data, held-out participants and initial weights per seed)` : ': no interval'}.`,
  );
  for (const s of scenarios)
    if (targets[s]) notes.push(`Target for ${s}: ${formatMetric(metricOf(s), targets[s].value)} — ${targets[s].how}.`);
  const perRound = records.find((r) => r.scenario !== 'sinusoid')?.bytesPerRound;
  if (perRound)
    notes.push(
      `Bytes per MNIST round: ${mb(perRound.up)} MB up (10 float32 deltas of the 79,510-parameter MLP) + ${mb(perRound.down)} MB down; the same for every algorithm, so a communication ratio is a ratio of rounds. Evaluation rounds add the weights sent to the held-out participants (${mb(perRound.downEvaluationRound - perRound.down)} MB), the same for every algorithm.`,
    );
  notes.push(
    `FedMeta (Chen et al. 2018, arXiv:1802.07876) reports 2.82-4.33x less communication than FedAvg to reach a target accuracy, and 3.23-14.84% higher accuracy, on LEAF data and a production data set with many more clients and rounds. Here, against fedavg given the same fine-tuning (the stronger baseline): ${ratioLines.join('; ') || 'n/a'}. Against plain fedavg's global model (no personalization, closer to a FedAvg-without-fine-tuning baseline): ${plainRatioLines.join('; ') || 'n/a'}. Caveats: short runs (MNIST ${settings.mnist.rounds} rounds), rounds resolved only to the evaluation grid, few seeds and ${settings.mnist.heldOut} held-out MNIST participants per seed — read ratios within one evaluation interval of 1.0x as "no difference".`,
  );
  for (const s of scenarios) {
    const fed = groups.get(`${s}/fedavg`) ?? [];
    const first = meanCurve(fed, 'heldOutPersonalized').find((p) => Number.isFinite(p.est.mean));
    const target = targets[s];
    if (s === 'sinusoid' || !first || !target || target.value - first.est.mean > 0.05) continue;
    notes.push(
      `${s} is nearly saturated for personalization: fedavg + fine-tuning already scores ${formatMetric('accuracy', first.est.mean)} at round ${first.round} (target ${formatMetric('accuracy', target.value)}) — a held-out participant there holds about 2 digit classes, and ${fed[0]!.config.client.adaptSteps} SGD steps on its support set fit a 2-class problem from almost any start. Rounds-to-target in ${s} measure noise more than learning speed.`,
    );
  }
  // Federated Reptile with one meta step and outer rate 1 is FedAvg with a fixed number of sampled local steps:
  // set its lead over fedavg against fedavg given the same local steps.
  const withReptile = scenarios.filter((s) => groups.has(`${s}/reptile`) && groups.has(`${s}/fedavg`));
  if (withReptile.length) {
    const rp = groups.get(`${withReptile[0]}/reptile`)![0]!.config.client;
    const vs = (base: string) =>
      withReptile
        .filter((s) => groups.has(`${s}/${base}`))
        .map((s) => {
          const d = paired(groups.get(`${s}/reptile`)!, groups.get(`${s}/${base}`)!, 5);
          const identical = d.mean === 0 && !(Math.abs(d.half) > 0);
          return `${s} ${formatEstimate(metricOf(s), d, true)}${identical ? ' (identical runs)' : ''}`;
        });
    const steps = withReptile.map(
      (s) =>
        `${s} ${(gradientsOf.get(`${s}/reptile`) ?? Number.NaN).toFixed(0)} vs ${(gradientsOf.get(`${s}/fedavg`) ?? Number.NaN).toFixed(1)}`,
    );
    const matched = vs('fedavg-matched');
    notes.push(
      `Reptile vs fedavg, paired Δ at k=5 against fedavg + fine-tuning: ${vs('fedavg').join(', ')}, with more local steps per round (gradients, reptile vs fedavg: ${steps.join(', ')}). With metaSteps ${rp.metaSteps} and outerLr ${rp.outerLr}, federated Reptile is FedAvg with a fixed number of sampled minibatch steps (learn/hyper.ts; Jiang et al. 2019). ${matched.length ? `Against fedavg given the same local steps (the fedavg-matched rows): ${matched.join(', ')} — what remains of the lead once compute is equal.${matched.some((m) => m.endsWith('(identical runs)')) ? " Identical runs: where a participant's whole data set is one minibatch (sinusoid: 10 points, batch 10), both take the same full-batch steps, so they compute exactly the same update." : ''}` : 'Run the fedavg-matched contender to see how much of that lead is compute.'}`,
    );
  }
  const sinFed = groups.get('sinusoid/fedavg') ?? [];
  if (sinFed.length) {
    const k0 = at(sinFed, 0).mean;
    const k10 = at(sinFed, 10).mean;
    const curve = meanCurve(sinFed, 'heldOutPersonalized')
      .map((p) => p.est.mean)
      .filter(Number.isFinite);
    if (curve.length) {
      notes.push(
        `Sinusoid fedavg${settings.sinusoidTau !== undefined ? ` (this run: FedAdam tau overridden to ${settings.sinusoidTau})` : ''}: its held-out personalized MSE moves between ${Math.min(...curve).toFixed(2)} and ${Math.max(...curve).toFixed(2)} over the run (predicting 0 scores E[A²]/2 ≈ 4.25; the best single function, −(2/π)·E[A]·cos x, ≈ 3.0); fine-tuning moves it from k=0 ${k0.toFixed(2)} to k=10 ${k10.toFixed(2)}. The sinusoid preset uses FedAdam with tau 1e-6: an earlier tau of 1e-3 was larger than most of fedavg's averaged one-step deltas (median |Δ| ~1e-5) and damped its server steps far more than maml's meta-gradients (|Δ| ~1e-3), handicapping this baseline (packages/core/src/presets.ts). Compare with \`--sinusoid-tau\`.`,
      );
    }
  }
  const sin =
    groups.get('sinusoid/maml') ?? groups.get('sinusoid/fomaml') ?? groups.get('sinusoid/reptile') ?? groups.get('sinusoid/fedavg');
  if (sin?.length) {
    const c = sin[0]!.config;
    const tasks = c.rounds * (c.perRound ?? 0);
    notes.push(
      `Reference: the MAML paper (Finn et al. 2017) reports sinusoid MSE 0.35 after 10 steps at K = 5 for MAML and 2.19 for joint training ("pretrained"), after 70,000 meta-iterations of 25 tasks = 1.75 M task-gradients. This run: ${c.rounds} rounds x ${c.perRound} participants = ${tasks.toLocaleString('en-US')} task-updates per seed and algorithm (${((tasks / 1.75e6) * 100).toFixed(2)}% of the paper's); each is one meta-gradient with 1 inner step (maml, fomaml), ${presetRunConfig('sinusoid', 'reptile').client?.innerSteps ?? 10} inner SGD steps (reptile) or one SGD step on the 10 local points (fedavg), folded by FedAdam on the hub. DESIGN.md's tfjs reference after 4,000 meta-iterations (100,000 task-gradients): MAML 0.54, Reptile 0.57, joint 2.25. Here at k=10: maml ${formatEstimate('mse', at(groups.get('sinusoid/maml') ?? [], 10))}, fomaml ${formatEstimate('mse', at(groups.get('sinusoid/fomaml') ?? [], 10))}, reptile ${formatEstimate('mse', at(groups.get('sinusoid/reptile') ?? [], 10))}, fedavg + fine-tuning (the joint-training analogue) ${formatEstimate('mse', at(groups.get('sinusoid/fedavg') ?? [], 10))} — the meta-learners are on the way down (see the curve), not converged.`,
    );
  }
  for (const s of scenarios) {
    const divergedIn = (runs: readonly RunRecord[]) =>
      runs.filter((r) => r.metaTest.steps.some((k, i) => k > 1 && !(Math.abs(r.metaTest.mean[i] ?? Number.NaN) < 1e3))).length;
    const metaSgd = groups.get(`${s}/meta-sgd`);
    if (metaSgd?.length) {
      const diverged = divergedIn(metaSgd);
      notes.push(
        `Meta-SGD (${s}) learns one rate per weight for a single adaptation step (its preset adapts ${metaSgd[0]!.config.client.adaptSteps} step, as Li et al.): its k=1 column is its own meta-test. At k=5 and k=10 the same learned rates are applied again, which it was never trained for${diverged ? `, and the adaptation diverges in ${diverged} of ${metaSgd.length} seeds (mean metric non-finite or above 1e3 at some k > 1)` : ''}; read those columns as a stress test, not as its result.`,
      );
    }
    const perFedAvg = groups.get(`${s}/per-fedavg-hf`);
    const diverged = perFedAvg?.length ? divergedIn(perFedAvg) : 0;
    if (diverged)
      notes.push(
        `Per-FedAvg (HF, ${s}) trains the model to be good after one SGD step (its inner steps: ${perFedAvg![0]!.config.client.innerSteps}): at k=5 and k=10 plain SGD at the same inner lr diverges in ${diverged} of ${perFedAvg!.length} seeds (mean metric non-finite or above 1e3 at some k > 1); its k=1 column is the step it trains for. Its preset is MAML's, untuned (issue 11 item 6).`,
      );
  }
  const belowChance = scenarios
    .filter((s) => s !== 'sinusoid')
    .flatMap((s) =>
      metaLearners
        .filter((a) => a !== 'fedrep' && a !== 'fedper' && groups.has(`${s}/${a}`) && at(groups.get(`${s}/${a}`)!, 0).mean < 0.2)
        .map((a) => `${s}/${a} ${formatMetric('accuracy', at(groups.get(`${s}/${a}`)!, 0).mean)}`),
    );
  if (belowChance.length)
    notes.push(
      `Global (k=0) accuracy of MAML-trained models can sit near or below chance (${belowChance.join(', ')}) while k=5 is high: the MAML family optimises accuracy after adaptation, not of the global model, so this is expected and is why "fedavg (no adaptation)" is the fair k=0 comparison, not the meta-learners' own k=0.`,
    );
  for (const p of pngs)
    notes.push(
      `![${SCENARIO_SHORT[p.scenario]}: learning curves](${relative(BENCH_DIR, p.path)}) — ${relative(BENCH_DIR, p.path)}: held-out personalized metric (solid, band = 95% CI over seeds) and global model (dashed) vs round, one colour per algorithm; fedavg solid = fedavg + fine-tuning.`,
    );
  if (plotProblem) notes.push(plotProblem);
  const problems = records.filter((r) => r.problems.length).map((r) => `${jobLabel(r)}: ${r.problems.slice(0, 3).join('; ')}`);
  notes.push(problems.length ? `Non-finite values: ${problems.join(' · ')}` : 'No NaN or infinite loss or metric in any run.');
  if (meta.failures.length) notes.push(`Failed simulations: ${meta.failures.join('; ')}`);

  const allSec = records.map((r) => r.seconds);
  headline.push(
    `communication to the target, fedavg + fine-tuning / meta-learner (> 1: the meta-learner needs less): ${ratioLines.join('; ') || 'n/a'}; vs plain fedavg's global model: ${plainRatioLines.join('; ') || 'n/a'} (FedMeta reports 2.8-4.3x vs FedAvg)`,
  );
  headline.push(
    `${records.length} simulations in ${(meta.wallSeconds / 60).toFixed(1)} min wall (${settings.jobs} in parallel); per simulation median ${median(allSec).toFixed(0)} s, range ${Math.min(...allSec).toFixed(0)}-${Math.max(...allSec).toFixed(0)} s`,
  );

  return {
    name: settings.name ?? 'learning',
    title:
      settings.name && settings.name !== 'learning'
        ? `Learning, ${scenarios.join(' + ')} alone (${scenarios.map((s) => (s === 'sinusoid' ? settings.sinusoid : settings.mnist).rounds).join(' / ')} rounds, ${nSeeds} seeds): meta-test, communication to target and learning curves`
        : 'Learning: meta-test, communication to target and learning curves',
    description: `Federated simulations (packages/core/src/sim/simulation.ts: the hub's participant runtime, codec and strategy, in one process; client updates on ${engineOf(records)}) of ${settings.algorithms.join(', ')} on ${scenarios.join(', ')}, several seeds each, from the presets in packages/core/src/presets.ts.${settings.name && settings.name !== 'learning' ? ` A run of its own (bench/results/${settings.name}.json, \`--name ${settings.name}\`), beside the main learning section, so that section's MNIST results stay as they were.` : ''} Meta-test: held-out participants that never trained adapt the final global model with k SGD steps on their support set and are scored on their test set. Communication: rounds and bytes until the held-out personalized metric first reaches a per-scenario target. Curves: the held-out metrics measured during training.${scenarios.some((x) => x !== 'sinusoid') && settings.mnist.supportShots ? ` MNIST participants hold ${settings.mnist.supportShots} labelled support digits each (few-shot).` : ''}${scenarios.some((x) => x !== 'sinusoid') && settings.mnist.labelPermutations ? ` Labels are permuted (scenario.labelPermutations ${settings.mnist.labelPermutations}): trainers fall into ${settings.mnist.labelPermutations} groups, each naming the ten digits by a permutation of its own, and every validation and held-out participant by one no trainer group uses, so a global model cannot know a newcomer's labelling and only its support set can tell it.` : ''}${settings.algorithms.includes('fedavg-head') ? " \"fedavg + a new head fitted\" is the fedavg model whose newcomers replace its output layer by one imprinted from their support set and fit only that (what fedrep's newcomers do, on fedavg's body); its curves during training are plain fedavg's." : ''}`,
    command: meta.command,
    date: meta.date,
    quick: meta.quick,
    machine: machine(),
    seconds: meta.seconds,
    headline,
    tables: [metaTable, deltaTable, tunedTable, commTable, computeTable, equalTable, timeTable],
    notes,
    data: { settings, targets, wallSeconds: meta.wallSeconds, failures: meta.failures, runs: records.map(compact) },
  };
}

/** The record as kept in the result JSON: per-round losses only at the evaluation rounds (the file stays small). */
function compact(r: RunRecord): RunRecord {
  const { loss, ...rest } = r;
  if (!loss) return r;
  return { ...rest, curve: { ...r.curve, loss: r.curve.round.map((round) => loss[round - 1] ?? null) } };
}

// ---- main ---------------------------------------------------------------------------------------------------

function list<T extends string>(text: string, allowed: readonly T[], flag: string): T[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const i of items) if (!allowed.includes(i as T)) failUsage(`--${flag}: unknown "${i}" (one of ${allowed.join(', ')})`, HELP);
  if (!items.length) failUsage(`--${flag}: empty list`, HELP);
  return allowed.filter((a) => items.includes(a));
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      worker: { type: 'string' },
      scenarios: { type: 'string' },
      algorithms: { type: 'string' },
      seeds: { type: 'string' },
      rounds: { type: 'string' },
      'eval-every': { type: 'string' },
      'support-shots': { type: 'string' },
      'label-permutations': { type: 'string' },
      'fresh-points': { type: 'boolean', default: false },
      'sinusoid-rounds': { type: 'string' },
      'sinusoid-eval-every': { type: 'string' },
      jobs: { type: 'string', default: '2' },
      'sinusoid-tau': { type: 'string' },
      name: { type: 'string' },
      target: { type: 'string', multiple: true },
      reanalyze: { type: 'boolean', default: false },
      add: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (v.worker) {
    await worker(JSON.parse(v.worker) as Job);
    return;
  }
  if (v.help) {
    console.log(HELP);
    return;
  }
  const targets: Partial<Record<Scenario, number>> = {};
  for (const t of v.target ?? []) {
    const m = /^(\w+)=([0-9.eE+-]+)$/.exec(t);
    if (!m || !SCENARIOS.includes(m[1] as Scenario) || !Number.isFinite(Number(m[2])))
      failUsage(`--target: expected scenario=value, got "${t}"`, HELP);
    targets[m[1] as Scenario] = Number(m[2]);
  }

  const readStored = () =>
    JSON.parse(readFileSync(join(RESULTS_DIR, `${v.name ?? 'learning'}.json`), 'utf8')) as BenchResult & {
      data: { settings: Settings; wallSeconds: number; failures: string[]; runs: RunRecord[] };
    };
  if (v.reanalyze) {
    const old = readStored();
    const settings: Settings = { ...old.data.settings, targets: { ...old.data.settings.targets, ...targets } };
    const result = await report(settings, old.data.runs, {
      command: old.command,
      date: old.date,
      quick: old.quick,
      seconds: old.seconds,
      wallSeconds: old.data.wallSeconds,
      failures: old.data.failures,
    });
    for (const t of result.tables) printTable(t);
    finish(result);
    return;
  }

  const quick = v.quick;
  const stored = v.add ? readStored() : undefined;
  if (stored && !v.algorithms) failUsage('--add: name the contenders to add with --algorithms', HELP);
  const fromFlags: Settings = {
    scenarios: v.scenarios ? list(v.scenarios, SCENARIOS, 'scenarios') : quick ? ['rotated', 'sinusoid'] : [...DEFAULT_SCENARIOS],
    algorithms: v.algorithms ? list(v.algorithms, CONTENDERS, 'algorithms') : [...CONTENDERS],
    seeds: Array.from({ length: v.seeds ? positiveInt(v.seeds, 'seeds') : quick ? 1 : 3 }, (_, i) => i + 1),
    mnist: {
      // Issue 11's meta-test sizes: >= 20 held-out MNIST participants (100 of 100 digits, as design/learning.md §8 suggests)
      // and >= 200 sinusoid tasks, with validation participants apart from them.
      participants: 100,
      heldOut: 20,
      validation: 10,
      perRound: 10,
      rounds: v.rounds ? positiveInt(v.rounds, 'rounds') : quick ? 6 : 20,
      evaluateEvery: v['eval-every'] ? positiveInt(v['eval-every'], 'eval-every') : 2,
      ...(v['support-shots'] ? { supportShots: positiveInt(v['support-shots'], 'support-shots') } : {}),
      ...(v['label-permutations'] ? { labelPermutations: positiveInt(v['label-permutations'], 'label-permutations') } : {}),
    },
    sinusoid: {
      participants: 1000,
      heldOut: 200,
      validation: 100,
      perRound: 25,
      rounds: v['sinusoid-rounds'] ? positiveInt(v['sinusoid-rounds'], 'sinusoid-rounds') : quick ? 100 : 500,
      evaluateEvery: v['sinusoid-eval-every'] ? positiveInt(v['sinusoid-eval-every'], 'sinusoid-eval-every') : quick ? 25 : 50,
      ...(v['fresh-points'] ? { freshPoints: true } : {}),
    },
    jobs: positiveInt(v.jobs, 'jobs'),
    targets,
    ...(v['sinusoid-tau'] !== undefined ? { sinusoidTau: Number(v['sinusoid-tau']) } : {}),
    ...(v.name !== undefined ? { name: v.name } : {}),
  };
  // --add keeps everything that decides a run (sizes, seeds, scenarios, tau) from the stored result, so the runs pair.
  const settings: Settings = stored
    ? {
        ...stored.data.settings,
        algorithms: fromFlags.algorithms,
        jobs: fromFlags.jobs,
        targets: { ...stored.data.settings.targets, ...targets },
      }
    : fromFlags;
  if (settings.name !== undefined && !/^learning[\w-]*$/.test(settings.name))
    failUsage('--name: expected learning or learning-SOMETHING (letters, digits, - and _)', HELP);
  if (settings.sinusoidTau !== undefined && !(settings.sinusoidTau > 0 && settings.sinusoidTau <= 1))
    failUsage('--sinusoid-tau: expected a number in (0, 1]', HELP);
  const tmp = mkdtempSync(join(os.tmpdir(), 'tabula-learning-'));
  const jobs: Job[] = [];
  for (const scenario of settings.scenarios) {
    for (const algorithm of settings.algorithms) {
      for (const seed of settings.seeds) {
        const sizes = scenario === 'sinusoid' ? settings.sinusoid : settings.mnist;
        const tau = scenario === 'sinusoid' ? settings.sinusoidTau : undefined;
        jobs.push({
          scenario,
          algorithm,
          seed,
          ...sizes,
          out: join(tmp, `${scenario}-${algorithm}-${seed}.json`),
          ...(tau !== undefined ? { tau } : {}),
        });
      }
    }
  }
  console.log(
    `learning: ${jobs.length} simulations (${settings.scenarios.join(', ')} x ${settings.algorithms.join(', ')} x seeds ${settings.seeds.join(', ')}), ${settings.jobs} in parallel, fast engine (TF.js wasm where it does not apply); MNIST ${settings.mnist.rounds} rounds, sinusoid ${settings.sinusoid.rounds} rounds`,
  );
  const started = performance.now();
  const date = new Date().toISOString();
  let records: RunRecord[];
  try {
    records = await runJobs(jobs, settings.jobs);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const have = new Set(records.map((r) => jobLabel(r)));
  const failures = jobs.filter((j) => !have.has(jobLabel(j))).map(jobLabel);
  if (!records.length) {
    console.error('learning: every simulation failed');
    process.exit(1);
  }
  const seconds = (performance.now() - started) / 1000;
  const added = stored
    ? {
        settings: {
          ...settings,
          algorithms: CONTENDERS.filter((c) => stored.data.settings.algorithms.includes(c) || settings.algorithms.includes(c)),
        },
        records: [...stored.data.runs.filter((r) => !settings.algorithms.includes(r.algorithm)), ...records],
        command: `${stored.command}; then, to add ${settings.algorithms.join(', ')}: ${commandLine()}`,
        seconds: stored.seconds + seconds,
        wallSeconds: stored.data.wallSeconds + wallSeconds,
        failures: [...stored.data.failures, ...failures],
      }
    : undefined;
  const result = await report(added?.settings ?? settings, added?.records ?? records, {
    command: added?.command ?? commandLine(),
    date,
    quick,
    seconds: added?.seconds ?? seconds,
    wallSeconds: added?.wallSeconds ?? wallSeconds,
    failures: added?.failures ?? failures,
  });
  for (const t of result.tables) printTable(t);
  finish(result);
  if (failures.length) process.exit(1);
}

await main();
