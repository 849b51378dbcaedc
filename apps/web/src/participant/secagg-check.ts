import { hkdf, maskWords, x25519FromSecret, x25519Provider, x25519Shared } from '@tabula/core';

const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const fromHex = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));

/**
 * The tab's secure aggregation crypto (the same core code that masks its updates), on hex strings, so a test or a
 * curious person can check from the console that this browser derives the keys and masks the standards say it must,
 * and so the same as the hub.
 */
export const secAggCheck = {
  /** Whose X25519 this browser uses: its WebCrypto's, or @noble/curves where WebCrypto has none. */
  provider: x25519Provider,
  /** The X25519 public key of a raw 32-byte private key. */
  async publicKey(secretHex: string): Promise<string> {
    return toHex((await x25519FromSecret(fromHex(secretHex))).publicKey);
  },
  async sharedSecret(secretHex: string, peerPublicHex: string): Promise<string> {
    const own = await x25519FromSecret(fromHex(secretHex));
    return toHex(await x25519Shared(own.privateKey, fromHex(peerPublicHex)));
  },
  async hkdf(ikmHex: string, saltHex: string, infoHex: string, length: number): Promise<string> {
    return toHex(await hkdf(fromHex(ikmHex), fromHex(saltHex), fromHex(infoHex), length));
  },
  /** The first `words` words of the mask generator (AES-256-CTR from a zero counter), as unsigned integers. */
  async maskWords(keyHex: string, words: number): Promise<number[]> {
    return Array.from(await maskWords(fromHex(keyHex), words));
  },
};
