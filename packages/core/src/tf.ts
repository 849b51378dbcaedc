import * as tf from '@tensorflow/tfjs';

export { tf };

/**
 * Selects a TF.js backend and waits until it is ready. In Node only the pure-JS 'cpu' backend exists here
 * (tfjs-node would download a native binary); the browser registers webgl/wasm itself before calling this.
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
