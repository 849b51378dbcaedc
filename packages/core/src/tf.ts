import * as tf from '@tensorflow/tfjs';
// Registers the 'wasm' backend (initialised only when selected). In Node it finds its .wasm files itself;
// a browser must call setWasmPaths first. It cannot train CNNs: 4.22 lacks Conv2DBackpropFilter.
import '@tensorflow/tfjs-backend-wasm';

export { tf };

/**
 * Selects a TF.js backend and waits until it is ready. In Node, 'cpu' (pure JS) and 'wasm' exist here:
 * tfjs-node would download a native binary, which this project never does.
 */
export async function useBackend(name: string): Promise<string> {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  // PROD skips debug checks and the "install tfjs-node" banner, which cannot apply here.
  if (isNode) tf.env().set('PROD', true);
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TF.js backend "${name}" failed to initialise`);
  await tf.ready();
  return tf.getBackend();
}
