import { createRng } from '../rng.js';
import { tf } from '../tf.js';
import { weightLayout } from './layout.js';
import type { ModelSpec } from './spec.js';

/** Seeded Glorot-uniform kernels and zero biases (Keras' defaults), as one flat vector in layout order. */
export function initialWeights(spec: ModelSpec, seed: number): Float32Array {
  const layout = weightLayout(spec);
  const last = layout[layout.length - 1];
  const flat = new Float32Array(last ? last.offset + last.size : 0);
  const rng = createRng(seed);
  for (const slot of layout) {
    if (slot.shape.length === 1) continue; // bias: zeros
    const receptive = slot.shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const fanIn = (slot.shape[slot.shape.length - 2] ?? 1) * receptive;
    const fanOut = (slot.shape[slot.shape.length - 1] ?? 1) * receptive;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < slot.size; i++) flat[slot.offset + i] = (rng.next() * 2 - 1) * limit;
  }
  return flat;
}

/** Flat weights -> one tensor per layout slot. The caller owns (disposes) the tensors. */
export function toTensors(spec: ModelSpec, flat: Float32Array): tf.Tensor[] {
  const layout = weightLayout(spec);
  const expected = layout.reduce((n, s) => n + s.size, 0);
  if (flat.length !== expected) {
    throw new Error(`weights have ${flat.length} values but the ${spec.kind} model needs ${expected}`);
  }
  return layout.map((slot) => tf.tensor(flat.slice(slot.offset, slot.offset + slot.size), [...slot.shape], 'float32'));
}

/** Tensors in layout order -> one flat vector (reads them synchronously; does not dispose them). */
export function fromTensors(tensors: readonly tf.Tensor[]): Float32Array {
  const total = tensors.reduce((n, t) => n + t.size, 0);
  const flat = new Float32Array(total);
  let offset = 0;
  for (const t of tensors) {
    flat.set(t.dataSync(), offset);
    offset += t.size;
  }
  return flat;
}

/**
 * As `fromTensors`, read without blocking: what every backend supports. WebGPU reads synchronously slowly, and on
 * Chromium's software adapter not at all (its instance is lost), so paths that run in a tab read this way.
 */
export async function readTensors(tensors: readonly tf.Tensor[]): Promise<Float32Array> {
  const values = await Promise.all(tensors.map((t) => t.data()));
  const flat = new Float32Array(values.reduce((n, v) => n + v.length, 0));
  let offset = 0;
  for (const v of values) {
    flat.set(v, offset);
    offset += v.length;
  }
  return flat;
}

export function disposeAll(tensors: readonly tf.Tensor[]): void {
  for (const t of tensors) t.dispose();
}
