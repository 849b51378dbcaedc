/**
 * bench/privacy.ts — what central DP-FedAvg costs (issue 12). For an expected 10, 100 and 1,000 participants per
 * round and a range of noise multipliers z, the in-process simulation (the hub's round engine and DpFedAvgStrategy,
 * fast engine) trains, and the held-out metric is read with the ε the accountant charges for the run:
 *   - MNIST: FedAvg on IID digits (3,000 participants of about 3 digits), the global model's held-out accuracy;
 *   - sinusoid: MAML on 3,000 sine tasks, held-out MSE after 10 adaptation steps (K = 5).
 * z = 0 is the same run without DP (the expected count drawn by the public seed, no clipping, no noise): the ceiling.
 * The clip is taken from measured update norms: a first round's updates (the initial model, 100 participants) give a
 * median norm, and the sweep clips at ⅓, 1 and 3 times it (Andrew et al. 2021 adapt the clip to the median).
 * design/privacy.md estimates that the MNIST MLP needs roughly 280·z participants per round before noise stops
 * dominating; this measures it. Writes privacy.json and a PNG per task (metric against z, one line per rate).
 *
 *   npx tsx bench/privacy.ts [--quick] [--seeds N] [--tasks mnist,sinusoid] [--rounds N] [--sinusoid-rounds N]
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMnist } from '../packages/core/src/data/mnist-node.js';
import type { Algorithm } from '../packages/core/src/learn/hyper.js';
import { presetRunConfig } from '../packages/core/src/presets.js';
import { RunConfigSchema, type RunConfigInput, type ScenarioSpec } from '../packages/core/src/protocol.js';
import { firstRoundUpdates } from './first-round.js';
import { runSimulation } from '../packages/core/src/sim/simulation.js';
import { useBackend } from '../packages/core/src/tf.js';
import {
  BENCH_DIR,
  RESULTS_DIR,
  commandLine,
  estimate,
  failUsage,
  finish,
  machine,
  median,
  positiveInt,
  printTable,
  renderPngs,
  type BenchResult,
  type Cell,
  type Estimate,
  type Table,
} from './lib.js';

const HELP = `Usage: npx tsx bench/privacy.ts [options]
  --tasks LIST         of mnist,sinusoid                                  [mnist,sinusoid]
  --seeds N            seeds 1..N per point (mean and 95% interval)        [2]
  --rounds N           MNIST rounds                                        [30]
  --sinusoid-rounds N  sinusoid rounds                                     [300]
  --reanalyze          run nothing: rebuild the tables and plots from bench/results/privacy.json
  --quick              smoke test: 1 seed, 10 and 100 per round, z 0 and 1, a few rounds
  -h, --help           this text`;

const TASKS = ['mnist', 'sinusoid'] as const;
type Task = (typeof TASKS)[number];
const PARTICIPANTS = 3000;
const DELTA = 1e-5;
/** The clips tried, as multiples of the median norm of a first round's updates. */
const CLIP_FACTORS = [1 / 3, 1, 3] as const;
/**
 * From this many per round on, only the median clip: those runs cost 10x the next rate's, and with little noise per
 * coordinate the clip matters less there.
 */
const SWEEP_BELOW = 1000;

interface TaskSetup {
  readonly task: Task;
  readonly algorithm: Algorithm;
  readonly scenario: ScenarioSpec;
  readonly metric: 'accuracy' | 'mse';
  /** Adaptation steps at which the metric is read (0: the global model). */
  readonly steps: number;
  readonly rounds: number;
  readonly seeds: number;
}

interface Point {
  readonly task: Task;
  readonly perRound: number;
  readonly z: number;
  /** null: the run without DP. */
  readonly clip: number | null;
  readonly clipFactor: number | null;
  readonly seed: number;
  readonly value: number;
  readonly epsilon: number | null;
  readonly seconds: number;
}

/** Median L2 norm of first-round updates from the initial model, over 100 trainers: what the clip is scaled to. */
async function medianUpdateNorm(setup: TaskSetup, mnist: ReturnType<typeof loadMnist> | undefined): Promise<number> {
  const config = RunConfigSchema.parse({ ...presetRunConfig(setup.scenario.name, setup.algorithm), scenario: setup.scenario });
  return median((await firstRoundUpdates(config, mnist, 100)).map(({ delta }) => Math.hypot(...delta)));
}

async function measure(
  setup: TaskSetup,
  perRound: number,
  z: number,
  clip: number | null,
  seed: number,
  mnist: ReturnType<typeof loadMnist> | undefined,
): Promise<{ value: number; epsilon: number | null }> {
  // A DP run samples each participant independently: the preset's perRound is set only for the run without DP.
  const { perRound: _presetPerRound, ...preset } = presetRunConfig(setup.scenario.name, setup.algorithm);
  const input: RunConfigInput = {
    ...preset,
    scenario: { ...setup.scenario, seed },
    seed,
    rounds: setup.rounds,
    evaluateEvery: setup.rounds,
    minParticipants: 1,
    ...(clip === null
      ? { perRound }
      : { privacy: { mode: 'central' as const, clip, noiseMultiplier: z, expectedPerRound: perRound, delta: DELTA } }),
  };
  const result = await runSimulation(input, { engine: 'fast', metaTestSteps: [setup.steps], ...(mnist ? { mnist } : {}) });
  return { value: result.metaTest.mean[0]!, epsilon: result.rounds.at(-1)?.epsilon ?? null };
}

const show = (metric: 'accuracy' | 'mse', x: number) => (metric === 'accuracy' ? `${(100 * x).toFixed(1)}%` : x.toFixed(3));
/**
 * A cell's seeds: the mean and its 95% t interval from 3 seeds on; with 2 seeds that interval (t = 12.7) says
 * nothing, so the two values' range instead.
 */
interface Spread {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
  readonly text: string;
}

function spreadOf(metric: 'accuracy' | 'mse', values: readonly number[]): Spread {
  const e: Estimate = estimate(values);
  const half = metric === 'accuracy' ? (100 * e.half).toFixed(1) : e.half.toFixed(3);
  if (values.length >= 3 && Number.isFinite(e.half))
    return { mean: e.mean, low: e.mean - e.half, high: e.mean + e.half, text: `${show(metric, e.mean)} ± ${half}` };
  const [low, high] = [Math.min(...values), Math.max(...values)];
  const text = values.length === 2 ? `${show(metric, e.mean)} (${show(metric, low)}, ${show(metric, high)})` : show(metric, e.mean);
  return { mean: e.mean, low, high, text };
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

/** The metric against z (one line per rate, at the clip that did best on average), each point labelled with its ε. */
function plotSvg(setup: TaskSetup, points: readonly Point[], perRound: readonly number[], noise: readonly number[]): string {
  const W = 1000;
  const H = 560;
  const m = { left: 80, right: 260, top: 70, bottom: 60 };
  const series = perRound.map((n) => {
    const at = noise.map((z) => {
      const cells = points.filter((p) => p.perRound === n && p.z === z);
      const byClip = new Map<string, Point[]>();
      for (const p of cells) byClip.set(String(p.clipFactor), [...(byClip.get(String(p.clipFactor)) ?? []), p]);
      const ranked = [...byClip.values()].map((ps) => ({
        est: spreadOf(
          setup.metric,
          ps.map((p) => p.value),
        ),
        epsilon: ps[0]!.epsilon,
      }));
      ranked.sort((a, b) => (setup.metric === 'accuracy' ? b.est.mean - a.est.mean : a.est.mean - b.est.mean));
      return { z, ...ranked[0]! };
    });
    return { n, at };
  });
  const values = series.flatMap((s) => s.at.flatMap((p) => [p.est.low, p.est.high]));
  const [lo, hi] = setup.metric === 'accuracy' ? [0, 1] : [0, Math.min(6, Math.max(...values.filter(Number.isFinite)) * 1.05)];
  const x = (i: number) => m.left + ((W - m.left - m.right) * i) / Math.max(1, noise.length - 1);
  const y = (v: number) => m.top + (H - m.top - m.bottom) * (1 - (Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Liberation Sans, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.left}" y="30" font-size="19" font-weight="bold">${setup.task === 'mnist' ? 'MNIST, FedAvg: held-out accuracy' : 'Sinusoid, MAML: held-out MSE after 10 steps'} vs noise multiplier z</text>`,
    `<text x="${m.left}" y="52" font-size="13" fill="#444">${setup.rounds} rounds, ${PARTICIPANTS} participants, mean of ${setup.seeds} seed${setup.seeds === 1 ? '' : 's'} (bars: ${setup.seeds >= 3 ? '95% CI' : 'range'}) at the best clip; labels: ε at δ = ${DELTA}</text>`,
  ];
  for (let t = 0; t <= 5; t++) {
    const v = lo + ((hi - lo) * t) / 5;
    out.push(
      `<line x1="${m.left}" x2="${W - m.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 8}" y="${y(v) + 4}" font-size="12" text-anchor="end">${setup.metric === 'accuracy' ? `${Math.round(100 * v)}%` : v.toFixed(1)}</text>`,
    );
  }
  noise.forEach((z, i) =>
    out.push(`<text x="${x(i)}" y="${H - m.bottom + 20}" font-size="12" text-anchor="middle">${z === 0 ? '0 (no DP)' : z}</text>`),
  );
  out.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 15}" font-size="13" text-anchor="middle">noise multiplier z</text>`);
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length]!;
    const path = s.at
      .map((p, i) => (Number.isFinite(p.est.mean) ? `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(p.est.mean).toFixed(1)}` : ''))
      .join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2.5"/>`);
    s.at.forEach((p, i) => {
      if (!Number.isFinite(p.est.mean)) return;
      if (p.est.high > p.est.low)
        out.push(`<line x1="${x(i)}" x2="${x(i)}" y1="${y(p.est.low)}" y2="${y(p.est.high)}" stroke="${color}"/>`);
      out.push(`<circle cx="${x(i)}" cy="${y(p.est.mean)}" r="4" fill="${color}"/>`);
      if (p.epsilon !== null)
        out.push(
          `<text x="${x(i) + 6}" y="${y(p.est.mean) - 6}" font-size="11" fill="${color}">ε ${p.epsilon < 10 ? p.epsilon.toFixed(2) : p.epsilon.toFixed(0)}</text>`,
        );
    });
    out.push(
      `<line x1="${W - m.right + 90}" x2="${W - m.right + 115}" y1="${m.top + 20 + 22 * k}" y2="${m.top + 20 + 22 * k}" stroke="${color}" stroke-width="2.5"/>`,
      `<text x="${W - m.right + 122}" y="${m.top + 24 + 22 * k}" font-size="13">${s.n} per round</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seeds: { type: 'string' },
      tasks: { type: 'string', default: TASKS.join(',') },
      rounds: { type: 'string' },
      'sinusoid-rounds': { type: 'string' },
      reanalyze: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (v.help) return void console.log(HELP);
  if (v.reanalyze) {
    const old = JSON.parse(readFileSync(join(RESULTS_DIR, 'privacy.json'), 'utf8')) as BenchResult & {
      data: { points: Point[]; norms: Partial<Record<Task, number>>; setups: TaskSetup[] };
    };
    const { points, norms, setups } = old.data;
    const perRound = [...new Set(points.map((p) => p.perRound))].sort((a, b) => a - b);
    const noise = [...new Set(points.map((p) => p.z))].sort((a, b) => a - b);
    return report(
      { setups, points, norms, perRound, noise },
      { command: old.command, date: old.date, quick: old.quick, seconds: old.seconds },
    );
  }
  const quick = v.quick;
  const tasks = v.tasks.split(',') as Task[];
  if (!tasks.every((t) => TASKS.includes(t))) failUsage(`--tasks: of ${TASKS.join(',')}, got ${v.tasks}`, HELP);
  const seeds = v.seeds ? positiveInt(v.seeds, 'seeds') : quick ? 1 : 2;
  const perRound = quick ? [10, 100] : [10, 100, 1000];
  const noise = quick ? [0, 1] : [0, 0.3, 1, 3];
  const setups: TaskSetup[] = tasks.map((task) =>
    task === 'mnist'
      ? {
          task,
          algorithm: 'fedavg',
          scenario: { name: 'iid', participants: PARTICIPANTS, heldOut: 100, validation: 0, seed: 1 },
          metric: 'accuracy',
          steps: 0,
          rounds: v.rounds ? positiveInt(v.rounds, 'rounds') : quick ? 3 : 30,
          seeds,
        }
      : {
          task,
          algorithm: 'maml',
          scenario: { name: 'sinusoid', participants: PARTICIPANTS, heldOut: 200, validation: 0, seed: 1 },
          metric: 'mse',
          steps: 10,
          rounds: v['sinusoid-rounds'] ? positiveInt(v['sinusoid-rounds'], 'sinusoid-rounds') : quick ? 20 : 300,
          seeds,
        },
  );
  await useBackend('wasm');
  const mnist = tasks.includes('mnist') ? loadMnist() : undefined;
  const started = performance.now();
  const points: Point[] = [];
  const norms: Partial<Record<Task, number>> = {};
  for (const setup of setups) {
    const norm = await medianUpdateNorm(setup, mnist);
    norms[setup.task] = norm;
    console.log(
      `${setup.task}: median first-round update norm ${norm.toFixed(3)}; clips ${CLIP_FACTORS.map((f) => (f * norm).toPrecision(3)).join(', ')}`,
    );
    for (let seed = 1; seed <= setup.seeds; seed++) {
      for (const n of perRound) {
        for (const z of noise) {
          for (const factor of z === 0 ? [null] : n >= SWEEP_BELOW ? [1] : CLIP_FACTORS) {
            const clip = factor === null ? null : Number((factor * norm).toPrecision(3));
            const t = performance.now();
            const { value, epsilon } = await measure(setup, n, z, clip, seed, mnist);
            const seconds = (performance.now() - t) / 1000;
            points.push({ task: setup.task, perRound: n, z, clip, clipFactor: factor, seed, value, epsilon, seconds });
            console.log(
              `${setup.task} seed ${seed}, ${n} per round, z ${z}, clip ${clip ?? '–'}: ${show(setup.metric, value)}, ε ${epsilon?.toFixed(2) ?? '–'} · ${seconds.toFixed(0)} s`,
            );
          }
        }
      }
    }
  }

  await report(
    { setups, points, norms, perRound, noise },
    { command: commandLine(), date: new Date().toISOString(), quick, seconds: (performance.now() - started) / 1000 },
  );
}

interface Collected {
  readonly setups: readonly TaskSetup[];
  readonly points: readonly Point[];
  readonly norms: Partial<Record<Task, number>>;
  readonly perRound: readonly number[];
  readonly noise: readonly number[];
}

/** Tables, plots and the result from the collected points (a run's, or privacy.json's with --reanalyze). */
async function report(
  { setups, points, norms, perRound, noise }: Collected,
  meta: { command: string; date: string; quick: boolean; seconds: number },
): Promise<void> {
  const tables: Table[] = setups.map((setup) => {
    const rows: Cell[][] = [];
    for (const n of perRound) {
      const ceiling = spreadOf(
        setup.metric,
        points.filter((p) => p.task === setup.task && p.perRound === n && p.z === 0).map((p) => p.value),
      );
      for (const z of noise) {
        for (const factor of z === 0 ? [null] : CLIP_FACTORS) {
          const cell = points.filter((p) => p.task === setup.task && p.perRound === n && p.z === z && p.clipFactor === factor);
          if (!cell.length) continue;
          const est = spreadOf(
            setup.metric,
            cell.map((p) => p.value),
          );
          const diff =
            setup.metric === 'accuracy' ? `${(100 * (est.mean - ceiling.mean)).toFixed(1)} pp` : (est.mean - ceiling.mean).toFixed(3);
          rows.push([
            n,
            z === 0 ? '0 (no DP)' : z,
            factor === null ? '–' : `${cell[0]!.clip} (${factor === 1 ? '' : factor < 1 ? '⅓ ×' : '3 ×'} median)`.replace('( ', '('),
            est.text,
            z === 0 ? '–' : diff,
            cell[0]!.epsilon === null ? '∞ (no DP)' : cell[0]!.epsilon.toFixed(2),
            z === 0 ? '–' : (n / z).toFixed(0),
            Math.round(cell.reduce((a, p) => a + p.seconds, 0) / cell.length),
          ]);
        }
      }
    }
    return {
      title: `${setup.task === 'mnist' ? 'MNIST (FedAvg): held-out accuracy of the global model' : 'Sinusoid (MAML): held-out MSE after 10 adaptation steps'} after ${setup.rounds} rounds, by expected participants per round, noise multiplier z and clip (ε at δ = ${DELTA})`,
      columns: [
        'per round',
        'z',
        'clip',
        setup.metric === 'accuracy' ? 'held-out accuracy' : 'held-out MSE',
        'vs no DP',
        'ε',
        'per round / z',
        's',
      ],
      rows,
      note: `${PARTICIPANTS} participants (${setup.scenario.heldOut} held out); presetRunConfig('${setup.scenario.name}', '${setup.algorithm}') otherwise. Mean over ${setup.seeds} seed${setup.seeds === 1 ? '' : 's'}${setup.seeds >= 3 ? ' ± 95% t interval' : setup.seeds === 2 ? ' (the two values in brackets)' : ''} (seed: the data and the run's public seed; the DP sampling and noise come from the CSPRNG, so no two runs draw the same). DP: Poisson sampling at q = per round / ${PARTICIPANTS - (setup.scenario.heldOut ?? 0)} trainers, clip at ⅓, 1 or 3 times the median norm of first-round updates, ${norms[setup.task]?.toFixed(3)} (at ${SWEEP_BELOW} per round the median alone), discrete Gaussian noise of std z·clip on a grid of 2^-24·clip, divided by the expected count; ε from the RDP accountant after the last round. The noise per coordinate of the averaged update is z·clip / (per round): "per round / z" is what design/privacy.md's ~280·z estimate is about.`,
    };
  });
  for (const t of tables) printTable(t);
  const paths = await renderPngs(
    setups.map((setup) => ({
      name: `privacy-${setup.task}`,
      svg: plotSvg(
        setup,
        points.filter((p) => p.task === setup.task),
        perRound,
        noise,
      ),
    })),
  );
  const best = (setup: TaskSetup, n: number) => {
    const cells = noise
      .filter((z) => z > 0)
      .flatMap((z) =>
        CLIP_FACTORS.map((factor) => {
          const cell = points.filter((p) => p.task === setup.task && p.perRound === n && p.z === z && p.clipFactor === factor);
          return {
            z,
            clip: cell[0]?.clip,
            epsilon: cell[0]?.epsilon ?? null,
            est: spreadOf(
              setup.metric,
              cell.map((p) => p.value),
            ),
          };
        }),
      )
      .filter((c) => Number.isFinite(c.est.mean) && c.epsilon !== null && c.epsilon <= 10);
    cells.sort((a, b) => (setup.metric === 'accuracy' ? b.est.mean - a.est.mean : a.est.mean - b.est.mean));
    return cells[0];
  };
  finish({
    name: 'privacy',
    title: 'Differential privacy: accuracy (MSE) against the noise multiplier, and what ε each point costs',
    description:
      "Central DP-FedAvg in the in-process simulation (the hub's round engine and DpFedAvgStrategy, fast engine): FedAvg on MNIST and MAML on sinusoid with an expected 10, 100 and 1,000 participants per round, at noise multipliers z and clips taken from measured update norms; z = 0 is the same run without DP. Measures the utility cost that design/privacy.md estimates (noise stops dominating at roughly 280·z participants per round for the MNIST MLP).",
    ...meta,
    machine: machine(),
    headline: setups.flatMap((setup) =>
      perRound.map((n) => {
        const ceiling = spreadOf(
          setup.metric,
          points.filter((p) => p.task === setup.task && p.perRound === n && p.z === 0).map((p) => p.value),
        );
        const b = best(setup, n);
        return `${setup.task}, ${n} per round: no DP ${ceiling.text}; best with DP at ε ≤ 10: ${b ? `${b.est.text} at z ${b.z}, clip ${b.clip} (ε ${b.epsilon!.toFixed(2)})` : 'none (every DP point here costs more)'}`;
      }),
    ),
    tables,
    notes: paths.map(
      (path, i) =>
        `![${setups[i]!.task}: metric against z](${relative(BENCH_DIR, path)}) — ${setups[i]!.task}: the metric against z, one line per expected participants per round, at the clip that did best on average.`,
    ),
    data: { points, norms, clipFactors: CLIP_FACTORS, participants: PARTICIPANTS, delta: DELTA, setups },
  });
}

await main();
