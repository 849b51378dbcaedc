// The hub's reporting phase under secure aggregation (privacy.md §2.3-2.4): after training, the roster of tabs that
// finished runs the four stages, each asked of every tab in parallel with a bounded wait; a tab that does not answer
// in time, or answers malformed, is a dropout from that stage on. The result is Σ x_u over the survivors, mod 2^32,
// or an abort with a code and a reason. Transport-free: the hub asks over socket.io, the simulation by function call.

import { decodeMaskedFrame } from '../wire/codec.js';
import {
  AdvertiseAnswerSchema,
  ShareAnswerSchema,
  UnmaskAnswerSchema,
  toBase64,
  type SecAggRequests,
  type SecAggStage,
} from './messages.js';
import { SecAggAggregator, SecAggError, neighbourhoods, parseMessage, type SecAggSession, type UnmaskShares } from './protocol.js';

/** Asks one participant one stage's question; resolves with its raw answer (an ack), rejects when it cannot answer in time. */
export type SecAggAsk = <S extends SecAggStage>(
  participantId: string,
  stage: S,
  request: SecAggRequests[S],
  timeoutMs: number,
) => Promise<unknown>;

export interface SecureRoundOptions {
  readonly runId: string;
  readonly round: number;
  readonly modelVersion: number;
  readonly protocolVersion: number;
  readonly sessionId: string;
  /** The group U0, in index order: participant i gets index i + 1. */
  readonly roster: readonly string[];
  readonly threshold: number;
  readonly graph?: SecAggSession['graph'];
  readonly words: number;
  readonly stageTimeoutMs: number;
  /** Fewer tabs left after any stage abort the attempt. */
  readonly minSurvivors: number;
  readonly ask: SecAggAsk;
}

export interface StageCount {
  readonly stage: SecAggStage;
  readonly asked: number;
  readonly answered: number;
}

export interface SecureRoundResult {
  /** Σ of the survivors' inputs, mod 2^32. */
  readonly total: Uint32Array;
  /** Who sent a masked input (U2): their updates are in the total. */
  readonly survivors: readonly string[];
  readonly stages: readonly StageCount[];
  /** Tabs that left the protocol, with the stage and why. */
  readonly dropouts: readonly { readonly participantId: string; readonly reason: string }[];
  /** What the tabs sent: keys, sealed shares, masked frames, unmask shares. */
  readonly bytesUp: number;
}

/** The attempt failed: nothing is released, and the caller records the reason. */
export class SecureRoundAbort extends Error {
  constructor(
    readonly code: SecAggError['code'],
    message: string,
    readonly stages: readonly StageCount[],
    readonly dropouts: SecureRoundResult['dropouts'],
  ) {
    super(message);
    this.name = 'SecureRoundAbort';
  }
}

/** An ack's data, or why it is not one. */
function ackData(reply: unknown): { ok: true; data: unknown } | { ok: false; error: string } {
  if (typeof reply !== 'object' || reply === null || !('ok' in reply))
    return { ok: false, error: 'answered with something that is not an acknowledgement' };
  if (reply.ok === true && 'data' in reply) return { ok: true, data: reply.data };
  const error = 'error' in reply && typeof reply.error === 'string' ? reply.error.slice(0, 300) : 'refused without a reason';
  const code = 'code' in reply && typeof reply.code === 'string' ? `${reply.code.slice(0, 40)}: ` : '';
  return { ok: false, error: `${code}${error}` };
}

export async function runSecureRound(options: SecureRoundOptions): Promise<SecureRoundResult> {
  const { roster, ask, stageTimeoutMs, minSurvivors } = options;
  const session: SecAggSession = {
    runId: options.runId,
    round: options.round,
    sessionId: options.sessionId,
    threshold: options.threshold,
    words: options.words,
    ...(options.graph ? { graph: options.graph } : {}),
  };
  const hub = new SecAggAggregator(session);
  const idOf = (index: number) => roster[index - 1]!;
  const stages: StageCount[] = [];
  const dropouts: { participantId: string; reason: string }[] = [];
  let bytesUp = 0;

  /**
   * One stage: asks each of `indices`, hands each valid answer to `accept` (which throws on a bad one), and returns who
   * answered. A tab that fails here is a dropout, and is not asked again.
   */
  async function stage<S extends SecAggStage>(
    name: S,
    indices: readonly number[],
    request: (index: number) => SecAggRequests[S],
    accept: (index: number, data: unknown) => void | Promise<void>,
    // Tabs silent at the unmask stage stay in the sum: their fellows' shares unmask it, or the aggregator aborts.
    leaving = name !== 'unmask',
  ): Promise<number[]> {
    const answered: number[] = [];
    await Promise.all(
      indices.map(async (index) => {
        let reason: string;
        try {
          const reply = ackData(await ask(idOf(index), name, request(index), stageTimeoutMs));
          if (reply.ok) {
            bytesUp += sizeOf(reply.data);
            await accept(index, reply.data);
            answered.push(index);
            return;
          }
          reason = reply.error;
        } catch (error) {
          reason = error instanceof Error ? error.message : String(error);
        }
        if (leaving) dropouts.push({ participantId: idOf(index), reason: `left secure aggregation at its ${name} stage: ${reason}` });
      }),
    );
    answered.sort((a, b) => a - b);
    stages.push({ stage: name, asked: indices.length, answered: answered.length });
    if (leaving && answered.length < minSurvivors)
      throw new SecAggError(
        'too-few-survivors',
        `only ${answered.length} of ${indices.length} tabs answered the ${name} stage; at least ${minSurvivors} must`,
      );
    return answered;
  }

  try {
    const everyone = roster.map((_, i) => i + 1);
    const advertised = await stage(
      'advertise',
      everyone,
      (index) => ({
        runId: options.runId,
        round: options.round,
        modelVersion: options.modelVersion,
        sessionId: options.sessionId,
        index,
        n: roster.length,
        threshold: options.threshold,
        words: options.words,
        ...(options.graph ? { graph: options.graph } : {}),
      }),
      (index, data) => {
        const keys = parseMessage(AdvertiseAnswerSchema, data);
        hub.advertise(index, keys);
      },
    );
    const keys = new Map(hub.roster().map((r) => [r.index, { index: r.index, encKey: toBase64(r.encKey), maskKey: toBase64(r.maskKey) }]));
    const graph = neighbourhoods([...keys.keys()], session);
    const shared = await stage(
      'share',
      advertised,
      // Each tab gets the keys of itself and its neighbours only, and the group to derive the graph from.
      (index) => ({
        sessionId: options.sessionId,
        group: [...keys.keys()],
        roster: [index, ...graph.get(index)!].sort((a, b) => a - b).map((v) => keys.get(v)!),
      }),
      (index, data) => {
        const { shares } = parseMessage(ShareAnswerSchema, data);
        hub.acceptShares(
          index,
          shares.map((m) => ({ from: index, to: m.to, iv: m.iv, ciphertext: m.ciphertext })),
        );
      },
    );
    const masked = await stage(
      'mask',
      shared,
      (index) => {
        const { received, alive } = hub.sharesFor(index);
        return {
          sessionId: options.sessionId,
          shares: received.map((m) => ({ from: m.from, iv: toBase64(m.iv), ciphertext: toBase64(m.ciphertext) })),
          alive,
        };
      },
      (index, data) => {
        const frame = typeof data === 'object' && data !== null && 'frame' in data ? data.frame : undefined;
        if (!(frame instanceof Uint8Array) && !(frame instanceof ArrayBuffer))
          throw new SecAggError('bad-message', 'the masked input is not a binary frame');
        const { words } = decodeMaskedFrame(frame, {
          protocolVersion: options.protocolVersion,
          runId: options.runId,
          round: options.round,
          modelVersion: options.modelVersion,
          length: options.words,
        });
        bytesUp += frame.byteLength;
        hub.acceptMasked(index, words);
      },
    );
    const answers: UnmaskShares[] = [];
    await stage(
      'unmask',
      masked,
      (index) => ({ sessionId: options.sessionId, ...hub.unmaskRequest(index) }),
      (index, data) => {
        const answer = parseMessage(UnmaskAnswerSchema, data);
        // Exactly the shares asked for: a stray share would corrupt the secret it is combined into.
        const asked = hub.unmaskRequest(index);
        const same = (got: readonly { of: number }[], want: readonly number[]) =>
          got.length === want.length && got.every((s, i) => s.of === want[i]);
        if (!same(answer.selfShares, asked.survivors) || !same(answer.keyShares, asked.dropped))
          throw new SecAggError('bad-message', 'the unmask answer does not hold exactly the shares asked for, in order');
        answers.push(answer);
      },
    );
    const total = await hub.unmask(answers);
    return { total, survivors: masked.map(idOf), stages, dropouts, bytesUp };
  } catch (error) {
    if (error instanceof SecAggError) throw new SecureRoundAbort(error.code, error.message, stages, dropouts);
    throw error;
  }
}

/** Bytes a JSON-ish answer carried, roughly (its base64 text), so a round's bytes up count the protocol's messages. */
function sizeOf(data: unknown): number {
  if (typeof data !== 'object' || data === null || 'frame' in data) return 0;
  return JSON.stringify(data).length;
}
