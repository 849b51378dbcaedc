// The messages of secure aggregation's four stages on the wire (privacy.md §2.4), as runtime schemas: the hub asks
// (socket.io server-to-client events with acks), a tab answers. Both sides validate what the other sent. Keys, IVs,
// ciphertexts and shares are base64 text (a few KB a stage); the masked input, as large as a delta, is a binary frame.

import { z } from 'zod';
import { MAX_RUN_ID_BYTES } from '../wire/codec.js';

export const SECAGG_STAGES = ['advertise', 'share', 'mask', 'unmask'] as const;
export type SecAggStage = (typeof SECAGG_STAGES)[number];

/** Shamir in GF(2^8) gives at most 255 shares: a group is at most 255 tabs, indexed 1..255. */
export const MAX_SECAGG_GROUP = 255;
/** Extras after the parameters: weight, share of clamped coordinates, w·loss, t·before, t·after, t (t: test weight). */
export const SECAGG_EXTRAS = 6;

const Index = z.number().int().min(1).max(MAX_SECAGG_GROUP);
const Indices = z.array(Index).max(MAX_SECAGG_GROUP);

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Base64 of at most `maxBytes` bytes, decoded: a malformed string fails the schema instead of throwing later. */
const bytes = (minBytes: number, maxBytes: number) =>
  z
    .string()
    .max(4 * Math.ceil(maxBytes / 3))
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64')
    .transform((text, ctx) => {
      let decoded: Uint8Array;
      try {
        decoded = fromBase64(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not base64' });
        return z.NEVER;
      }
      if (decoded.length < minBytes || decoded.length > maxBytes)
        ctx.addIssue({
          code: 'custom',
          message: `${decoded.length} bytes, expected ${minBytes === maxBytes ? minBytes : `${minBytes}-${maxBytes}`}`,
        });
      return decoded;
    });
const Key = bytes(32, 32);
/** One Shamir share of a 32-byte secret: the secret's length plus its x coordinate. */
const Share = bytes(33, 33);
const Iv = bytes(12, 12);
/** AES-GCM of two shares: 66 bytes and the 16-byte tag. */
const Sealed = bytes(82, 82);

const SessionId = z.string().min(1).max(64);

/** Stage 0, hub → tab: this tab's place in a secure aggregation of its trained update, and the session's terms. */
export const AdvertiseRequestSchema = z.object({
  runId: z.string().min(1).max(MAX_RUN_ID_BYTES),
  round: z.number().int().min(1),
  modelVersion: z.number().int().min(0),
  sessionId: SessionId,
  index: Index,
  /** Tabs in the group (the roster U0). */
  n: Index,
  threshold: z.number().int().min(2).max(MAX_SECAGG_GROUP),
  /** Ring words per input: parameters plus SECAGG_EXTRAS. */
  words: z.number().int().min(1),
  /** SecAgg+: each tab's neighbours are its `degree` nearest on a ring shuffled by `seed` (absent: everyone). */
  graph: z.object({ degree: z.number().int().min(2).max(254), seed: z.number().int().min(0).max(0x7fffffff) }).optional(),
});
export type AdvertiseRequest = z.input<typeof AdvertiseRequestSchema>;

export const AdvertiseAnswerSchema = z.object({ encKey: Key, maskKey: Key });
export type AdvertiseAnswer = z.input<typeof AdvertiseAnswerSchema>;

/**
 * Stage 1, hub → tab: every tab that advertised (U1, the group, from which the neighbour graph follows), and the public
 * keys of this tab and its neighbours (under SecAgg+ not everyone's: the roster then grows with k, not the group).
 */
export const ShareRequestSchema = z.object({
  sessionId: SessionId,
  group: Indices,
  roster: z.array(z.object({ index: Index, encKey: Key, maskKey: Key })).max(MAX_SECAGG_GROUP),
});
export type ShareRequest = z.input<typeof ShareRequestSchema>;

const SealedSharesSchema = z.object({ to: Index, iv: Iv, ciphertext: Sealed });
export const ShareAnswerSchema = z.object({ shares: z.array(SealedSharesSchema).max(MAX_SECAGG_GROUP) });
export type ShareAnswer = z.input<typeof ShareAnswerSchema>;

/** Stage 2, hub → tab: the sealed shares addressed to it, and which of its neighbours shared (alive). */
export const MaskRequestSchema = z.object({
  sessionId: SessionId,
  shares: z.array(z.object({ from: Index, iv: Iv, ciphertext: Sealed })).max(MAX_SECAGG_GROUP),
  alive: Indices,
});
export type MaskRequest = z.input<typeof MaskRequestSchema>;

/** Stage 2's answer: the masked input as a `masked` wire frame (checked by the wire decoder, not here). */
export interface MaskAnswer {
  readonly frame: Uint8Array | ArrayBuffer;
}

/** Stage 3, hub → tab: who sent a masked input (survivors) and who shared but did not (dropped), among its neighbours. */
export const UnmaskRequestSchema = z.object({ sessionId: SessionId, survivors: Indices, dropped: Indices });
export type UnmaskRequest = z.input<typeof UnmaskRequestSchema>;

const HeldShare = z.object({ of: Index, share: Share });
export const UnmaskAnswerSchema = z.object({
  selfShares: z.array(HeldShare).max(MAX_SECAGG_GROUP),
  keyShares: z.array(HeldShare).max(MAX_SECAGG_GROUP),
});
export type UnmaskAnswer = z.input<typeof UnmaskAnswerSchema>;

export interface SecAggRequests {
  advertise: AdvertiseRequest;
  share: ShareRequest;
  mask: MaskRequest;
  unmask: UnmaskRequest;
}
export interface SecAggAnswers {
  advertise: AdvertiseAnswer;
  share: ShareAnswer;
  mask: MaskAnswer;
  unmask: UnmaskAnswer;
}
