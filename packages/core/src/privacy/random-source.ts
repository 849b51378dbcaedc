// Secret randomness for differential privacy: Poisson sampling of participants and the Gaussian noise. A DP run must
// never draw these from the run's public seed (privacy.md §3.2, §5), so the default source is the platform's CSPRNG
// (WebCrypto getRandomValues: node:crypto's in Node 20, the browser's in a tab). Tests inject a seeded one.

import { createRng } from '../rng.js';

/** Fills `bytes` with random bytes, as `crypto.getRandomValues` does. */
export type RandomSource = (bytes: Uint8Array) => void;

/** getRandomValues refuses more than 65,536 bytes per call. */
const MAX_BYTES_PER_CALL = 65_536;

/** The platform's cryptographically secure generator (globalThis.crypto: Node ≥ 19 and every browser). */
export const cryptoRandomSource: RandomSource = (bytes) => {
  for (let offset = 0; offset < bytes.length; offset += MAX_BYTES_PER_CALL) {
    globalThis.crypto.getRandomValues(bytes.subarray(offset, Math.min(bytes.length, offset + MAX_BYTES_PER_CALL)));
  }
};

/** A reproducible source for tests only: a DP run seeded this way has no privacy at all. */
export function seededRandomSource(seed: number): RandomSource {
  const rng = createRng(seed);
  return (bytes) => {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rng.next() * 256);
  };
}

/**
 * `count` uniforms in [0, 1), each from 53 random bits (two 32-bit words: 27 + 26 bits), so every float64 in the grid
 * k·2^-53 is equally likely.
 */
export function uniforms(source: RandomSource, count: number): Float64Array {
  const words = new Uint32Array(2 * count);
  source(new Uint8Array(words.buffer));
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = ((words[2 * i]! >>> 5) * 67_108_864 + (words[2 * i + 1]! >>> 6)) / 9_007_199_254_740_992;
  return out;
}
