// The cryptography of secure aggregation, glued from WebCrypto alone (privacy.md §2.5): the same calls run in a tab and
// in the hub (Node ≥ 20's globalThis.crypto), so both derive the same keys and masks. Nothing here is hand-written
// cryptography: X25519, HKDF-SHA256, AES-256-GCM and AES-256-CTR are the platform's. Where a browser's WebCrypto has
// no X25519 (older Safari and Firefox), X25519 alone comes from @noble/curves (audited, pure JS), as privacy.md §2.5
// and §6 plan; it derives the same keys and secrets (the tests check both against RFC 7748).

import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';

type Subtle = typeof globalThis.crypto.subtle;
/** WebCrypto's key type, named without the DOM library (core compiles without it). */
export type CryptoKey = Awaited<ReturnType<Subtle['importKey']>>;

const subtle = (): Subtle => globalThis.crypto.subtle;

/** PKCS#8 wrapping of a raw 32-byte X25519 private key (RFC 8410): a fixed prefix, then the key. */
const X25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

/** 32 bytes from the platform CSPRNG: a private key or a self-mask seed. */
export function randomSecret(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(32));
}

/** A private key as the platform holds it: a WebCrypto key, or (no X25519 in WebCrypto) its raw bytes for noble. */
export type X25519PrivateKey = CryptoKey | { readonly raw: Uint8Array };

export interface X25519KeyPair {
  /** The 32 raw private bytes: what gets Shamir-shared, so the hub can rebuild a dropped tab's key. */
  readonly secret: Uint8Array;
  readonly privateKey: X25519PrivateKey;
  /** The 32-byte raw public key that is advertised. */
  readonly publicKey: Uint8Array;
}

function bytesOf(view: Uint8Array): ArrayBuffer {
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer;
}

function fromBase64Url(text: string): Uint8Array {
  const base64 = text.replaceAll('-', '+').replaceAll('_', '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Whether WebCrypto does X25519 here: found out once, by importing a key (a NotSupportedError says no). */
let webX25519: Promise<boolean> | null = null;

function webCryptoX25519(): Promise<boolean> {
  webX25519 ??= subtle()
    .importKey('raw', new Uint8Array(32).fill(9), { name: 'X25519' }, false, [])
    .then(
      () => true,
      () => false,
    );
  return webX25519;
}

/**
 * Which X25519 the next keys use: 'noble' forces the fallback (to compare the two, or to run as a browser without
 * WebCrypto's would), 'auto' (the default) uses WebCrypto's where it exists.
 */
export function useX25519(which: 'auto' | 'noble'): void {
  webX25519 = which === 'noble' ? Promise.resolve(false) : null;
}

/** The X25519 implementation the platform gives this tab: what the tab can say about itself. */
export async function x25519Provider(): Promise<'webcrypto' | 'noble'> {
  return (await webCryptoX25519()) ? 'webcrypto' : 'noble';
}

/** An X25519 key pair from 32 raw private bytes (imported through PKCS#8, its public key read back through JWK). */
export async function x25519FromSecret(secret: Uint8Array): Promise<X25519KeyPair> {
  if (secret.length !== 32) throw new RangeError(`an X25519 private key is 32 bytes, got ${secret.length}`);
  if (!(await webCryptoX25519())) {
    const raw = Uint8Array.from(secret);
    return { secret: Uint8Array.from(secret), privateKey: { raw }, publicKey: nobleX25519.getPublicKey(raw) };
  }
  const pkcs8 = new Uint8Array(X25519_PKCS8_PREFIX.length + 32);
  pkcs8.set(X25519_PKCS8_PREFIX);
  pkcs8.set(secret, X25519_PKCS8_PREFIX.length);
  const privateKey = await subtle().importKey('pkcs8', bytesOf(pkcs8), { name: 'X25519' }, true, ['deriveBits']);
  const jwk = await subtle().exportKey('jwk', privateKey);
  if (!jwk.x) throw new Error('X25519: the platform exported no public key');
  return { secret: Uint8Array.from(secret), privateKey, publicKey: fromBase64Url(jwk.x) };
}

/** The 32-byte X25519 shared secret of our private key and a peer's raw public key. */
export async function x25519Shared(privateKey: X25519PrivateKey, peerPublicKey: Uint8Array): Promise<Uint8Array> {
  if (peerPublicKey.length !== 32) throw new RangeError(`an X25519 public key is 32 bytes, got ${peerPublicKey.length}`);
  if ('raw' in privateKey) return nobleX25519.getSharedSecret(privateKey.raw, peerPublicKey);
  const peer = await subtle().importKey('raw', bytesOf(peerPublicKey), { name: 'X25519' }, false, []);
  return new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: peer }, privateKey, 256));
}

/** HKDF-SHA256 of `ikm` into `length` bytes. */
export async function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
  const key = await subtle().importKey('raw', bytesOf(ikm), 'HKDF', false, ['deriveBits']);
  return new Uint8Array(
    await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: bytesOf(salt), info: bytesOf(info) }, key, 8 * length),
  );
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', bytesOf(data)));
}

/**
 * The mask generator: `words` little-endian uint32 of the AES-256-CTR keystream of `key` (the encryption of zeros from
 * an all-zero counter block, 64 counter bits), as privacy.md §2.5 fixes it, so every platform expands a seed alike.
 */
export async function maskWords(key: Uint8Array, words: number): Promise<Uint32Array> {
  if (key.length !== 32) throw new RangeError(`a mask key is 32 bytes, got ${key.length}`);
  const aes = await subtle().importKey('raw', bytesOf(key), { name: 'AES-CTR' }, false, ['encrypt']);
  if (zeros.length < 4 * words) zeros = new Uint8Array(4 * words);
  const stream = await subtle().encrypt({ name: 'AES-CTR', counter: new Uint8Array(16), length: 64 }, aes, zeros.subarray(0, 4 * words));
  // The keystream's own fresh buffer, read in place: a hub unmasking 200 tabs expands thousands of these.
  if (LITTLE_ENDIAN) return new Uint32Array(stream);
  const view = new DataView(stream);
  const out = new Uint32Array(words);
  for (let i = 0; i < words; i++) out[i] = view.getUint32(4 * i, true);
  return out;
}

/**
 * The all-zero plaintext the keystream encrypts, kept between calls (WebCrypto copies what it is given): the largest
 * asked for so far, at most 4 bytes per parameter of the largest model. Allocating it per mask made the hub's unmasking
 * of 200 tabs spend its time in garbage collection (bench/secagg.ts).
 */
let zeros = new Uint8Array(0);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** AES-256-GCM with a fresh 96-bit IV; `aad` binds the ciphertext to its context (run, round, session, sender, recipient). */
export async function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<{ iv: Uint8Array; ciphertext: Uint8Array }> {
  const aes = await subtle().importKey('raw', bytesOf(key), { name: 'AES-GCM' }, false, ['encrypt']);
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await subtle().encrypt({ name: 'AES-GCM', iv: bytesOf(iv), additionalData: bytesOf(aad) }, aes, bytesOf(plaintext));
  return { iv, ciphertext: new Uint8Array(ciphertext) };
}

/** Opens what `seal` sealed; throws when the key, IV, AAD or ciphertext differ (GCM authenticates all four). */
export async function open(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  const aes = await subtle().importKey('raw', bytesOf(key), { name: 'AES-GCM' }, false, ['decrypt']);
  return new Uint8Array(
    await subtle().decrypt({ name: 'AES-GCM', iv: bytesOf(iv), additionalData: bytesOf(aad) }, aes, bytesOf(ciphertext)),
  );
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
