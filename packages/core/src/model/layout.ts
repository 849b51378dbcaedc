import { CNN_KERNEL, type ModelSpec } from './spec.js';

export interface TensorSlot {
  /** Keras-style weight name, e.g. "dense_1/kernel". */
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  /** Offset of this tensor in the flat weight vector. */
  readonly offset: number;
}

/**
 * The fixed order of the flat weight vector: layer by layer, kernel then bias, exactly the order of
 * `getWeights()` on the equivalent TF.js Sequential model. Dense kernels are [in, out]; conv kernels are
 * [kh, kw, in, out]. Codec segments, checkpoints and the exported weights.bin all use this order.
 */
export function weightLayout(spec: ModelSpec): TensorSlot[] {
  const shapes: [string, number[]][] = [];
  const dense = (index: number, inputs: number, outputs: number) => {
    shapes.push([`dense_${index}/kernel`, [inputs, outputs]], [`dense_${index}/bias`, [outputs]]);
  };
  switch (spec.kind) {
    case 'mlp': {
      let width = spec.inputShape.reduce((a, b) => a * b, 1);
      spec.hidden.forEach((units, i) => {
        dense(i + 1, width, units);
        width = units;
      });
      dense(spec.hidden.length + 1, width, spec.outputs);
      break;
    }
    case 'cnn': {
      let [height, width, channels] = spec.inputShape;
      spec.filters.forEach((filters, i) => {
        shapes.push([`conv2d_${i + 1}/kernel`, [CNN_KERNEL, CNN_KERNEL, channels, filters]], [`conv2d_${i + 1}/bias`, [filters]]);
        channels = filters;
        height = Math.ceil(height / 2);
        width = Math.ceil(width / 2);
      });
      dense(1, height * width * channels, spec.outputs);
      break;
    }
    default: {
      const unknown: never = spec;
      throw new Error(`unknown model kind ${JSON.stringify(unknown)}`);
    }
  }
  let offset = 0;
  return shapes.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const slot = { name, shape, size, offset };
    offset += size;
    return slot;
  });
}

export function parameterCount(spec: ModelSpec): number {
  return weightLayout(spec).reduce((n, slot) => n + slot.size, 0);
}

/** Tensor sizes in layout order: the codec's segments (one int8 scale per tensor). */
export function segmentSizes(spec: ModelSpec): number[] {
  return weightLayout(spec).map((slot) => slot.size);
}
