import type { Examples } from '../data/dataset.js';
import { weightLayout } from '../model/layout.js';
import { forward } from '../model/forward.js';
import { disposeAll, toTensors } from '../model/params.js';
import type { ModelSpec } from '../model/spec.js';
import { tf } from '../tf.js';
import { toBatch } from './batch.js';
import { scoreSum, taskLoss } from './loss.js';
import { metaSgdStep } from './meta-sgd.js';
import { sgdStep } from './steps.js';

/** accuracy (classification) or mse (regression), plus the mean loss, on one example set. */
export interface Score {
  readonly loss: number;
  readonly accuracy?: number;
  readonly mse?: number;
}

const EVAL_CHUNK = 512;

/** Scores weights (tensors in layout order) on examples, in chunks to bound memory; reads without blocking (readTensors). */
export async function scoreTensors(spec: ModelSpec, params: readonly tf.Tensor[], examples: Examples): Promise<Score> {
  if (examples.count === 0) throw new Error('cannot evaluate on an empty example set');
  let lossSum = 0;
  let score = 0;
  for (let start = 0; start < examples.count; start += EVAL_CHUNK) {
    const rows = Array.from({ length: Math.min(EVAL_CHUNK, examples.count - start) }, (_, i) => start + i);
    const [l, s] = tf.tidy((): [tf.Tensor, tf.Tensor] => {
      const [x, y] = toBatch(spec, examples, rows);
      const out = forward(spec, params, x);
      return [tf.mul(taskLoss(spec, out, y), rows.length), scoreSum(spec, out, y)];
    });
    const [lossPart, scorePart] = await Promise.all([l.data(), s.data()]);
    lossSum += lossPart[0]!;
    score += scorePart[0]!;
    tf.dispose([l, s]);
  }
  const loss = lossSum / examples.count;
  return spec.task === 'regression' ? { loss, mse: score / examples.count } : { loss, accuracy: score / examples.count };
}

export async function score(spec: ModelSpec, weights: Float32Array, examples: Examples): Promise<Score> {
  const params = toTensors(spec, weights);
  try {
    return await scoreTensors(spec, params, examples);
  } finally {
    disposeAll(params);
  }
}

export interface AdaptationCurve {
  /** Adaptation step counts, ascending, e.g. [0, 1, 5, 10]. */
  readonly steps: readonly number[];
  readonly scores: readonly Score[];
}

/**
 * Personalization as a user sees it: adapt the weights with full-batch SGD on this participant's support set
 * and score them on its held-out test set after each requested number of steps (0 = the global model). With
 * `rates` (a Meta-SGD run's learned per-weight learning rates, in layout order) each step is w − rates ⊙ ∇L instead.
 * With `adaptFrom` (a flat offset where a tensor starts: a personal head's, learn/local-model.ts) only the weights
 * from there on adapt.
 */
export async function adaptationCurve(
  spec: ModelSpec,
  weights: Float32Array,
  support: Examples,
  test: Examples,
  options: {
    steps: readonly number[];
    lr: number;
    rates?: Float32Array | null;
    adaptFrom?: number;
    onStep?: () => void | Promise<void>;
  },
): Promise<AdaptationCurve> {
  const layout = weightLayout(spec);
  const firstAdapted = layout.findIndex((slot) => slot.offset === (options.adaptFrom ?? 0));
  if (firstAdapted < 0) throw new Error(`adaptFrom ${options.adaptFrom} is not where a tensor of this ${spec.kind} starts`);
  if (options.rates && firstAdapted > 0) throw new Error('learned rates adapt every weight: adaptFrom must be 0');
  const steps = [...new Set(options.steps)].sort((a, b) => a - b);
  const last = steps[steps.length - 1] ?? 0;
  if (last > 0 && support.count === 0) throw new Error('cannot adapt without support examples');
  let params = toTensors(spec, weights);
  const rates = options.rates ? toTensors(spec, options.rates) : null;
  const [sx, sy] = last > 0 ? toBatch(spec, support) : [tf.zeros([1]), tf.zeros<tf.Rank.R2>([1, 1])];
  const scores: Score[] = [];
  try {
    for (let done = 0; done <= last; done++) {
      if (steps.includes(done)) scores.push(await scoreTensors(spec, params, test));
      if (done === last) break;
      const next = rates
        ? metaSgdStep(spec, params, rates, sx, sy)
        : sgdStep(spec, params, sx, sy, options.lr, { from: firstAdapted, to: layout.length });
      next.loss.dispose();
      disposeAll(params);
      params = next.params;
      await options.onStep?.();
    }
    return { steps, scores };
  } finally {
    disposeAll(params);
    if (rates) disposeAll(rates);
    tf.dispose([sx, sy]);
  }
}

/** The number a dashboard shows: accuracy for classification, MSE for regression. */
export function headline(s: Score): number {
  return s.accuracy ?? s.mse ?? s.loss;
}
