/**
 * Full MAML's meta-gradient (differentiated through the inner loop, so through second derivatives) against central
 * finite differences of the MAML objective, on the active TF.js backend. Kernels differ per backend, and a backend
 * that got a second derivative wrong would still train, just worse: so the Node tests check it on the CPU backend and
 * the browser tests through the page on WebGL, WASM and WebGPU. Every read is asynchronous (WebGPU: readTensors).
 */
import { l2Norm } from '../aggregate/norm.js';
import type { Examples } from '../data/dataset.js';
import { forward } from '../model/forward.js';
import { disposeAll, initialWeights, readTensors, toTensors } from '../model/params.js';
import type { MlpSpec } from '../model/spec.js';
import { tf } from '../tf.js';
import { toBatch } from './batch.js';
import { taskLoss } from './loss.js';
import { randomExamples } from './random-examples.js';
import { fomamlGradient, mamlGradient } from './steps.js';

/** A tiny MLP (38 weights): every weight's central difference is cheap. */
const SPEC: MlpSpec = { kind: 'mlp', inputShape: [3], hidden: [5], outputs: 3, task: 'classification' };
const INNER_LR = 0.5;
const INNER_STEPS = 2;

export interface MetaGradientCheck {
  /** ‖analytic − numeric‖ / ‖numeric‖. */
  readonly relativeError: number;
  /** ‖numeric‖: a check on a flat objective would prove nothing. */
  readonly numericNorm: number;
  /** ‖MAML − first-order MAML‖ / ‖MAML‖: the second-order terms are really there. */
  readonly secondOrderShare: number;
  /** |the loss mamlGradient reports − the objective evaluated without a tape|. */
  readonly lossGap: number;
  readonly backend: string;
}

/** The MAML objective without any gradient tape: the query loss after the inner SGD steps. */
async function objective(weights: Float32Array, support: Examples, query: Examples): Promise<number> {
  const loss = tf.tidy(() => {
    const [sx, sy] = toBatch(SPEC, support);
    const [qx, qy] = toBatch(SPEC, query);
    let w = toTensors(SPEC, weights);
    for (let s = 0; s < INNER_STEPS; s++) {
      const g = tf.grads((...vs: tf.Tensor[]) => taskLoss(SPEC, forward(SPEC, vs, sx), sy, true))(w);
      w = w.map((p, i) => tf.sub(p, tf.mul(g[i] as tf.Tensor, INNER_LR)));
    }
    return taskLoss(SPEC, forward(SPEC, w, qx), qy, true);
  });
  const [value] = await loss.data();
  loss.dispose();
  return value!;
}

/**
 * Central finite differences of `objective` at `at`, one value at a time: what an analytic gradient is checked
 * against (here, and in the Meta-SGD tests over weights and rates together).
 */
export async function centralDifferences(
  objective: (values: Float32Array) => number | Promise<number>,
  at: Float32Array,
  eps: number,
): Promise<Float32Array> {
  const numeric = new Float32Array(at.length);
  for (let i = 0; i < at.length; i++) {
    const plus = at.slice();
    const minus = at.slice();
    plus[i] = plus[i]! + eps;
    minus[i] = minus[i]! - eps;
    numeric[i] = ((await objective(plus)) - (await objective(minus))) / (2 * eps);
  }
  return numeric;
}

/** Checks the meta-gradient at seeded weights and data; `eps` is small enough to cross no ReLU kink, large enough for float32. */
export async function checkMamlGradient(options: { seed?: number; eps?: number } = {}): Promise<MetaGradientCheck> {
  const seed = options.seed ?? 7;
  const eps = options.eps ?? 3e-3;
  const weights = initialWeights(SPEC, seed);
  const support = randomExamples(seed + 1, 8);
  const query = randomExamples(seed + 2, 8);
  const params = toTensors(SPEC, weights);
  const s = toBatch(SPEC, support);
  const q = toBatch(SPEC, query);
  let analytic: Float32Array;
  let firstOrder: Float32Array;
  let reported: number;
  try {
    const second = mamlGradient(SPEC, params, s, q, INNER_LR, INNER_STEPS);
    const first = fomamlGradient(SPEC, params, s, q, INNER_LR, INNER_STEPS);
    analytic = await readTensors(second.grads);
    firstOrder = await readTensors(first.grads);
    reported = (await second.loss.data())[0]!;
    tf.dispose([...second.grads, second.loss, ...first.grads, first.loss]);
  } finally {
    tf.dispose([...s, ...q]);
    disposeAll(params);
  }
  const numeric = await centralDifferences((w) => objective(w, support, query), weights, eps);
  return {
    relativeError: l2Norm(analytic.map((a, i) => a - numeric[i]!)) / l2Norm(numeric),
    numericNorm: l2Norm(numeric),
    secondOrderShare: l2Norm(analytic.map((a, i) => a - firstOrder[i]!)) / l2Norm(analytic),
    lossGap: Math.abs(reported - (await objective(weights, support, query))),
    backend: tf.getBackend(),
  };
}
