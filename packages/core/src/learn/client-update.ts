import { concatExamples, type Examples } from '../data/dataset.js';
import { secondOrderBlocker } from '../model/forward.js';
import { disposeAll, readTensors, toTensors } from '../model/params.js';
import type { ModelSpec } from '../model/spec.js';
import { createRng } from '../rng.js';
import { tf } from '../tf.js';
import { epochBatches, featureLength, sampleIndices, toBatch } from './batch.js';
import { weightLayout } from '../model/layout.js';
import { keepsHead } from './federated-layout.js';
import type { Algorithm, ClientHyper } from './hyper.js';
import { metaSgdGradient } from './meta-sgd.js';
import { localModel } from './local-model.js';
import { perFedAvgGradient } from './per-fedavg.js';
import { applyStep, fomamlGradient, mamlGradient, sgdStep } from './steps.js';

export interface ClientUpdateInput {
  readonly spec: ModelSpec;
  readonly algorithm: Algorithm;
  readonly hyper: ClientHyper;
  /** The global vector this round starts from: weights in flat layout order (Meta-SGD: then its rates, see federated-layout.ts). */
  readonly global: Float32Array;
  readonly support: Examples;
  readonly query: Examples;
  /** fedrep / fedper: this participant's head from its last round (null or absent: it starts from freshHead). */
  readonly head?: Float32Array | null;
  /** Seeds minibatch sampling, so a round is reproducible. */
  readonly seed: number;
  /** Called after each local step; awaited, so a browser can repaint its progress bar. */
  readonly onProgress?: (done: number, total: number) => void | Promise<void>;
}

export interface ClientUpdateResult {
  /** local − global, in the order of `global`. */
  readonly delta: Float32Array;
  /** Local training examples: the FedAvg weight of this update. */
  readonly numExamples: number;
  /** Mean training loss over the round (query loss after adaptation for the MAML family). */
  readonly loss: number;
  readonly steps: number;
  /** fedrep / fedper: the head after this round, for the participant to keep (it is never uploaded). */
  readonly head?: Float32Array;
}

/** The meta-learners split local data into support and query; the others train on all of it. */
export function needsSupportAndQuery(algorithm: Algorithm): boolean {
  return !(['fedavg', 'reptile', 'fedrep', 'fedper'] as const).some((a) => a === algorithm);
}

/**
 * Support and query as one training set, refusing what no update can train on: no examples, or a meta-learner without
 * both parts. Shared by clientUpdate and the fast engine, so both refuse the same inputs.
 */
export function trainingExamples(algorithm: Algorithm, support: Examples, query: Examples, features: number): Examples {
  const train = concatExamples([support, query], features);
  if (train.count === 0) throw new Error('this participant has no training examples');
  if (needsSupportAndQuery(algorithm) && (support.count === 0 || query.count === 0)) {
    throw new Error(`${algorithm} needs both support and query examples (have ${support.count} and ${query.count})`);
  }
  return train;
}

/** Total local steps an update will take (for progress bars). */
export function plannedSteps(algorithm: Algorithm, hyper: ClientHyper, trainCount: number): number {
  switch (algorithm) {
    case 'fedavg':
    case 'fedper':
      return hyper.localEpochs * Math.ceil(trainCount / hyper.batchSize);
    case 'fedrep':
      return (hyper.headEpochs + hyper.localEpochs) * Math.ceil(trainCount / hyper.batchSize);
    case 'reptile':
      return hyper.metaSteps * hyper.innerSteps;
    case 'fomaml':
    case 'maml':
    case 'meta-sgd':
    case 'per-fedavg-fo':
    case 'per-fedavg-hf':
      return hyper.metaSteps;
    default: {
      const unknown: never = algorithm;
      throw new Error(`unknown algorithm ${String(unknown)}`);
    }
  }
}

/**
 * Minibatch gradients one trainer computes per round for a local update over `examples` examples: the local
 * compute an algorithm spends, which the accuracy tables alone do not show. MAML's and Meta-SGD's also
 * differentiate through the inner steps (second order), roughly doubling each. Per-FedAvg takes one inner and one
 * query gradient a step, and HF two more for its Hessian-vector product. FedRep's head epochs count in full, though a
 * head-only gradient stops its backward pass at the head.
 */
export function gradientsPerUpdate(algorithm: Algorithm, hyper: ClientHyper, examples: number): number {
  switch (algorithm) {
    case 'fedavg':
    case 'fedper':
      return hyper.localEpochs * Math.ceil(examples / hyper.batchSize);
    case 'fedrep':
      return (hyper.headEpochs + hyper.localEpochs) * Math.ceil(examples / hyper.batchSize);
    case 'reptile':
      return hyper.metaSteps * hyper.innerSteps;
    case 'fomaml':
    case 'maml':
    case 'meta-sgd':
      return hyper.metaSteps * (hyper.innerSteps + 1);
    case 'per-fedavg-fo':
      return hyper.metaSteps * 2;
    case 'per-fedavg-hf':
      return hyper.metaSteps * 4;
    default: {
      const never: never = algorithm;
      throw new Error(`unknown algorithm ${String(never)}`);
    }
  }
}

/**
 * One participant's contribution to a round: global weights + local data + hyper-parameters -> delta.
 * Pure apart from TF.js: every tensor it creates is disposed before it returns.
 */
export async function clientUpdate(input: ClientUpdateInput): Promise<ClientUpdateResult> {
  const { spec, algorithm, hyper, global, support, query } = input;
  if (algorithm === 'maml') {
    const blocker = secondOrderBlocker(spec);
    if (blocker) throw new Error(blocker);
  }
  const train = trainingExamples(algorithm, support, query, featureLength(spec));
  const rng = createRng(input.seed);
  const total = plannedSteps(algorithm, hyper, train.count);
  const start = localModel(spec, algorithm, global, input.head ?? null);
  let params = toTensors(spec, start.weights);
  let rates = start.rates ? toTensors(spec, start.rates) : [];
  let lossSum = tf.scalar(0);
  let lossTerms = 0;
  let done = 0;
  const addLoss = (loss: tf.Scalar) => {
    const next = tf.add<tf.Scalar>(lossSum, loss);
    lossSum.dispose();
    loss.dispose();
    lossSum = next;
    lossTerms++;
  };
  const replaceParams = (next: tf.Tensor[]) => {
    disposeAll(params);
    params = next;
  };
  const progress = async () => {
    done++;
    await input.onProgress?.(done, total);
  };

  // fedrep's phases: the head's tensors, then the body's (two per layer, the head's last).
  const tensors = weightLayout(spec).length;
  const headFrom = tensors - 2 * (spec.head ?? 1);
  const epochs = async (count: number, only?: { from: number; to: number }) => {
    for (let epoch = 0; epoch < count; epoch++) {
      for (const rows of epochBatches(train.count, hyper.batchSize, rng)) {
        const [x, y] = toBatch(spec, train, rows);
        const step = sgdStep(spec, params, x, y, hyper.lr, only);
        tf.dispose([x, y]);
        replaceParams(step.params);
        addLoss(step.loss);
        await progress();
      }
    }
  };

  try {
    switch (algorithm) {
      case 'fedavg':
      case 'fedper':
        await epochs(hyper.localEpochs);
        break;
      case 'fedrep':
        await epochs(hyper.headEpochs, { from: headFrom, to: tensors });
        await epochs(hyper.localEpochs, { from: 0, to: headFrom });
        break;
      case 'reptile':
        for (let meta = 0; meta < hyper.metaSteps; meta++) {
          let fast = params.map((p) => p.clone());
          for (let s = 0; s < hyper.innerSteps; s++) {
            const [x, y] = toBatch(spec, train, sampleIndices(train.count, hyper.batchSize, rng));
            const step = sgdStep(spec, fast, x, y, hyper.innerLr);
            tf.dispose([x, y]);
            disposeAll(fast);
            fast = step.params;
            addLoss(step.loss);
            await progress();
          }
          // θ ← θ + ε(θ' − θ), written as a step along (θ − θ') with rate ε.
          const direction = tf.tidy(() => params.map((p, i) => tf.sub(p, fast[i] as tf.Tensor)));
          replaceParams(applyStep(params, direction, hyper.outerLr));
          disposeAll(direction);
          disposeAll(fast);
        }
        break;
      case 'fomaml':
      case 'maml':
        for (let meta = 0; meta < hyper.metaSteps; meta++) {
          const s = toBatch(spec, support, sampleIndices(support.count, hyper.batchSize, rng));
          const q = toBatch(spec, query, sampleIndices(query.count, hyper.batchSize, rng));
          const gradient = algorithm === 'maml' ? mamlGradient : fomamlGradient;
          const { grads, loss } = gradient(spec, params, s, q, hyper.innerLr, hyper.innerSteps);
          tf.dispose([...s, ...q]);
          replaceParams(applyStep(params, grads, hyper.outerLr));
          disposeAll(grads);
          addLoss(loss);
          await progress();
        }
        break;
      case 'meta-sgd':
        for (let meta = 0; meta < hyper.metaSteps; meta++) {
          const s = toBatch(spec, support, sampleIndices(support.count, hyper.batchSize, rng));
          const q = toBatch(spec, query, sampleIndices(query.count, hyper.batchSize, rng));
          const { weightGrads, rateGrads, loss } = metaSgdGradient(spec, params, rates, s, q, hyper.innerSteps);
          tf.dispose([...s, ...q]);
          replaceParams(applyStep(params, weightGrads, hyper.outerLr));
          const nextRates = applyStep(rates, rateGrads, hyper.outerLr);
          disposeAll(rates);
          rates = nextRates;
          disposeAll([...weightGrads, ...rateGrads]);
          addLoss(loss);
          await progress();
        }
        break;
      case 'per-fedavg-fo':
      case 'per-fedavg-hf':
        for (let meta = 0; meta < hyper.metaSteps; meta++) {
          const s = toBatch(spec, support, sampleIndices(support.count, hyper.batchSize, rng));
          const q = toBatch(spec, query, sampleIndices(query.count, hyper.batchSize, rng));
          // The Hessian's batch is drawn apart from the inner step's, as the paper's D'' (an unbiased product).
          const h = algorithm === 'per-fedavg-hf' ? toBatch(spec, support, sampleIndices(support.count, hyper.batchSize, rng)) : null;
          const { grads, loss } = perFedAvgGradient(spec, params, s, q, h, hyper.innerLr);
          tf.dispose([...s, ...q, ...(h ?? [])]);
          replaceParams(applyStep(params, grads, hyper.outerLr));
          disposeAll(grads);
          addLoss(loss);
          await progress();
        }
        break;
      default: {
        const unknown: never = algorithm;
        throw new Error(`unknown algorithm ${String(unknown)}`);
      }
    }
    const local = await readTensors([...params, ...rates]);
    const delta = new Float32Array(global.length);
    for (let i = 0; i < delta.length; i++) delta[i] = (local[i] as number) - (global[i] as number);
    const loss = (await lossSum.data())[0]! / Math.max(1, lossTerms);
    const head = keepsHead(algorithm) ? local.slice(start.adaptFrom) : undefined;
    return { delta, numExamples: train.count, loss, steps: done, ...(head ? { head } : {}) };
  } finally {
    disposeAll(params);
    disposeAll(rates);
    lossSum.dispose();
  }
}
