// Node only (node:fs): exported from `@tabula/core/node`, never from the browser entry.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMnistAsset, type MnistData } from './mnist.js';

/** packages/core/assets/mnist.bin, found from this file so it works from any working directory. */
export const DEFAULT_MNIST_PATH = fileURLToPath(new URL('../../assets/mnist.bin', import.meta.url));

const cache = new Map<string, MnistData>();

/** Reads and parses the MNIST asset once per path (7.9 MB; later calls return the same views). */
export function loadMnist(path: string = DEFAULT_MNIST_PATH): MnistData {
  const file = resolve(path);
  const cached = cache.get(file);
  if (cached) return cached;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`MNIST asset not found at ${file}: build it with \`node packages/core/scripts/build-mnist.mjs\``, { cause: error });
    }
    throw new Error(`cannot read the MNIST asset at ${file}: ${(error as Error).message}`, { cause: error });
  }
  let mnist: MnistData;
  try {
    mnist = parseMnistAsset(bytes);
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`, { cause: error });
  }
  cache.set(file, mnist);
  return mnist;
}
