import { z } from 'zod';
import { strictObject } from '../strict-object.js';

export const ALGORITHMS = [
  'fedavg',
  'fomaml',
  'maml',
  'reptile',
  'meta-sgd',
  'per-fedavg-fo',
  'per-fedavg-hf',
  'fedrep',
  'fedper',
] as const;
export const AlgorithmSchema = z.enum(ALGORITHMS);
export type Algorithm = z.infer<typeof AlgorithmSchema>;

/**
 * A participant's local hyper-parameters for one round. Which fields matter depends on the algorithm:
 * - fedavg: `localEpochs` epochs of minibatch SGD (`lr`, `batchSize`) over all local training data.
 * - reptile: `metaSteps` times: `innerSteps` SGD steps (`innerLr`) from the current weights, then move
 *   `outerLr` of the way to the result (Nichol et al. 2018). With one meta step and outerLr 1 it is FedAvg
 *   with `innerSteps` local steps: in federated form the two are close relatives (Jiang et al. 2019).
 * - fomaml / maml: `metaSteps` times: adapt `innerSteps` steps on a support batch, take the gradient of the
 *   query loss at the adapted weights (first-order) or through the adaptation (second-order), step `outerLr`.
 * - meta-sgd: as maml, but the inner steps are w − α ⊙ ∇L with a learned rate α per weight (Li et al. 2017), which
 *   starts at `innerLr`, is meta-trained with the weights and federated beside them; evaluation adapts with it.
 * - per-fedavg-fo / per-fedavg-hf: `metaSteps` times: one inner step (`innerLr`) on a support batch, the query
 *   gradient there, times (I − innerLr·H) in the Hessian-free variant, step `outerLr` (Fallah et al. 2020);
 *   `innerSteps` is not used.
 * - fedper / fedrep: the model's last `head` layers (model/spec.ts) are a personal head that each participant keeps
 *   between rounds; only the body before it is uploaded and averaged (Arivazhagan et al. 2019; Collins et al. 2021).
 *   fedper trains body and head together as fedavg does (`localEpochs`, `lr`, `batchSize`); fedrep first fits the
 *   head alone for `headEpochs` epochs, then the body alone for `localEpochs`. Evaluation fits only the head.
 * - every algorithm: evaluation adapts `adaptSteps` full-batch SGD steps at `innerLr` (meta-sgd: at its learned
 *   rates) on the support set.
 */
export const ClientHyperSchema = strictObject({
  batchSize: z.number().int().min(1).max(4096).default(32),
  lr: z.number().positive().max(10).default(0.05),
  localEpochs: z.number().int().min(1).max(100).default(1),
  innerLr: z.number().positive().max(10).default(0.05),
  innerSteps: z.number().int().min(1).max(100).default(5),
  outerLr: z.number().positive().max(10).default(0.1),
  metaSteps: z.number().int().min(1).max(1000).default(5),
  adaptSteps: z.number().int().min(0).max(100).default(5),
  headEpochs: z.number().int().min(1).max(100).default(5),
});
export type ClientHyper = z.infer<typeof ClientHyperSchema>;

export const DEFAULT_CLIENT_HYPER: ClientHyper = ClientHyperSchema.parse({});
