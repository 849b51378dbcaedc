import type { AdaptationCurve, ClientUpdateInput, ClientUpdateResult, Examples, ModelSpec } from '@tabula/core';
import type { BackendName } from './backend-choice.js';
import type { CurveOptions, WorkerReply, WorkerRequest } from './worker-protocol.js';

type Pending = { resolve(result: unknown): void; reject(error: Error): void; progress?: (done: number, total: number) => void };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The page's side of its training worker (train-worker.ts): the Participant's clientUpdate and adaptationCurve, run
 * there. Each call is one request; progress comes back as messages and reaches the caller's callbacks, so the page's
 * progress bar moves while its main thread stays free.
 */
export class TrainingWorker {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor() {
    this.worker = new Worker(new URL('./train-worker.ts', import.meta.url), { type: 'module', name: 'tabula-training' });
    this.worker.addEventListener('message', (event: MessageEvent<WorkerReply>) => {
      const message = event.data;
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      if (message.kind === 'progress') return void waiting.progress?.(message.done, message.total);
      this.pending.delete(message.id);
      if (message.kind === 'done') waiting.resolve(message.result);
      else waiting.reject(new Error(message.error));
    });
    this.worker.addEventListener('error', (event) => {
      const error = new Error(`the training worker failed: ${event.message}`);
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    });
  }

  private ask<T>(request: DistributiveOmit<WorkerRequest, 'id'>, progress?: (done: number, total: number) => void): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve, reject, ...(progress ? { progress } : {}) });
      this.worker.postMessage({ ...request, id });
    });
  }

  /** Initialises `name` in the worker; rejects with the reason when it cannot run there. */
  backend(name: BackendName): Promise<void> {
    return this.ask<null>({ op: 'backend', name }).then(() => undefined);
  }

  clientUpdate(input: ClientUpdateInput): Promise<ClientUpdateResult> {
    const { onProgress, ...rest } = input;
    return this.ask<ClientUpdateResult>(
      { op: 'update', input: rest },
      onProgress ? (done, total) => void onProgress(done, total) : undefined,
    );
  }

  adaptationCurve(
    spec: ModelSpec,
    weights: Float32Array,
    support: Examples,
    test: Examples,
    options: CurveOptions & { onStep?: () => void | Promise<void> },
  ): Promise<AdaptationCurve> {
    const { onStep, ...rest } = options;
    return this.ask<AdaptationCurve>(
      { op: 'curve', spec, weights, support, test, options: rest },
      onStep ? () => void onStep() : undefined,
    );
  }

  terminate(): void {
    this.worker.terminate();
  }
}
