/**
 * The participant's training worker: TF.js's client update and evaluation run here, off the page's main thread, so
 * the page stays responsive while the tab trains (issue 15). The page keeps the session with the hub and the views;
 * it sends each round's inputs here (worker-protocol.ts). The backend is the one the page chose, initialised here.
 */
import '@tensorflow/tfjs-backend-webgpu';
import { adaptationCurve, clientUpdate, useBackend } from '@tabula/core';
import { configureWasmPaths } from './wasm-paths.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

const reply = (message: WorkerReply) => (self as unknown as { postMessage(m: WorkerReply): void }).postMessage(message);

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  switch (request.op) {
    case 'backend': {
      if (request.name === 'wasm') configureWasmPaths();
      if (request.name === 'webgl' && typeof OffscreenCanvas === 'undefined')
        throw new Error('WebGL needs OffscreenCanvas in a worker, and this browser has none');
      await useBackend(request.name);
      return { id: request.id, kind: 'done', result: null };
    }
    case 'update': {
      const result = await clientUpdate({
        ...request.input,
        onProgress: (done, total) => reply({ id: request.id, kind: 'progress', done, total }),
      });
      return { id: request.id, kind: 'done', result };
    }
    case 'curve': {
      let done = 0;
      const result = await adaptationCurve(request.spec, request.weights, request.support, request.test, {
        ...request.options,
        onStep: () => reply({ id: request.id, kind: 'progress', done: ++done, total: 0 }),
      });
      return { id: request.id, kind: 'done', result };
    }
    default: {
      const never: never = request;
      throw new Error(`unknown request ${JSON.stringify(never)}`);
    }
  }
}

self.addEventListener('message', (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  handle(request).then(reply, (error: unknown) =>
    reply({ id: request.id, kind: 'failed', error: error instanceof Error ? error.message : String(error) }),
  );
});
