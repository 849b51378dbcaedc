/**
 * bench/privacy.ts — what central DP-FedAvg costs in accuracy (issue 12). MNIST (IID, 3,000 participants of 3 digits)
 * trained with FedAvg by the in-process simulation (fast engine), for an expected 10, 100 and 1,000 participants per
 * round and a range of noise multipliers z, each with the ε the accountant charges for the run. z = 0 is the same run
 * without DP (perRound participants, no clipping, no noise): the ceiling. design/privacy.md estimates that the MNIST
 * MLP needs roughly 280·z participants per round before noise stops dominating; this measures it.
 *
 *   npx tsx bench/privacy.ts [--quick] [--rounds N] [--clip C1,C2]
 */
import { parseArgs } from 'node:util';
import { loadMnist } from '../packages/core/src/data/mnist-node.js';
import { presetRunConfig } from '../packages/core/src/presets.js';
import type { RunConfigInput } from '../packages/core/src/protocol.js';
import { runSimulation } from '../packages/core/src/sim/simulation.js';
import { useBackend } from '../packages/core/src/tf.js';
import { commandLine, finish, machine, positiveInt, printTable, type Cell } from './lib.js';

const PARTICIPANTS = 3000;
const HELD_OUT = 100;
const DELTA = 1e-5;

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      clip: { type: 'string', default: '0.1,1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (v.help) return void console.log('Usage: npx tsx bench/privacy.ts [--quick] [--rounds N] [--clip C1,C2]');
  const quick = v.quick;
  const rounds = v.rounds ? positiveInt(v.rounds, 'rounds') : quick ? 3 : 20;
  const clips = v.clip.split(',').map(Number);
  if (!clips.every((c) => c > 0)) throw new Error(`--clip: positive numbers, got ${v.clip}`);
  const perRound = quick ? [10, 100] : [10, 100, 1000];
  const noise = quick ? [0, 1] : [0, 0.3, 1, 3];
  await useBackend('wasm');
  const mnist = loadMnist();
  const started = performance.now();
  // A DP run samples each participant independently: the preset's perRound is set only for the run without DP.
  const { perRound: _presetPerRound, ...preset } = presetRunConfig('iid', 'fedavg');
  const rows: Cell[][] = [];
  const points: { perRound: number; z: number; clip: number | null; accuracy: number; epsilon: number | null; seconds: number }[] = [];
  // The clip bounds each participant's influence (the sensitivity); too small a bound biases the average whatever z is.
  const cells = noise.flatMap((z): { z: number; clip: number | null }[] =>
    z === 0 ? [{ z, clip: null }] : clips.map((clip) => ({ z, clip })),
  );
  for (const n of perRound) {
    for (const { z, clip } of cells) {
      const t = performance.now();
      const input: RunConfigInput = {
        ...preset,
        scenario: { name: 'iid', participants: PARTICIPANTS, heldOut: HELD_OUT, validation: 0, seed: 1 },
        rounds,
        evaluateEvery: rounds,
        minParticipants: 1,
        // No DP: the same expected participants, drawn by the public seed, neither clipped nor noised.
        ...(clip === null
          ? { perRound: n }
          : { privacy: { mode: 'central' as const, clip, noiseMultiplier: z, expectedPerRound: n, delta: DELTA } }),
      };
      const result = await runSimulation(input, { engine: 'fast', mnist, metaTestSteps: [0] });
      const accuracy = result.metaTest.mean[0]!;
      const epsilon = result.rounds.at(-1)?.epsilon ?? null;
      const seconds = (performance.now() - t) / 1000;
      points.push({ perRound: n, z, clip, accuracy, epsilon, seconds });
      console.log(
        `${n} per round, z ${z}, clip ${clip ?? '–'}: held-out accuracy ${(100 * accuracy).toFixed(1)}%, ε ${epsilon?.toFixed(2) ?? '–'} · ${seconds.toFixed(0)} s`,
      );
    }
  }
  for (const p of points) {
    const ceiling = points.find((q) => q.perRound === p.perRound && q.z === 0)!.accuracy;
    rows.push([
      p.perRound,
      p.z === 0 ? '0 (no DP)' : p.z,
      p.clip ?? '–',
      `${(100 * p.accuracy).toFixed(1)}%`,
      p.z === 0 ? '–' : `${(100 * (p.accuracy - ceiling)).toFixed(1)} pp`,
      p.epsilon === null ? '∞ (no DP)' : p.epsilon.toFixed(2),
      p.z === 0 ? '–' : (p.perRound / p.z).toFixed(0),
      p.seconds,
    ]);
  }
  const best = (n: number) => points.filter((p) => p.perRound === n && p.z > 0).sort((a, b) => b.accuracy - a.accuracy)[0];
  const table = {
    title: `Held-out accuracy of the global model after ${rounds} rounds, by expected participants per round and noise multiplier z (ε at δ = ${DELTA})`,
    columns: ['per round', 'z', 'clip', 'held-out accuracy', 'vs no DP', 'ε', 'per round / z', 's'],
    rows,
    note: `MNIST IID, ${PARTICIPANTS} participants of about 3 digits, ${HELD_OUT} held out; presetRunConfig('iid', 'fedavg') otherwise (server SGD lr 1). DP: Poisson sampling at q = per round / ${PARTICIPANTS - HELD_OUT} trainers, clip ${clips.join(' or ')} (participant and hub), Gaussian noise z·clip per coordinate, divided by the expected count; ε from the RDP accountant after the last round. Noise per coordinate of the averaged update is z·clip / (per round): the "per round / z" column is what design/privacy.md's ~280·z estimate is about. One seed: read differences of a few points as noise.`,
  };
  printTable(table);
  finish({
    name: 'privacy',
    title: 'Differential privacy: accuracy against the noise multiplier, and what ε each point costs',
    description:
      "Central DP-FedAvg in the in-process simulation (the hub's round engine and DpFedAvgStrategy, fast engine) on MNIST with an expected 10, 100 and 1,000 participants per round; z = 0 is the same run without DP. Measures the utility cost that design/privacy.md estimates (noise stops dominating at roughly 280·z participants per round).",
    command: commandLine(),
    date: new Date().toISOString(),
    quick,
    machine: machine(),
    seconds: (performance.now() - started) / 1000,
    headline: perRound.map((n) => {
      const b = best(n);
      const ceiling = points.find((q) => q.perRound === n && q.z === 0)!.accuracy;
      return `${n} per round: no DP ${(100 * ceiling).toFixed(1)}%; best with DP ${b ? `${(100 * b.accuracy).toFixed(1)}% at z ${b.z}, clip ${b.clip} (ε ${b.epsilon?.toFixed(2)})` : 'n/a'}`;
    }),
    tables: [table],
    notes: [],
    data: { points, rounds, clips, participants: PARTICIPANTS, heldOut: HELD_OUT, delta: DELTA },
  });
}

await main();
