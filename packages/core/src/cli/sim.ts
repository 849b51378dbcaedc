/**
 * npm run sim -- --scenario rotated --algorithm reptile --participants 40 --per-round 10 --rounds 30 --seed 1 --json out.json
 * In-process federated simulation: one line per round, then the meta-test on held-out participants.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMnist } from '../data/mnist-node.js';
import { ENGINES, type Engine } from '../learn/fast/engine.js';
import { learnsRates } from '../learn/federated-layout.js';
import { ALGORITHMS, type Algorithm } from '../learn/hyper.js';
import { MNIST_CNN } from '../model/spec.js';
import { presetRunConfig } from '../presets.js';
import { RunConfigSchema, SCENARIOS, parseOrError, type RunConfigInput } from '../protocol.js';
import { runSimulation, type SimRound } from '../sim/simulation.js';
import { useBackend } from '../tf.js';

const HELP = `Usage: npm run sim -- [options]

Runs federated rounds in one process (no network) with the same participant runtime, codec and
aggregation as the hub, then meta-tests the final model on held-out participants that never trained.

Options (defaults depend on the scenario; see packages/core/src/presets.ts):
  --scenario NAME       ${SCENARIOS.join(' | ')}                     [rotated]
  --algorithm NAME      ${ALGORITHMS.join(' | ')}                    [reptile]
  --model NAME          mlp | cnn (MNIST scenarios only)            [mlp]
  --participants N      participants in the scenario                 [40; sinusoid 1000]
  --held-out N          of which held out for the meta-test         [10%; sinusoid 200]
  --validation N        of which validation: neither train nor count in the meta-test,
                        scored apart                                 [0; sinusoid 100]
  --per-round N         participants trained per round              [10; sinusoid 25]
  --rounds N            federated rounds                            [30; sinusoid 1000]
  --seed N              seeds data, initial weights and sampling    [1]
  --codec NAME          float32 | float16 | int8                    [float32]
  --server NAME         sgd | fedavgm | fedadam                     [sgd; sinusoid fedadam]
  --server-lr X         server learning rate
  --aggregation NAME    fedavg | trimmed-mean | median              [fedavg]
  --trim X              trimmed-mean: share dropped at each end      [0.1]
  --attackers N         Byzantine trainers: send scaled deltas       [0]
  --attack-scale X      their delta is X times the honest one        [-10]
  --attack-examples N   the example count they claim                 [their own]
  --lr X                fedavg local learning rate
  --local-epochs N      fedavg local epochs
  --batch-size N        local minibatch size
  --inner-lr X          inner / adaptation learning rate
  --inner-steps N       inner steps per meta step
  --outer-lr X          local meta step size
  --meta-steps N        local meta steps per round
  --adapt-steps N       adaptation steps for the per-round personalized metric
  --k-shot N            sinusoid support (and query) size          [5]
  --support-shots N     MNIST few-shot: support digits per participant [half its digits]
  --label-permutations G  MNIST: trainers in G label-permutation groups, newcomers unseen ones [0]
  --fresh-points        sinusoid: fresh support and query points every round
  --alpha X             dirichlet label-skew concentration         [0.5]
  --eval-every N        evaluate before/after adaptation every N rounds [1; sinusoid 100]
  --backend NAME        TF.js backend: wasm | cpu                 [wasm; cnn cpu]
  --engine NAME         client updates and evaluations: tfjs | fast (plain JS for
                        MLPs, equal to tfjs; others stay on TF.js)  [tfjs]
  --dp                  central DP-FedAvg: Poisson sampling and Gaussian noise from the CSPRNG,
                        clipping, ε per round (replaces --per-round; FedAvg only)
  --clip C              DP: L2 clip of each delta                    [1]
  --noise-multiplier Z  DP: noise std over the clip                  [1]
  --expected-per-round N  DP: expected participants per round, q = N / trainers [--per-round]
  --sampling-rate Q     DP: q itself, instead of --expected-per-round
  --delta D             DP: δ of the (ε, δ) guarantee                [1e-5]
  --epsilon-budget E    DP: stop before a round that would take ε past E
  --secure-aggregation  mask each update: the aggregate comes from the secure aggregation protocol
                        (FedAvg only; updates quantised into a 32-bit ring)
  --sa-clip C           secure aggregation: clip of each coordinate of w·delta   [1]
  --sa-neighbours K     secure aggregation: SecAgg+ neighbours per tab (even)    [everyone]
  --sa-max-examples W   secure aggregation: example count of weight 1            [10000]
  --json FILE           write { config, rounds, metaTest[, attackers] } to FILE
  --quiet               no per-round lines
  -h, --help            this text
`;

function fail(message: string): never {
  console.error(`sim: ${message}\n\nRun with --help for the options.`);
  process.exit(2);
}

function num(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) fail(`--${flag} needs a number, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        scenario: { type: 'string', default: 'rotated' },
        algorithm: { type: 'string', default: 'reptile' },
        model: { type: 'string', default: 'mlp' },
        participants: { type: 'string' },
        'held-out': { type: 'string' },
        validation: { type: 'string' },
        'support-shots': { type: 'string' },
        'label-permutations': { type: 'string' },
        'fresh-points': { type: 'boolean', default: false },
        'per-round': { type: 'string' },
        rounds: { type: 'string' },
        seed: { type: 'string' },
        codec: { type: 'string' },
        server: { type: 'string' },
        'server-lr': { type: 'string' },
        aggregation: { type: 'string' },
        trim: { type: 'string' },
        attackers: { type: 'string' },
        'attack-scale': { type: 'string' },
        'attack-examples': { type: 'string' },
        lr: { type: 'string' },
        'local-epochs': { type: 'string' },
        'batch-size': { type: 'string' },
        'inner-lr': { type: 'string' },
        'inner-steps': { type: 'string' },
        'outer-lr': { type: 'string' },
        'meta-steps': { type: 'string' },
        'adapt-steps': { type: 'string' },
        'k-shot': { type: 'string' },
        alpha: { type: 'string' },
        'eval-every': { type: 'string' },
        'secure-aggregation': { type: 'boolean', default: false },
        'sa-clip': { type: 'string' },
        'sa-neighbours': { type: 'string' },
        'sa-max-examples': { type: 'string' },
        backend: { type: 'string' },
        engine: { type: 'string', default: 'tfjs' },
        dp: { type: 'boolean', default: false },
        clip: { type: 'string' },
        'noise-multiplier': { type: 'string' },
        'expected-per-round': { type: 'string' },
        'sampling-rate': { type: 'string' },
        delta: { type: 'string' },
        'epsilon-budget': { type: 'string' },
        json: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const scenarioName = v.scenario as (typeof SCENARIOS)[number];
  if (!SCENARIOS.includes(scenarioName)) fail(`unknown scenario "${v.scenario}" (one of ${SCENARIOS.join(', ')})`);
  const engine = v.engine as Engine;
  if (!ENGINES.includes(engine)) fail(`unknown engine "${v.engine}" (one of ${ENGINES.join(', ')})`);
  const algorithm = v.algorithm as Algorithm;
  if (!ALGORITHMS.includes(algorithm)) fail(`unknown algorithm "${v.algorithm}" (one of ${ALGORITHMS.join(', ')})`);

  const preset = presetRunConfig(scenarioName, algorithm);
  const seed = num(v.seed, 'seed');
  const serverKind = v.server ?? preset.server?.kind ?? 'sgd';
  const serverLr = num(v['server-lr'], 'server-lr');
  const presetServer = preset.server?.kind === serverKind ? preset.server : { kind: serverKind };
  const input: RunConfigInput = {
    ...preset,
    model: v.model === 'cnn' ? MNIST_CNN : v.model === 'mlp' ? preset.model : fail(`unknown model "${v.model}" (mlp or cnn)`),
    scenario: {
      ...preset.scenario!,
      ...(v.participants !== undefined ? { participants: num(v.participants, 'participants') } : {}),
      ...(v['held-out'] !== undefined
        ? { heldOut: num(v['held-out'], 'held-out') }
        : v.participants !== undefined
          ? { heldOut: undefined }
          : {}),
      ...(v.validation !== undefined
        ? { validation: num(v.validation, 'validation') }
        : v.participants !== undefined
          ? { validation: undefined }
          : {}),
      ...(v['support-shots'] !== undefined ? { supportShots: num(v['support-shots'], 'support-shots') } : {}),
      ...(v['label-permutations'] !== undefined ? { labelPermutations: num(v['label-permutations'], 'label-permutations') } : {}),
      ...(v['fresh-points'] ? { freshPoints: true } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(v['k-shot'] !== undefined ? { kShot: num(v['k-shot'], 'k-shot') } : {}),
      ...(v.alpha !== undefined ? { dirichletAlpha: num(v.alpha, 'alpha') } : {}),
    },
    ...(v['per-round'] !== undefined ? { perRound: num(v['per-round'], 'per-round') } : {}),
    ...(v.rounds !== undefined ? { rounds: num(v.rounds, 'rounds') } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(v['eval-every'] !== undefined ? { evaluateEvery: num(v['eval-every'], 'eval-every') } : {}),
    ...(v.codec !== undefined ? { codec: v.codec as RunConfigInput['codec'] } : {}),
    server: { ...presetServer, ...(serverLr !== undefined ? { lr: serverLr } : {}) } as RunConfigInput['server'],
    ...(v.aggregation !== undefined || v.trim !== undefined
      ? {
          aggregation: {
            kind: v.aggregation ?? 'trimmed-mean',
            ...(v.trim !== undefined ? { trim: num(v.trim, 'trim') } : {}),
          } as RunConfigInput['aggregation'],
        }
      : {}),
    client: {
      ...preset.client,
      ...Object.fromEntries(
        (
          [
            ['lr', 'lr'],
            ['localEpochs', 'local-epochs'],
            ['batchSize', 'batch-size'],
            ['innerLr', 'inner-lr'],
            ['innerSteps', 'inner-steps'],
            ['outerLr', 'outer-lr'],
            ['metaSteps', 'meta-steps'],
            ['adaptSteps', 'adapt-steps'],
          ] as const
        )
          .filter(([, flag]) => v[flag] !== undefined)
          .map(([field, flag]) => [field, num(v[flag], flag)]),
      ),
    },
  };
  const dpFlags = ['clip', 'noise-multiplier', 'expected-per-round', 'sampling-rate', 'delta', 'epsilon-budget'] as const;
  const stray = dpFlags.find((flag) => v[flag] !== undefined);
  if (!v.dp && stray) fail(`--${stray} needs --dp`);
  if (v.dp) {
    // Poisson sampling replaces the fixed count: q = expected / trainers, unless --sampling-rate gives q.
    const samplingRate = num(v['sampling-rate'], 'sampling-rate');
    const epsilonBudget = num(v['epsilon-budget'], 'epsilon-budget');
    input.privacy = {
      mode: 'central',
      clip: num(v.clip, 'clip') ?? 1,
      noiseMultiplier: num(v['noise-multiplier'], 'noise-multiplier') ?? 1,
      ...(samplingRate !== undefined
        ? { samplingRate }
        : { expectedPerRound: num(v['expected-per-round'], 'expected-per-round') ?? input.perRound ?? 10 }),
      delta: num(v.delta, 'delta') ?? 1e-5,
      ...(epsilonBudget !== undefined ? { epsilonBudget } : {}),
    };
    delete input.perRound;
  }
  const saFlags = ['sa-clip', 'sa-neighbours', 'sa-max-examples'] as const;
  const straySa = saFlags.find((flag) => v[flag] !== undefined);
  if (!v['secure-aggregation'] && straySa) fail(`--${straySa} needs --secure-aggregation`);
  if (v['secure-aggregation']) {
    const neighbours = num(v['sa-neighbours'], 'sa-neighbours');
    const maxExamples = num(v['sa-max-examples'], 'sa-max-examples');
    input.secureAggregation = {
      clip: num(v['sa-clip'], 'sa-clip') ?? 1,
      // The group is at most a round's trainers.
      maxGroup: Math.max(3, Math.min(255, input.perRound ?? 255)),
      ...(neighbours !== undefined ? { neighbours } : {}),
      ...(maxExamples !== undefined ? { maxExamples } : {}),
    };
  }
  const checked = parseOrError(RunConfigSchema, input);
  if (!checked.ok) fail(checked.error);
  const config = checked.data;

  // wasm is 2-5x faster than cpu on the MLPs but cannot train a CNN (no Conv2DBackpropFilter in 4.22).
  const backend = v.backend ?? (config.model.kind === 'cnn' ? 'cpu' : 'wasm');
  if (backend !== 'cpu' && backend !== 'wasm') fail(`unknown backend "${backend}" (wasm or cpu)`);
  if (backend === 'wasm' && config.model.kind === 'cnn') fail('the wasm backend cannot train a CNN in TF.js 4.22: use --backend cpu');
  await useBackend(backend);
  const mnist = scenarioName === 'sinusoid' ? undefined : loadMnist();
  const metric = config.model.task === 'regression' ? 'mse' : 'acc';
  const fmt = (x: number | null) =>
    x === null || Number.isNaN(x) ? '   -  ' : metric === 'mse' ? x.toFixed(3).padStart(6) : `${(100 * x).toFixed(1)}%`.padStart(6);
  const kb = (b: number) => `${(b / 1024).toFixed(0)}KB`;
  console.log(
    `sim: ${config.scenario!.name} · ${config.algorithm} · ${config.model.kind} · ${config.scenario!.participants} participants, ${config.perRound ?? (config.privacy ? 'a Poisson sample' : 'all')} per round, ${config.rounds} rounds · ${config.codec} · server ${config.server.kind} lr ${config.server.lr} · ${config.aggregation.kind === 'trimmed-mean' ? `trimmed mean ${config.aggregation.trim}` : config.aggregation.kind} · seed ${config.seed} · ${backend}${engine === 'fast' ? ' + fast engine' : ''}`,
  );
  const dp = config.privacy;
  if (dp)
    console.log(
      `sim: central DP · clip ${dp.clip} · noise multiplier ${dp.noiseMultiplier} · ${dp.samplingRate !== undefined ? `q ${dp.samplingRate}` : `${dp.expectedPerRound} expected per round`} · δ ${dp.delta}${dp.epsilonBudget !== undefined ? ` · ε budget ${dp.epsilonBudget}` : ''}`,
    );
  const sa = config.secureAggregation;
  if (sa)
    console.log(
      `sim: secure aggregation · clip ${sa.clip} per coordinate · groups of at most ${sa.maxGroup} · ${sa.neighbours !== undefined ? `${sa.neighbours} neighbours` : 'complete graph'} · weight 1 at ${sa.maxExamples} examples`,
    );
  if (!v.quiet)
    console.log(
      `round   loss  global-${metric}  personal-${metric}@${config.client.adaptSteps}  heldout global→personal      up      down     ms${dp ? '        ε' : ''}`,
    );
  const onRound = (r: SimRound) => {
    if (v.quiet) return;
    console.log(
      `${String(r.round).padStart(5)} ${(r.loss ?? Number.NaN).toFixed(3).padStart(6)}  ${fmt(r.global).padStart(11)}  ${fmt(r.personalized).padStart(15)}  ${fmt(r.heldOutGlobal)} → ${fmt(r.heldOutPersonalized)}  ${kb(r.bytesUp).padStart(8)} ${kb(r.bytesDown).padStart(8)} ${r.ms.toFixed(0).padStart(6)}${r.epsilon === null ? '' : ` ${r.epsilon.toFixed(4).padStart(8)}`}`,
    );
  };
  const attackerCount = num(v.attackers, 'attackers') ?? 0;
  const claimed = num(v['attack-examples'], 'attack-examples');
  const attackers =
    attackerCount > 0
      ? {
          count: attackerCount,
          scale: num(v['attack-scale'], 'attack-scale') ?? -10,
          ...(claimed !== undefined ? { claimedExamples: claimed } : {}),
        }
      : undefined;
  if (attackers)
    console.log(
      `sim: ${attackers.count} Byzantine trainers send ${attackers.scale} x their delta${claimed !== undefined ? ` and claim ${claimed} examples` : ''}`,
    );
  const result = await runSimulation(config, { ...(mnist ? { mnist } : {}), onRound, engine, ...(attackers ? { attackers } : {}) });
  if (result.stopReason) console.log(`sim: stopped after round ${result.rounds.length}: ${result.stopReason}`);
  const mt = result.metaTest;
  console.log(
    `meta-test on ${mt.participants} held-out participants (${mt.metric} after k adaptation steps at ${learnsRates(config.algorithm) ? 'its learned rates' : `lr ${config.client.innerLr}`}):`,
  );
  console.log(mt.steps.map((k, i) => `k=${k}: ${fmt(mt.mean[i]!).trim()}`).join('   '));
  if (mt.validation.participants > 0) {
    console.log(`validation participants (${mt.validation.participants}, never trained, not in the meta-test above):`);
    console.log(mt.steps.map((k, i) => `k=${k}: ${fmt(mt.validation.mean[i]!).trim()}`).join('   '));
  }
  if (v.json) {
    // npm and pnpm run scripts inside the package; INIT_CWD is where the user typed the command.
    const path = resolve(process.env.INIT_CWD ?? process.cwd(), v.json);
    writeFileSync(path, JSON.stringify({ ...result, ...(attackers ? { attackers } : {}) }, null, 2));
    console.log(`wrote ${path}`);
  }
}

main().catch((error: unknown) => {
  console.error(`sim: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
