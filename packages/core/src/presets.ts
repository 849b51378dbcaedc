import { ALGORITHMS, type Algorithm, type ClientHyper } from './learn/hyper.js';
import { MNIST_MLP, SINUSOID_MLP } from './model/spec.js';
import { SCENARIOS as SCENARIO_NAMES, type RunConfigInput } from './protocol.js';

type ScenarioName = NonNullable<RunConfigInput['scenario']>['name'];

/**
 * Starting points that learn on this project's data in a few minutes on 2 cores. Sinusoid follows MAML's
 * regression setup (1-40-40-1, K=5, inner lr 0.01, a meta-batch of 25 tasks and Adam as the outer optimizer,
 * here FedAdam on the hub);
 * MNIST uses the 80 k-parameter MLP with plain server SGD.
 * Meta-SGD takes one inner step and adapts one step at evaluation, as Li et al. (its learned rates start at
 * `innerLr`); Per-FedAvg always takes one inner step. Learning rates are tuned on validation participants (below).
 * FedRep fits its head for `headEpochs` epochs before each body epoch (Collins et al. fit it for many more steps than
 * the body); FedRep and FedPer adapt only the head at evaluation; a newcomer's head starts imprinted from its support
 * set (learn/imprint.ts; a zero output layer for regression).
 */
export function presetRunConfig(scenario: ScenarioName, algorithm: Algorithm): RunConfigInput {
  if (scenario === 'sinusoid') {
    const client: Partial<ClientHyper> = {
      batchSize: 10,
      lr: 0.01,
      localEpochs: 1,
      innerLr: 0.01,
      innerSteps: algorithm === 'reptile' ? 10 : 1,
      outerLr: 1,
      metaSteps: 1,
      adaptSteps: algorithm === 'meta-sgd' ? 1 : 10,
      headEpochs: 5,
    };
    return {
      algorithm,
      model: SINUSOID_MLP,
      // 200 held-out tasks (with 50, which tasks a seed drew swayed its meta-test: design/learning.md §9), and 100
      // validation tasks apart from them to tune on.
      scenario: { name: 'sinusoid', participants: 1000, seed: 1, kShot: 5, heldOut: 200, validation: 100 },
      rounds: 1000,
      perRound: 25,
      client,
      // lr: bench/tune.ts tried FedAdam lr 0.001, 0.003 and 0.01 for every algorithm at 2,000 rounds (a tenth of the
      // 20,000-round benchmark): 0.01 won on validation for all but fedavg (0.001), as the largest step does at a short
      // budget. At the full 20,000 rounds with fresh points, 0.003 (about the MAML paper's Adam 0.001) beat 0.01 for
      // maml (validation MSE 0.255 against 0.316), fedavg, meta-sgd and per-fedavg-hf; fomaml tied (0.311 against
      // 0.307, one seed) and keeps it as benchmarked (bench/RESULTS.md, "Tuning").
      // tau far below the deltas' scale: at 1e-3 FedAdam damped fedavg's small SGD deltas (median |Δ| 8e-6)
      // far more than MAML's meta-gradients, handicapping the joint-training baseline (bench/learning.ts).
      server: { kind: 'fedadam', lr: 0.003, beta1: 0.9, beta2: 0.99, tau: 1e-6 },
      seed: 1,
      evaluateEvery: 100,
    };
  }
  // Reptile trains with more inner steps than the 5 it adapts with at test time (Nichol et al.); in federated
  // form the hub's average is its outer step. Measured with `npm run sim -- --rounds 20 --seed 1|2` on rotated:
  // held-out accuracy after 5 adaptation steps 70.2% with 20 inner steps vs 65.5% with 5 — and 70.0% for
  // FedAvg with `--local-epochs 3`, the same compute: on MNIST, local steps matter, not the meta-update.
  // Tuned on validation participants by bench/tune.ts (its DEFAULT_PLAN; table in bench/RESULTS.md, "Tuning"):
  // Dirichlet MNIST, 10 support digits, 40 rounds, 1 seed. outerLr of maml, fomaml, meta-sgd and per-fedavg-hf from
  // {0.05, 0.2, 0.5}: 0.5 for each (validation 89-90% against 84-85% at 0.05, the old preset); fedavg's lr from
  // {0.05, 0.1, 0.2}: 0.2 (88% against 82%), also given to fedper and fedrep, whose body trains as fedavg's model
  // does (not tuned for them); fedrep's headEpochs from {1, 2, 5}: 5. Every choice sits at its grid's upper edge
  // at this short budget, so larger values may do better still (not tried). Reptile is not tuned.
  // Again at the benchmark's budget (200 rounds, 2 seeds; the "Tuning" table):
  // - Meta-SGD, outerLr {0.2, 0.5, 1} x innerLr {0.02, 0.05, 0.1}: 0.5 and 0.05 stay (validation 92.9%; 0.2 gives
  //   91.6-91.8% in every seed), but they sit one step below collapse: outerLr 1 collapses in both seeds (33-44%),
  //   and 0.5 with innerLr 0.02 in one (48%).
  // - MAML, the same grid: outerLr 1 with innerLr 0.02 (94.4% against 92.1% for the old 0.5 and 0.05, ahead in both
  //   seeds), at the grid's corner; innerLr 0.1 hurts at every outer rate.
  // - first-order MAML and Per-FedAvg HF, innerLr {0.02, 0.05, 0.1} at outerLr 0.5: 0.02 (94.0% and 94.3%, against
  //   93.0% and 93.2% at 0.05, ahead in both seeds), at the grid's edge.
  // - FedAvg's server lr {0.5, 1, 2}: 2 led on average (94.2% against 93.4%) but not in both seeds: 1 stays.
  const smallInnerLr = algorithm === 'maml' || algorithm === 'fomaml' || algorithm === 'per-fedavg-hf';
  const tunedOuterLr = algorithm === 'reptile' || algorithm === 'maml' ? 1 : 0.5;
  const client: Partial<ClientHyper> = {
    batchSize: 32,
    lr: algorithm === 'fedavg' || algorithm === 'fedper' || algorithm === 'fedrep' ? 0.2 : 0.05,
    localEpochs: 1,
    innerLr: smallInnerLr ? 0.02 : 0.05,
    innerSteps: algorithm === 'reptile' ? 20 : algorithm === 'meta-sgd' ? 1 : 5,
    outerLr: tunedOuterLr,
    metaSteps: algorithm === 'reptile' ? 1 : 5,
    adaptSteps: algorithm === 'meta-sgd' ? 1 : 5,
    headEpochs: 5,
  };
  return {
    algorithm,
    model: MNIST_MLP,
    scenario: { name: scenario, participants: 40, seed: 1 },
    rounds: 30,
    perRound: 10,
    client,
    server: { kind: 'sgd', lr: 1 },
    seed: 1,
  };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A run config without a model is a request to start from the preset of its scenario (default shards) and
 * algorithm (default reptile): `{"rounds": 3}` or `{"algorithm": "maml", "scenario": {"name": "sinusoid"}}`. What it
 * says overrides the preset (scenario and client settings field by field; a server optimizer of another kind whole).
 * A config with a model is complete already: missing settings take the schema's defaults. Anything that is not an
 * object is returned as it is, for the schema to refuse.
 */
export function completeRunConfig(input: unknown): unknown {
  if (!isObject(input) || 'model' in input) return input;
  const scenarioName = isObject(input.scenario) && typeof input.scenario.name === 'string' ? input.scenario.name : 'shards';
  const algorithm = typeof input.algorithm === 'string' ? input.algorithm : 'reptile';
  if (!(SCENARIO_NAMES as readonly string[]).includes(scenarioName) || !(ALGORITHMS as readonly string[]).includes(algorithm)) return input;
  const preset = presetRunConfig(scenarioName as ScenarioName, algorithm as Algorithm) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...preset, ...input };
  for (const key of ['scenario', 'client'] as const) {
    if (isObject(preset[key]) && isObject(input[key])) merged[key] = { ...preset[key], ...input[key] };
  }
  // The preset's held-out and validation counts are sized for its participants, not for another number.
  if (isObject(merged.scenario) && isObject(input.scenario) && 'participants' in input.scenario) {
    const { heldOut, validation, ...rest } = merged.scenario;
    merged.scenario = {
      ...rest,
      ...('heldOut' in input.scenario ? { heldOut } : {}),
      ...('validation' in input.scenario ? { validation } : {}),
    };
  }
  if (isObject(preset.server) && isObject(input.server) && input.server.kind === preset.server.kind)
    merged.server = { ...preset.server, ...input.server };
  return merged;
}
