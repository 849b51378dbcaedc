import { z } from 'zod';
import { strictObject } from '../strict-object.js';

/**
 * A model is described by a small serializable spec, so the hub, every tab and every checkpoint agree on the
 * architecture without shipping code. Hidden layers use ReLU: TF.js differentiates it exactly to second
 * order, which full MAML needs.
 */
export const MlpSpecSchema = strictObject({
  kind: z.literal('mlp'),
  inputShape: z.array(z.number().int().min(1)).min(1).max(4),
  hidden: z.array(z.number().int().min(1).max(4096)).max(8),
  outputs: z.number().int().min(1).max(1000),
  task: z.enum(['classification', 'regression']),
  /**
   * How many layers at the end form the personal head that fedrep and fedper keep on each participant (default 1:
   * the output layer); the layers before it are the shared body. Other algorithms share the whole model.
   */
  head: z.number().int().min(1).max(8).optional(),
});

export const CnnSpecSchema = strictObject({
  kind: z.literal('cnn'),
  /** [height, width, channels] */
  inputShape: z.tuple([z.number().int().min(4), z.number().int().min(4), z.number().int().min(1)]),
  /** One 3x3 'same' convolution + ReLU + 2x2 max-pool per entry. */
  filters: z.array(z.number().int().min(1).max(256)).min(1).max(4),
  outputs: z.number().int().min(1).max(1000),
  task: z.enum(['classification', 'regression']),
  /**
   * How many layers at the end form the personal head that fedrep and fedper keep on each participant (default 1:
   * the output layer); the layers before it are the shared body. Other algorithms share the whole model.
   */
  head: z.number().int().min(1).max(8).optional(),
});

export const ModelSpecSchema = z.discriminatedUnion('kind', [MlpSpecSchema, CnnSpecSchema]);

export type MlpSpec = z.infer<typeof MlpSpecSchema>;
export type CnnSpec = z.infer<typeof CnnSpecSchema>;
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/** MNIST default: 784-100-10, about 80 k parameters, small enough for many tabs on 2 cores. */
export const MNIST_MLP: MlpSpec = { kind: 'mlp', inputShape: [28, 28, 1], hidden: [100], outputs: 10, task: 'classification' };
export const MNIST_CNN: CnnSpec = { kind: 'cnn', inputShape: [28, 28, 1], filters: [8, 16], outputs: 10, task: 'classification' };
/** MAML's sinusoid regressor (Finn et al. 2017): 1-40-40-1. */
export const SINUSOID_MLP: MlpSpec = { kind: 'mlp', inputShape: [1], hidden: [40, 40], outputs: 1, task: 'regression' };

export const CNN_KERNEL = 3;
