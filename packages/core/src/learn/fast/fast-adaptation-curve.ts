import type { Examples } from '../../data/dataset.js';
import type { MlpSpec } from '../../model/spec.js';
import type { AdaptationCurve, adaptationCurve, Score } from '../evaluate.js';
import { DenseMlp, type DenseBatch } from './dense-mlp.js';

const EVAL_CHUNK = 512;
const models = new Map<string, DenseMlp>();

/**
 * adaptationCurve's twin for MLPs in plain float64 loops (see dense-mlp.ts): the same full-batch SGD steps on the
 * support set (or Meta-SGD's w − rates ⊙ ∇L; of the weights from `adaptFrom` on), the same scores on the test set, without TF.js's per-op cost.
 */
export async function fastAdaptationCurve(
  spec: MlpSpec,
  weights: Float32Array,
  support: Examples,
  test: Examples,
  options: Parameters<typeof adaptationCurve>[4],
): Promise<AdaptationCurve> {
  const key = JSON.stringify(spec);
  const model = models.get(key) ?? new DenseMlp(spec);
  models.set(key, model);
  if (weights.length !== model.parameterCount) {
    throw new Error(`weights have ${weights.length} values but the ${spec.kind} model needs ${model.parameterCount}`);
  }
  if (test.count === 0) throw new Error('cannot evaluate on an empty example set');
  const steps = [...new Set(options.steps)].sort((a, b) => a - b);
  const last = steps[steps.length - 1] ?? 0;
  if (last > 0 && support.count === 0) throw new Error('cannot adapt without support examples');
  const from = options.adaptFrom ?? 0;
  const w = new Float64Array(weights);
  const grad = new Float64Array(w.length);
  const rates = options.rates ?? null;
  const batch = last > 0 ? model.batch(support, range(0, support.count)) : null;
  const chunks: DenseBatch[] = [];
  for (let start = 0; start < test.count; start += EVAL_CHUNK)
    chunks.push(model.batch(test, range(start, Math.min(test.count, start + EVAL_CHUNK))));
  const scores: Score[] = [];
  for (let done = 0; done <= last; done++) {
    if (steps.includes(done)) scores.push(scoreOn(model, w, chunks, test.count));
    if (done === last || !batch) break;
    model.lossAndGradient(w, batch, grad);
    for (let i = from; i < w.length; i++) w[i]! -= (rates ? rates[i]! : options.lr) * grad[i]!;
    await options.onStep?.();
  }
  return { steps, scores };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function scoreOn(model: DenseMlp, w: Float64Array, chunks: readonly DenseBatch[], count: number): Score {
  let lossSum = 0;
  let correct = 0;
  let squaredError = 0;
  for (const chunk of chunks) {
    const s = model.score(w, chunk);
    lossSum += s.loss * chunk.n;
    correct += s.correct;
    squaredError += s.squaredError;
  }
  const loss = lossSum / count;
  return model.spec.task === 'regression' ? { loss, mse: squaredError / count } : { loss, accuracy: correct / count };
}
