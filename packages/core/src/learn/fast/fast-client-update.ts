import type { MlpSpec, ModelSpec } from '../../model/spec.js';
import { createRng } from '../../rng.js';
import { epochBatches, sampleIndices } from '../batch.js';
import { needsSupportAndQuery, plannedSteps, trainingExamples, type ClientUpdateInput, type ClientUpdateResult } from '../client-update.js';
import { federatedLength, keepsHead } from '../federated-layout.js';
import { HVP_DELTA } from '../hessian-vector.js';
import type { Algorithm } from '../hyper.js';
import { localModel } from '../local-model.js';
import { DenseMlp, type DenseBatch } from './dense-mlp.js';

export const FAST_ALGORITHMS = [
  'fedavg',
  'reptile',
  'fomaml',
  'maml',
  'meta-sgd',
  'per-fedavg-fo',
  'per-fedavg-hf',
  'fedrep',
  'fedper',
] as const satisfies readonly Algorithm[];
type FastAlgorithm = (typeof FAST_ALGORITHMS)[number];

function isFastAlgorithm(algorithm: Algorithm): algorithm is FastAlgorithm {
  return (FAST_ALGORITHMS as readonly Algorithm[]).includes(algorithm);
}

/** Whether fastClientUpdate computes this update (ReLU MLPs; FAST_ALGORITHMS); otherwise use clientUpdate. */
export function fastEngineSupports(spec: ModelSpec, algorithm: Algorithm): spec is MlpSpec {
  return spec.kind === 'mlp' && isFastAlgorithm(algorithm);
}

// Two models per spec, their activation buffers reused from update to update (the simulation runs one at a time):
// the support passes on one and the query's on its twin, so the support's last pass survives for MAML's products.
const models = new Map<string, [DenseMlp, DenseMlp]>();
function modelsFor(spec: MlpSpec): [DenseMlp, DenseMlp] {
  const key = JSON.stringify(spec);
  let pair = models.get(key);
  if (!pair) {
    pair = [new DenseMlp(spec), new DenseMlp(spec)];
    models.set(key, pair);
  }
  return pair;
}

/**
 * clientUpdate's twin for the simulation: the same inputs, minibatch draws (the same seeded rng calls in the
 * same order), losses, step order and outputs, computed in plain float64 loops instead of TF.js. Second-order
 * MAML backpropagates through the inner steps exactly, with one Hessian-vector product per inner step.
 */
export async function fastClientUpdate(input: ClientUpdateInput): Promise<ClientUpdateResult> {
  const { spec, algorithm, hyper, global, support, query } = input;
  if (spec.kind !== 'mlp' || !isFastAlgorithm(algorithm)) {
    throw new Error(`the fast engine runs ${FAST_ALGORITHMS.join(', ')} on MLPs, not ${algorithm} on a ${spec.kind}`);
  }
  const [model, twin] = modelsFor(spec);
  const size = model.parameterCount;
  // Meta-SGD federates its per-weight rates after the weights (learn/federated-layout.ts).
  const federated = federatedLength(spec, algorithm);
  if (global.length !== federated) throw new Error(`${algorithm} on this ${spec.kind} federates ${federated} values, got ${global.length}`);
  const train = trainingExamples(algorithm, support, query, model.widths[0]!);
  const rng = createRng(input.seed);
  const total = plannedSteps(algorithm, hyper, train.count);
  // The full model: the weights, or under a personal head the body and this participant's head.
  const start = localModel(spec, algorithm, global, input.head ?? null);
  const params = new Float64Array(start.weights);
  const rates = start.rates ? new Float64Array(start.rates) : new Float64Array(0);
  const grad = new Float64Array(size);
  const metaGrad = needsSupportAndQuery(algorithm) ? new Float64Array(size) : grad;
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
  // fedrep's phases: SGD on the flat range [from, to) alone (its gradient is computed in full, then masked).
  const epochs = async (count: number, from = 0, to = size) => {
    for (let epoch = 0; epoch < count; epoch++) {
      for (const rows of epochBatches(train.count, hyper.batchSize, rng)) {
        lossSum += model.lossAndGradient(params, model.batch(train, rows), grad);
        lossTerms++;
        for (let i = from; i < to; i++) params[i]! -= hyper.lr * grad[i]!;
        await progress();
      }
    }
  };

  switch (algorithm) {
    case 'fedavg':
    case 'fedper':
      await epochs(hyper.localEpochs);
      break;
    case 'fedrep':
      await epochs(hyper.headEpochs, start.adaptFrom);
      await epochs(hyper.localEpochs, 0, start.adaptFrom);
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
        lossSum += gradient(model, twin, params, s, q, hyper.innerLr, hyper.innerSteps, metaGrad, grad);
        lossTerms++;
        for (let i = 0; i < size; i++) params[i]! -= hyper.outerLr * metaGrad[i]!;
        await progress();
      }
      break;
    case 'meta-sgd': {
      const rateGrad = new Float64Array(size);
      for (let meta = 0; meta < hyper.metaSteps; meta++) {
        const s = model.batch(support, sampleIndices(support.count, hyper.batchSize, rng));
        const q = model.batch(query, sampleIndices(query.count, hyper.batchSize, rng));
        lossSum += metaSgdGradient(model, twin, params, rates, s, q, hyper.innerSteps, metaGrad, rateGrad);
        lossTerms++;
        for (let i = 0; i < size; i++) {
          params[i]! -= hyper.outerLr * metaGrad[i]!;
          rates[i]! -= hyper.outerLr * rateGrad[i]!;
        }
        await progress();
      }
      break;
    }
    case 'per-fedavg-fo':
    case 'per-fedavg-hf':
      for (let meta = 0; meta < hyper.metaSteps; meta++) {
        const s = model.batch(support, sampleIndices(support.count, hyper.batchSize, rng));
        const q = model.batch(query, sampleIndices(query.count, hyper.batchSize, rng));
        const h = algorithm === 'per-fedavg-hf' ? model.batch(support, sampleIndices(support.count, hyper.batchSize, rng)) : null;
        lossSum += perFedAvgGradient(model, params, s, q, h, hyper.innerLr, metaGrad, grad);
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
  const delta = new Float32Array(federated);
  const shared = Math.min(size, federated);
  for (let i = 0; i < shared; i++) delta[i] = Math.fround(params[i]!) - global[i]!;
  for (let i = 0; i < rates.length; i++) delta[size + i] = Math.fround(rates[i]!) - global[size + i]!;
  const head = keepsHead(algorithm) ? Float32Array.from(params.subarray(start.adaptFrom)) : undefined;
  return { delta, numExamples: train.count, loss: lossSum / Math.max(1, lossTerms), steps: done, ...(head ? { head } : {}) };
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
  twin: DenseMlp,
  w: Float64Array,
  s: DenseBatch,
  q: DenseBatch,
  lr: number,
  steps: number,
  out: Float64Array,
  scratch: Float64Array,
): number {
  return twin.lossAndGradient(adapt(model, w, s, lr, steps, scratch)[steps]!, q, out);
}

/**
 * d L_q(w_K) / d w_0 into `out`, through w_{k+1} = w_k − α ∇L_s(w_k): backwards, g_k = g_{k+1} − α H_s(w_k) g_{k+1},
 * which is what TF.js's nested tf.grads computes in learn/steps.ts's mamlGradient. Returns the query loss at w_K.
 */
function mamlGradient(
  model: DenseMlp,
  twin: DenseMlp,
  w: Float64Array,
  s: DenseBatch,
  q: DenseBatch,
  lr: number,
  steps: number,
  out: Float64Array,
  scratch: Float64Array,
): number {
  const iterates = adapt(model, w, s, lr, steps, scratch);
  const loss = twin.lossAndGradient(iterates[steps]!, q, out);
  for (let k = steps - 1; k >= 0; k--) {
    // The model's latest pass was the support gradient at w_{K−1}.
    if (k === steps - 1) model.hessianVectorProductAfterGradient(iterates[k]!, s, out, scratch);
    else model.hessianVectorProduct(iterates[k]!, s, out, scratch);
    for (let i = 0; i < out.length; i++) out[i]! -= lr * scratch[i]!;
  }
  return loss;
}

/**
 * Meta-SGD's meta-gradients (Li et al. 2017) through w_{k+1} = w_k − α ⊙ ∇L_s(w_k), into `outWeights` and `outRates`:
 * backwards from g = ∇L_q(w_K), the rates gain −g ⊙ ∇L_s(w_k) and g becomes g − H_s(w_k)(α ⊙ g), what TF.js's nested
 * tf.grads computes in learn/meta-sgd.ts. Returns the query loss at w_K.
 */
function metaSgdGradient(
  model: DenseMlp,
  twin: DenseMlp,
  w: Float64Array,
  alpha: Float64Array,
  s: DenseBatch,
  q: DenseBatch,
  steps: number,
  outWeights: Float64Array,
  outRates: Float64Array,
): number {
  const iterates = [w];
  const supportGrads: Float64Array[] = [];
  for (let k = 0; k < steps; k++) {
    const g = new Float64Array(w.length);
    model.lossAndGradient(iterates[k]!, s, g);
    supportGrads.push(g);
    iterates.push(iterates[k]!.map((x, i) => x - alpha[i]! * g[i]!));
  }
  const loss = twin.lossAndGradient(iterates[steps]!, q, outWeights);
  outRates.fill(0);
  const scaled = new Float64Array(w.length);
  const hv = new Float64Array(w.length);
  for (let k = steps - 1; k >= 0; k--) {
    const g = supportGrads[k]!;
    for (let i = 0; i < w.length; i++) {
      outRates[i]! -= outWeights[i]! * g[i]!;
      scaled[i] = alpha[i]! * outWeights[i]!;
    }
    if (k === steps - 1) model.hessianVectorProductAfterGradient(iterates[k]!, s, scaled, hv);
    else model.hessianVectorProduct(iterates[k]!, s, scaled, hv);
    for (let i = 0; i < w.length; i++) outWeights[i]! -= hv[i]!;
  }
  return loss;
}

/**
 * Per-FedAvg's step direction into `out` (Fallah et al. 2020), as learn/per-fedavg.ts computes it: the query gradient g
 * after one support step, and with a Hessian batch (HF) g − α·H_h g, H_h g the same central difference of two
 * gradients at w ± δ g/‖g‖ (learn/hessian-vector.ts). Returns the query loss after the step.
 */
function perFedAvgGradient(
  model: DenseMlp,
  w: Float64Array,
  s: DenseBatch,
  q: DenseBatch,
  h: DenseBatch | null,
  lr: number,
  out: Float64Array,
  scratch: Float64Array,
): number {
  const loss = model.lossAndGradient(adapt(model, w, s, lr, 1, scratch)[1]!, q, out);
  if (!h) return loss;
  let sum = 0;
  for (let i = 0; i < out.length; i++) sum += out[i]! * out[i]!;
  const norm = Math.max(Math.sqrt(sum), 1e-12);
  const moved = (sign: number): Float64Array => w.map((x, i) => x + ((sign * HVP_DELTA) / norm) * out[i]!);
  const minus = new Float64Array(w.length);
  model.lossAndGradient(moved(1), h, scratch);
  model.lossAndGradient(moved(-1), h, minus);
  const scale = norm / (2 * HVP_DELTA);
  for (let i = 0; i < out.length; i++) out[i]! -= lr * (scratch[i]! - minus[i]!) * scale;
  return loss;
}
