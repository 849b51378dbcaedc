import { afterEach, describe, expect, it } from 'vitest';
import { hkdf, maskWords, open, randomSecret, seal, useX25519, utf8, x25519FromSecret, x25519Provider, x25519Shared } from './crypto.js';

const hex = (text: string) => Uint8Array.from(text.match(/../g)!, (b) => parseInt(b, 16));
const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

// Known answers of privacy.md §2.6: a tab and the hub must derive the same keys and masks.
describe('secure aggregation crypto (WebCrypto): known answers', () => {
  it('X25519 (RFC 7748 §6.1): public keys from raw private keys, and the shared secret both ways', async () => {
    const alice = await x25519FromSecret(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const bob = await x25519FromSecret(hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    expect(toHex(alice.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(bob.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(toHex(await x25519Shared(alice.privateKey, bob.publicKey))).toBe(shared);
    expect(toHex(await x25519Shared(bob.privateKey, alice.publicKey))).toBe(shared);
  });

  it('HKDF-SHA256 (RFC 5869 A.1)', async () => {
    const okm = await hkdf(new Uint8Array(22).fill(0x0b), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42);
    expect(toHex(okm)).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  it('the mask generator is AES-256-CTR from a zero counter (NIST SP 800-38A F.5.5 key: blocks of E_K(0), E_K(1)…)', async () => {
    // Prepare: the keystream's first block is AES_K(counter 0); check it against the standard's own cipher via a
    // counter that starts where the standard's does, so the vector applies: ciphertext = plaintext XOR E_K(counter).
    const key = hex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
    const aes = await globalThis.crypto.subtle.importKey('raw', key, { name: 'AES-CTR' }, false, ['encrypt']);
    const block = new Uint8Array(
      await globalThis.crypto.subtle.encrypt(
        { name: 'AES-CTR', counter: hex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff'), length: 64 },
        aes,
        hex('6bc1bee22e409f96e93d7e117393172a'),
      ),
    );
    expect(toHex(block)).toBe('601ec313775789a5b7a7f504bbf3d228');
    // Execute: the mask words are the zero-counter keystream, little-endian.
    const words = await maskWords(key, 8);
    const stream = new Uint8Array(
      await globalThis.crypto.subtle.encrypt({ name: 'AES-CTR', counter: new Uint8Array(16), length: 64 }, aes, new Uint8Array(32)),
    );
    // Assert
    expect(Array.from(words)).toEqual(Array.from(new Uint32Array(stream.buffer)));
    expect(new Set(words).size).toBe(8);
  });

  it('seals shares with AES-256-GCM bound to their context: another AAD or a flipped bit does not open', async () => {
    const key = new Uint8Array(32).fill(7);
    const aad = utf8('run-1|3|session|1|2');
    const { iv, ciphertext } = await seal(key, utf8('share bytes'), aad);
    expect(new TextDecoder().decode(await open(key, iv, ciphertext, aad))).toBe('share bytes');
    await expect(open(key, iv, ciphertext, utf8('run-1|3|session|2|1'))).rejects.toThrow();
    const flipped = Uint8Array.from(ciphertext);
    flipped[0]! ^= 1;
    await expect(open(key, iv, flipped, aad)).rejects.toThrow();
  });
});

describe('X25519 without WebCrypto’s (the @noble/curves fallback for browsers that lack it)', () => {
  afterEach(() => useX25519('auto'));

  it('derives RFC 7748’s public keys and shared secret, and the same secret as WebCrypto for any keys', async () => {
    // Execute
    useX25519('noble');
    const provider = await x25519Provider();
    const alice = await x25519FromSecret(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const bob = await x25519FromSecret(hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    const secrets = [randomSecret(), randomSecret()];
    const noble = await Promise.all(secrets.map((s) => x25519FromSecret(s)));
    useX25519('auto');
    const web = await Promise.all(secrets.map((s) => x25519FromSecret(s)));

    // Assert
    expect(provider).toBe('noble');
    expect(await x25519Provider()).toBe('webcrypto');
    expect(toHex(alice.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(bob.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(toHex(await x25519Shared(alice.privateKey, bob.publicKey))).toBe(
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    );
    expect(noble.map((k) => toHex(k.publicKey))).toEqual(web.map((k) => toHex(k.publicKey)));
    // A tab on the fallback and a tab on WebCrypto agree on their pair's secret, both ways.
    const across = toHex(await x25519Shared(noble[0]!.privateKey, web[1]!.publicKey));
    expect(toHex(await x25519Shared(web[1]!.privateKey, noble[0]!.publicKey))).toBe(across);
    expect(toHex(await x25519Shared(web[0]!.privateKey, web[1]!.publicKey))).toBe(across);
  });
});
