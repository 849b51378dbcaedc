// Secure aggregation's four stages (Bonawitz et al. 2017; privacy.md §2.4) as two state machines, one per tab and one
// for the hub, that exchange plain messages: the hub learns the sum of the survivors' ring vectors and nothing of any
// one of them, and a round survives tabs that leave after advertising their keys. Each tab shares secrets with and
// masks against its neighbours: every other tab (SecAgg), or with `graph` its k neighbours on a ring shuffled by the
// session's public seed (SecAgg+'s Harary graph, Bell et al. 2020), so a tab's cost grows with k, not the group.
// Transport (socket.io events with acks and per-stage timeouts) is the caller's.
//
//   0 advertise  tab → hub   two X25519 public keys: encKey (to encrypt shares), maskKey (pairwise masks)
//   1 share      hub → tab   the roster U1 of advertised keys; tab → hub: per peer, AES-GCM(Shamir shares of its
//                            self-mask seed b_u and of its mask private key s_u)
//   2 mask       hub → tab   the shares addressed to it; tab → hub: y_u = x_u + PRG(b_u) + Σ_v ±PRG(k_uv) mod 2^32
//   3 unmask     hub → tab   survivors U2 and dropped U1 \ U2; tab → hub: its shares of b_v (v ∈ U2) and of s_v
//                            (v dropped), never both for one peer
//
// The hub then rebuilds each survivor's b_v and each dropped tab's s_v (checked against its advertised key), removes
// the self masks and the pairwise masks the dropped tabs left in the survivors' inputs, and holds Σ_{u ∈ U2} x_u.

import { combine, split } from 'shamir-secret-sharing';
import type { z } from 'zod';
import { parseOrError } from '../protocol.js';
import {
  hkdf,
  maskWords,
  open,
  randomSecret,
  seal,
  sha256,
  utf8,
  x25519FromSecret,
  x25519Shared,
  type X25519PrivateKey,
  type X25519KeyPair,
} from './crypto.js';
import { createRng } from '../rng.js';
import { addWords } from './quantize.js';

/** What both sides agree on for one secure aggregation (one attempt of one round). */
export interface SecAggSession {
  readonly runId: string;
  readonly round: number;
  readonly sessionId: string;
  /** Shares needed to rebuild a secret: more than half the roster keeps a colluding minority from unmasking anyone. */
  readonly threshold: number;
  /** Ring words per input (parameters plus extras). */
  readonly words: number;
  /** SecAgg+: each tab's neighbours are its `degree` (even) nearest on a ring shuffled by `seed`; absent: everyone. */
  readonly graph?: { readonly degree: number; readonly seed: number };
}

/**
 * Each roster member's neighbours: everyone else, or under `graph` the degree/2 nearest on each side of a ring that
 * the session's public seed shuffles (a Harary graph: k-regular and k-connected), which hub and tabs compute alike.
 */
export function neighbourhoods(roster: readonly number[], session: SecAggSession): Map<number, ReadonlySet<number>> {
  const sorted = [...roster].sort((a, b) => a - b);
  const out = new Map<number, ReadonlySet<number>>();
  const degree = session.graph?.degree;
  if (degree === undefined || degree >= sorted.length - 1) {
    for (const u of sorted) out.set(u, new Set(sorted.filter((v) => v !== u)));
    return out;
  }
  if (!(Number.isInteger(degree) && degree >= 2 && degree % 2 === 0))
    throw new SecAggError('bad-message', `graph degree must be an even integer ≥ 2, got ${degree}`);
  const ring = createRng(session.graph!.seed).shuffle(sorted);
  ring.forEach((u, at) => {
    const near = new Set<number>();
    for (let step = 1; step <= degree / 2; step++) {
      near.add(ring[(at + step) % ring.length]!);
      near.add(ring[(at - step + ring.length) % ring.length]!);
    }
    out.set(u, near);
  });
  return out;
}

export interface AdvertisedKeys {
  readonly encKey: Uint8Array;
  readonly maskKey: Uint8Array;
}

export interface RosterEntry extends AdvertisedKeys {
  readonly index: number;
}

/** One sealed pair of shares, from one tab to another, relayed by the hub (which cannot open it). */
export interface SealedShares {
  readonly from: number;
  readonly to: number;
  readonly iv: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export interface UnmaskShares {
  /** Shares of survivors' self-mask seeds. */
  readonly selfShares: readonly { readonly of: number; readonly share: Uint8Array }[];
  /** Shares of dropped tabs' mask private keys. */
  readonly keyShares: readonly { readonly of: number; readonly share: Uint8Array }[];
}

/** A message from the other side (untrusted) as its schema says, or a 'bad-message' refusal naming each bad field. */
export function parseMessage<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const parsed = parseOrError(schema, raw);
  if (!parsed.ok) throw new SecAggError('bad-message', parsed.error);
  return parsed.data;
}

/** A refusal with a code: the caller records the attempt as failed with it, and nothing is released. */
export class SecAggError extends Error {
  constructor(
    readonly code: 'too-few-survivors' | 'both-shares-asked' | 'bad-message' | 'key-mismatch',
    message: string,
  ) {
    super(message);
    this.name = 'SecAggError';
  }
}

const SEED_BYTES = 32;

/** Binds every derived key to its run, round and session (privacy.md §2.5). */
async function sessionSalt(s: SecAggSession): Promise<Uint8Array> {
  return sha256(utf8(`${s.runId}\u0000${s.round}\u0000${s.sessionId}`));
}

async function pairMask(salt: Uint8Array, words: number, own: X25519PrivateKey, peerMaskKey: Uint8Array): Promise<Uint32Array> {
  const key = await hkdf(await x25519Shared(own, peerMaskKey), salt, utf8('tabula/secagg/v1/pair'), 32);
  return maskWords(key, words);
}

async function selfMask(salt: Uint8Array, words: number, seed: Uint8Array): Promise<Uint32Array> {
  return maskWords(await hkdf(seed, salt, utf8('tabula/secagg/v1/self'), 32), words);
}

const aadOf = (s: SecAggSession, from: number, to: number) =>
  utf8(`${s.runId}\u0000${s.round}\u0000${s.sessionId}\u0000${from}\u0000${to}`);

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The lower index adds the pair's mask and the higher subtracts it, so each pair's masks cancel in the sum. */
const signOf = (u: number, v: number): 1 | -1 => (u < v ? 1 : -1);

/** A tab's side of one secure aggregation: its secrets live here, in memory, for this session only. */
export class SecAggParticipant {
  private enc: X25519KeyPair | null = null;
  private maskPair: X25519KeyPair | null = null;
  private readonly seed = randomSecret();
  private roster: readonly RosterEntry[] = [];
  /** Shares this tab holds of each roster member's self-mask seed and mask key (its own included). */
  private readonly held = new Map<number, { self: Uint8Array; key: Uint8Array }>();
  /** Which secret of each peer this tab has revealed a share of: never both. */
  private readonly revealed = new Map<number, 'self' | 'key'>();
  private salt: Uint8Array | null = null;

  constructor(
    private readonly session: SecAggSession,
    readonly index: number,
    private readonly input: Uint32Array,
  ) {
    if (input.length !== session.words)
      throw new SecAggError('bad-message', `the input has ${input.length} words, the session ${session.words}`);
  }

  async advertise(): Promise<AdvertisedKeys> {
    this.enc = await x25519FromSecret(randomSecret());
    this.maskPair = await x25519FromSecret(randomSecret());
    this.salt = await sessionSalt(this.session);
    return { encKey: this.enc.publicKey, maskKey: this.maskPair.publicKey };
  }

  /**
   * Stage 1: Shamir-shares b_u and s_u among its neighbourhood (one share each, threshold t) and seals each peer's pair.
   * `group` is every tab that advertised (U1), from which the neighbour graph follows; `roster` needs only the keys of
   * this tab and its neighbours (the default `group` is the roster's own indices: the complete roster).
   */
  async share(roster: readonly RosterEntry[], group: readonly number[] = roster.map((r) => r.index)): Promise<SealedShares[]> {
    if (!this.enc || !this.maskPair || !this.salt) throw new SecAggError('bad-message', 'share before advertise');
    const { threshold } = this.session;
    const own = roster.find((r) => r.index === this.index);
    if (!own) throw new SecAggError('bad-message', `tab ${this.index} is not on the roster`);
    // A hub that swapped this tab's keys could open the shares meant for it.
    if (!sameBytes(own.encKey, this.enc.publicKey) || !sameBytes(own.maskKey, this.maskPair.publicKey))
      throw new SecAggError('bad-message', `the roster gives tab ${this.index} keys it did not advertise`);
    if (new Set(roster.map((r) => r.index)).size !== roster.length) throw new SecAggError('bad-message', 'the roster names a tab twice');
    if (new Set(group).size !== group.length || !group.includes(this.index))
      throw new SecAggError('bad-message', `the group must name each tab once, tab ${this.index} among them`);
    // From here on `roster` is this tab's neighbourhood, itself included: who holds its shares, whom it masks against.
    const near = neighbourhoods(group, this.session).get(this.index)!;
    const missing = [...near].filter((v) => !roster.some((r) => r.index === v));
    if (missing.length > 0) throw new SecAggError('bad-message', `the roster lacks the keys of neighbours ${missing.join(', ')}`);
    this.roster = roster.filter((r) => r.index === this.index || near.has(r.index)).sort((a, b) => a.index - b.index);
    if (this.roster.length < threshold)
      throw new SecAggError('too-few-survivors', `${this.roster.length} tabs in this tab's neighbourhood, the threshold is ${threshold}`);
    const selfShares = await split(this.seed, this.roster.length, threshold);
    const keyShares = await split(this.maskPair.secret, this.roster.length, threshold);
    const sealed: SealedShares[] = [];
    for (const [j, peer] of this.roster.entries()) {
      const pair = { self: selfShares[j]!, key: keyShares[j]! };
      if (peer.index === this.index) {
        this.held.set(this.index, pair);
        continue;
      }
      const key = await this.shareKey(peer);
      const plaintext = new Uint8Array(pair.self.length + pair.key.length);
      plaintext.set(pair.self);
      plaintext.set(pair.key, pair.self.length);
      const { iv, ciphertext } = await seal(key, plaintext, aadOf(this.session, this.index, peer.index));
      sealed.push({ from: this.index, to: peer.index, iv, ciphertext });
    }
    return sealed;
  }

  /** The AES key this tab and `peer` seal shares with, derived once per peer: stage 1 seals with it, stage 2 opens. */
  private readonly shareKeys = new Map<number, Promise<Uint8Array>>();

  private shareKey(peer: RosterEntry): Promise<Uint8Array> {
    let key = this.shareKeys.get(peer.index);
    if (!key) {
      const { enc, salt } = this;
      if (!enc || !salt) throw new SecAggError('bad-message', 'a share key before advertise');
      key = x25519Shared(enc.privateKey, peer.encKey).then((shared) => hkdf(shared, salt, utf8('tabula/secagg/v1/share'), 32));
      this.shareKeys.set(peer.index, key);
    }
    return key;
  }

  /** Stage 2: opens the shares addressed to it and masks its input with every peer that shared (`alive`). */
  async mask(received: readonly SealedShares[], alive: readonly number[]): Promise<Uint32Array> {
    if (!this.enc || !this.maskPair || !this.salt) throw new SecAggError('bad-message', 'mask before advertise');
    const peers = new Map(this.roster.map((r) => [r.index, r]));
    for (const message of received) {
      const peer = peers.get(message.from);
      if (message.to !== this.index || !peer)
        throw new SecAggError('bad-message', `shares from ${message.from} to ${message.to} are not for tab ${this.index}`);
      const key = await this.shareKey(peer);
      const plaintext = await open(key, message.iv, message.ciphertext, aadOf(this.session, message.from, this.index));
      const half = plaintext.length / 2;
      this.held.set(message.from, { self: plaintext.slice(0, half), key: plaintext.slice(half) });
    }
    const others = alive.filter((v) => v !== this.index && peers.has(v));
    if (others.some((v) => !this.held.has(v)))
      throw new SecAggError('bad-message', 'the alive list names a tab whose shares this tab does not hold');
    if (others.length + 1 < this.session.threshold)
      throw new SecAggError('too-few-survivors', `${others.length + 1} tabs shared, the threshold is ${this.session.threshold}`);
    const y = Uint32Array.from(this.input);
    addWords(y, await selfMask(this.salt, this.session.words, this.seed));
    for (const v of others)
      addWords(y, await pairMask(this.salt, this.session.words, this.maskPair.privateKey, peers.get(v)!.maskKey), signOf(this.index, v));
    return y;
  }

  /**
   * Stage 3: shares of survivors' self-mask seeds and of dropped tabs' mask keys. Refuses when fewer than the threshold
   * survived, or when a peer would have both its secrets revealed (now or across calls): that would unmask its input.
   */
  unmask(survivors: readonly number[], dropped: readonly number[]): UnmaskShares {
    if (survivors.length < this.session.threshold)
      throw new SecAggError('too-few-survivors', `${survivors.length} tabs survived, the threshold is ${this.session.threshold}`);
    const asked = [...survivors.map((v) => [v, 'self'] as const), ...dropped.map((v) => [v, 'key'] as const)];
    for (const [v, kind] of asked) {
      const before = this.revealed.get(v);
      if (survivors.includes(v) && dropped.includes(v))
        throw new SecAggError('both-shares-asked', `tab ${v} is named both a survivor and dropped`);
      if (before && before !== kind) throw new SecAggError('both-shares-asked', `tab ${v}: its other secret's share was already given`);
      if (!this.held.has(v)) throw new SecAggError('bad-message', `this tab holds no shares of tab ${v}`);
    }
    for (const [v, kind] of asked) this.revealed.set(v, kind);
    return {
      selfShares: survivors.map((of) => ({ of, share: this.held.get(of)!.self })),
      keyShares: dropped.map((of) => ({ of, share: this.held.get(of)!.key })),
    };
  }
}

/**
 * The hub's side: it relays sealed shares it cannot open, sums masked inputs as they arrive (one vector: O(words)
 * memory however many tabs), and unmasks the total. It never holds a tab's unmasked input.
 */
export class SecAggAggregator {
  private readonly advertised = new Map<number, AdvertisedKeys>();
  private readonly relayed = new Map<number, SealedShares[]>();
  private readonly sharers = new Set<number>();
  private readonly maskedFrom = new Set<number>();
  private readonly sum: Uint32Array;

  constructor(private readonly session: SecAggSession) {
    this.sum = new Uint32Array(session.words);
  }

  advertise(index: number, keys: AdvertisedKeys): void {
    if (keys.encKey.length !== 32 || keys.maskKey.length !== 32)
      throw new SecAggError('bad-message', `tab ${index}: keys are 32 bytes each`);
    this.advertised.set(index, keys);
  }

  /** U1 so far: every tab that advertised, with its keys, for stage 1. */
  roster(): RosterEntry[] {
    return [...this.advertised].map(([index, keys]) => ({ index, ...keys })).sort((a, b) => a.index - b.index);
  }

  /** Stage 1's answer of tab `from`: one sealed message per neighbour. */
  acceptShares(from: number, sealed: readonly SealedShares[]): void {
    const expected = [...this.neighboursOf(from)].sort((a, b) => a - b);
    const to = sealed.map((m) => m.to).sort((a, b) => a - b);
    if (sealed.some((m) => m.from !== from) || JSON.stringify(to) !== JSON.stringify(expected))
      throw new SecAggError('bad-message', `tab ${from} must send one sealed pair to each of ${expected.join(', ')}`);
    for (const message of sealed) this.relayed.set(message.to, [...(this.relayed.get(message.to) ?? []), message]);
    this.sharers.add(from);
  }

  /** Stage 2's message for tab `to`: the shares addressed to it from neighbours that shared, and who they are. */
  sharesFor(to: number): { received: SealedShares[]; alive: number[] } {
    const near = this.neighboursOf(to);
    const alive = [...this.sharers].filter((v) => v === to || near.has(v)).sort((a, b) => a - b);
    return { received: (this.relayed.get(to) ?? []).filter((m) => this.sharers.has(m.from)), alive };
  }

  /** Stage 2's answer: folds a masked input into the running sum. */
  acceptMasked(from: number, masked: Uint32Array): void {
    if (!this.sharers.has(from) || this.maskedFrom.has(from))
      throw new SecAggError('bad-message', `tab ${from} cannot send a masked input now`);
    addWords(this.sum, masked);
    this.maskedFrom.add(from);
  }

  /**
   * Stage 3's question: survivors U2 (sent a masked input) and dropped tabs (shared, then sent none); for tab `to`,
   * only those among itself and its neighbours.
   */
  unmaskRequest(to?: number): { survivors: number[]; dropped: number[] } {
    const survivors = [...this.maskedFrom].sort((a, b) => a - b);
    if (survivors.length < this.session.threshold)
      throw new SecAggError('too-few-survivors', `${survivors.length} masked inputs arrived, the threshold is ${this.session.threshold}`);
    const dropped = [...this.sharers].filter((v) => !this.maskedFrom.has(v)).sort((a, b) => a - b);
    if (to === undefined) return { survivors, dropped };
    // A tab is asked only about itself and its neighbours: theirs are the only shares it holds.
    const mine = (v: number) => v === to || this.neighboursOf(to).has(v);
    return { survivors: survivors.filter(mine), dropped: dropped.filter(mine) };
  }

  /** Each roster member's neighbours, fixed when stage 1 starts (the roster is then U1). */
  private graph: Map<number, ReadonlySet<number>> | null = null;

  private neighboursOf(u: number): ReadonlySet<number> {
    this.graph ??= neighbourhoods(
      this.roster().map((r) => r.index),
      this.session,
    );
    return this.graph.get(u) ?? new Set();
  }

  /** Rebuilds the secrets from ≥ threshold answers and returns Σ_{u ∈ U2} x_u mod 2^32. */
  async unmask(answers: readonly UnmaskShares[]): Promise<Uint32Array> {
    const { survivors, dropped } = this.unmaskRequest();
    const { threshold, words } = this.session;
    if (answers.length < threshold)
      throw new SecAggError('too-few-survivors', `${answers.length} tabs answered the unmask stage, the threshold is ${threshold}`);
    const salt = await sessionSalt(this.session);
    const total = Uint32Array.from(this.sum);
    const rebuild = async (of: number, kind: 'selfShares' | 'keyShares'): Promise<Uint8Array> => {
      const shares = answers.flatMap((a) => a[kind].filter((s) => s.of === of).map((s) => s.share));
      if (shares.length < threshold)
        throw new SecAggError('too-few-survivors', `${shares.length} shares of tab ${of}'s secret, the threshold is ${threshold}`);
      // Any threshold of them rebuild the secret; combining costs the square of how many are given.
      const secret = await combine(shares.slice(0, threshold));
      if (secret.length !== SEED_BYTES) throw new SecAggError('bad-message', `tab ${of}'s rebuilt secret is ${secret.length} bytes`);
      return secret;
    };
    for (const v of survivors) addWords(total, await selfMask(salt, words, await rebuild(v, 'selfShares')), -1);
    for (const v of dropped) {
      // A rebuilt key must be the one the tab advertised: Shamir does not check its own reconstruction.
      const pair = await x25519FromSecret(await rebuild(v, 'keyShares'));
      if (!sameBytes(pair.publicKey, this.advertised.get(v)!.maskKey))
        throw new SecAggError('key-mismatch', `tab ${v}'s rebuilt mask key is not the key it advertised`);
      // Each surviving neighbour u added signOf(u, v)·PRG(k_uv) for the dropped v, which v never cancelled.
      for (const u of survivors.filter((w) => this.neighboursOf(v).has(w)))
        addWords(total, await pairMask(salt, words, pair.privateKey, this.advertised.get(u)!.maskKey), signOf(u, v) === 1 ? -1 : 1);
    }
    return total;
  }
}
