/**
 * The messages between the participant page and its training worker (train-worker.ts), typed in one place as the
 * socket protocol is: the page asks for a backend, a client update or an adaptation curve; the worker answers each
 * request by its id, with progress messages in between. Functions do not cross: progress travels as messages.
 */
import type { AdaptationCurve, ClientUpdateInput, ClientUpdateResult, Examples, ModelSpec } from '@tabula/core';
import type { BackendName } from './backend-choice.js';

export type CurveOptions = { steps: readonly number[]; lr: number; rates?: Float32Array | null; adaptFrom?: number };

export type WorkerRequest =
  | { readonly id: number; readonly op: 'backend'; readonly name: BackendName }
  | { readonly id: number; readonly op: 'update'; readonly input: Omit<ClientUpdateInput, 'onProgress'> }
  | {
      readonly id: number;
      readonly op: 'curve';
      readonly spec: ModelSpec;
      readonly weights: Float32Array;
      readonly support: Examples;
      readonly test: Examples;
      readonly options: CurveOptions;
    };

export type WorkerReply =
  | { readonly id: number; readonly kind: 'progress'; readonly done: number; readonly total: number }
  | { readonly id: number; readonly kind: 'done'; readonly result: null | ClientUpdateResult | AdaptationCurve }
  | { readonly id: number; readonly kind: 'failed'; readonly error: string };
