import { concatExamples } from '../../data/dataset.js';
import type { MlpSpec, ModelSpec } from '../../model/spec.js';
import { createRng } from '../../rng.js';
import { epochBatches, sampleIndices } from '../batch.js';
import { plannedSteps, type ClientUpdateInput, type ClientUpdateResult } from '../client-update.js';
import type { Algorithm } from '../hyper.js';
import { DenseMlp, type DenseBatch } from './dense-mlp.js';

export const FAST_ALGORITHMS = ['fedavg', 'reptile', 'fomaml', 'maml'] as const satisfies readonly Algorithm[];
type FastAlgorithm = (typeof FAST_ALGORITHMS)[number];

/** Whether fastClientUpdate computes this update (ReLU MLPs, the four classic algorithms); otherwise use clientUpdate. */
export function fastEngineSupports(spec: ModelSpec, algorithm: Algorithm): spec is MlpSpec {
  return spec.kind === 'mlp' && (FAST_ALGORITHMS as readonly Algorithm[]).includes(algorithm);
}

// One model per spec: its activation buffers are reused from update to update (the simulation runs one at a time).
const models = new Map<string, DenseMlp>();
function modelFor(spec: MlpSpec): DenseMlp {
  const key = JSON.stringify(spec);
  let model = models.get(key);
  if (!model) {
    model = new DenseMlp(spec);
    models.set(key, model);
  }
  return model;
}

/**
 * clientUpdate's twin for the simulation: the same inputs, minibatch draws (the same seeded rng calls in the
 * same order), losses, step order and outputs, computed in plain float64 loops instead of TF.js. Second-order
 * MAML backpropagates through the inner steps exactly, with one Hessian-vector product per inner step.
 */
export async function fastClientUpdate(input: ClientUpdateInput): Promise<ClientUpdateResult> {
  const { spec, hyper, global, support, query } = input;
  const algorithm = input.algorithm as FastAlgorithm;
  if (!fastEngineSupports(spec, input.algorithm)) {
    throw new Error(`the fast engine runs ${FAST_ALGORITHMS.join(', ')} on MLPs, not ${input.algorithm} on a ${spec.kind}`);
  }
  const model = modelFor(spec);
  if (global.length !== model.parameterCount) {
    throw new Error(`weights have ${global.length} values but the ${spec.kind} model needs ${model.parameterCount}`);
  }
  const train = concatExamples([support, query], model.widths[0]!);
  if (train.count === 0) throw new Error('this participant has no training examples');
  if ((algorithm === 'maml' || algorithm === 'fomaml') && (support.count === 0 || query.count === 0)) {
    throw new Error(`${algorithm} needs both support and query examples (have ${support.count} and ${query.count})`);
  }
  const rng = createRng(input.seed);
  const total = plannedSteps(algorithm, hyper, train.count);
  const size = model.parameterCount;
  const params = new Float64Array(global);
  const grad = new Float64Array(size);
  const metaGrad = algorithm === 'maml' || algorithm === 'fomaml' ? new Float64Array(size) : grad;
  let lossSum = 0;
  let lossTerms = 0;
  let done = 0;
  const progress = async () => {
    done++;
    await input.onProgress?.(done, total);
  };
  const sgd = (w: Float64Array, batch: DenseBatch, lr: number): void => {
    lossSum += model.lossAndGradient(w, batch, grad);
    lossTerms++;
    for (let i = 0; i < size; i++) w[i]! -= lr * grad[i]!;
  };

  switch (algorithm) {
    case 'fedavg':
      for (let epoch = 0; epoch < hyper.localEpochs; epoch++) {
        for (const rows of epochBatches(train.count, hyper.batchSize, rng)) {
          sgd(params, model.batch(train, rows), hyper.lr);
          await progress();
        }
      }
      break;
    case 'reptile':
      for (let meta = 0; meta < hyper.metaSteps; meta++) {
        const fast = params.slice();
        for (let s = 0; s < hyper.innerSteps; s++) {
          sgd(fast, model.batch(train, sampleIndices(train.count, hyper.batchSize, rng)), hyper.innerLr);
          await progress();
        }
        for (let i = 0; i < size; i++) params[i]! -= hyper.outerLr * (params[i]! - fast[i]!);
      }
      break;
    case 'fomaml':
    case 'maml':
      for (let meta = 0; meta < hyper.metaSteps; meta++) {
        const s = model.batch(support, sampleIndices(support.count, hyper.batchSize, rng));
        const q = model.batch(query, sampleIndices(query.count, hyper.batchSize, rng));
        const gradient = algorithm === 'maml' ? mamlGradient : fomamlGradient;
        lossSum += gradient(model, params, s, q, hyper.innerLr, hyper.innerSteps, metaGrad, grad);
        lossTerms++;
        for (let i = 0; i < size; i++) params[i]! -= hyper.outerLr * metaGrad[i]!;
        await progress();
      }
      break;
    default: {
      const unknown: never = algorithm;
      throw new Error(`unknown algorithm ${String(unknown)}`);
    }
  }
  const delta = new Float32Array(size);
  for (let i = 0; i < size; i++) delta[i] = Math.fround(params[i]!) - global[i]!;
  return { delta, numExamples: train.count, loss: lossSum / Math.max(1, lossTerms), steps: done };
}

/** `steps` SGD steps on the support batch; returns every iterate, w_0 = w (not copied) first. */
function adapt(model: DenseMlp, w: Float64Array, support: DenseBatch, lr: number, steps: number, scratch: Float64Array): Float64Array[] {
  const iterates = [w];
  for (let s = 0; s < steps; s++) {
    const next = iterates[s]!.slice();
    model.lossAndGradient(next, support, scratch);
    for (let i = 0; i < next.length; i++) next[i]! -= lr * scratch[i]!;
    iterates.push(next);
  }
  return iterates;
}

/** The first-order meta-gradient into `out`; returns the query loss at the adapted weights. */
function fomamlGradient(
  model: DenseMlp,
  w: Float64Array,
  s: DenseBatch,
  q: DenseBatch,
  lr: number,
  steps: number,
  out: Float64Array,
  scratch: Float64Array,
): number {
  return model.lossAndGradient(adapt(model, w, s, lr, steps, scratch)[steps]!, q, out);
}

/**
 * d L_q(w_K) / d w_0 into `out`, through w_{k+1} = w_k − α ∇L_s(w_k): backwards, g_k = g_{k+1} − α H_s(w_k) g_{k+1},
 * which is what TF.js's nested tf.grads computes in learn/steps.ts's mamlGradient. Returns the query loss at w_K.
 */
function mamlGradient(
  model: DenseMlp,
  w: Float64Array,
  s: DenseBatch,
  q: DenseBatch,
  lr: number,
  steps: number,
  out: Float64Array,
  scratch: Float64Array,
): number {
  const iterates = adapt(model, w, s, lr, steps, scratch);
  const loss = model.lossAndGradient(iterates[steps]!, q, out);
  for (let k = steps - 1; k >= 0; k--) {
    model.hessianVectorProduct(iterates[k]!, s, out, scratch);
    for (let i = 0; i < out.length; i++) out[i]! -= lr * scratch[i]!;
  }
  return loss;
}
