import type { Examples } from '../data/dataset.js';
import { createRng } from '../rng.js';

/** Seeded Gaussian features and uniform labels: the small classification data the gradient checks run on. */
export function randomExamples(seed: number, count: number, features = 3, classes = 3): Examples {
  const rng = createRng(seed);
  return {
    count,
    x: Float32Array.from({ length: count * features }, () => rng.normal()),
    y: Float32Array.from({ length: count }, () => rng.int(classes)),
  };
}
