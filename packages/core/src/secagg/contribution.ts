// A participant's side of one secure aggregation: its trained update turned into ring words (privacy.md §2.8), and its
// answers to the hub's four stages. The words and the secrets live here, in memory, for one session; the tab's
// example count and metrics travel only inside the masked words, as extras the hub learns the totals of.

import { PROTOCOL_VERSION, type Ack, type AckErrorCode, type Evaluation, type RoundTask } from '../protocol.js';
import type { RandomSource } from '../privacy/random-source.js';
import { encodeMaskedFrame } from '../wire/codec.js';
import {
  AdvertiseRequestSchema,
  MaskRequestSchema,
  SECAGG_EXTRAS,
  ShareRequestSchema,
  UnmaskRequestSchema,
  toBase64,
  type SecAggAnswers,
  type SecAggStage,
} from './messages.js';
import { SecAggError, SecAggParticipant, parseMessage } from './protocol.js';
import { quantise, ringScales, secureMean } from './quantize.js';

/** A loss or an MSE above this is clamped in its extra (each extra is in [0, 1] per tab); an accuracy is in [0, 1]. */
export const SECURE_LOSS_CAP = 100;

type Terms = NonNullable<RoundTask['secureAggregation']>;

/** What one trained update contributes: w·Δ and the extras (weight, clamped share, w·loss, t·before, t·after, t). */
export function secureInput(
  delta: Float32Array,
  report: { readonly numExamples: number; readonly loss: number; readonly evaluation?: Evaluation | undefined },
  terms: Terms,
  random: RandomSource,
): { words: Uint32Array; clamped: number } {
  const w = Math.min(report.numExamples, terms.maxExamples) / terms.maxExamples;
  let clamped = 0;
  for (const v of delta) if (!(Math.abs(w * v) <= terms.clip)) clamped++;
  const evaluation = report.evaluation;
  const t = evaluation ? Math.min(evaluation.testExamples, terms.maxExamples) / terms.maxExamples : 0;
  const metricCap = evaluation?.metric === 'accuracy' ? 1 : SECURE_LOSS_CAP;
  const extras = [
    w,
    delta.length > 0 ? clamped / delta.length : 0,
    (w * Math.min(report.loss, SECURE_LOSS_CAP)) / SECURE_LOSS_CAP,
    evaluation ? (t * Math.min(evaluation.before, metricCap)) / metricCap : 0,
    evaluation ? (t * Math.min(evaluation.after, metricCap)) / metricCap : 0,
    t,
  ];
  if (extras.length !== SECAGG_EXTRAS) throw new Error('unreachable: the extras and SECAGG_EXTRAS disagree');
  return quantise(delta, w, extras, terms.clip, ringScales(terms.maxGroup, terms.clip), random);
}

export interface ContributionAddress {
  readonly runId: string;
  readonly round: number;
  readonly modelVersion: number;
}

const refuse = (code: AckErrorCode, error: string) => ({ ok: false as const, code, error });

/**
 * The answers of one participant to one round's stages. Stage 0 names the session; every later stage must be of that
 * session, in order. A tab whose hub restarts the protocol (a new session for the same round) starts afresh, with new
 * keys: its earlier secrets were never revealed in both kinds.
 */
export class SecureContribution {
  private participant: SecAggParticipant | null = null;
  private sessionId: string | null = null;
  private next: SecAggStage | 'done' = 'advertise';

  constructor(
    readonly address: ContributionAddress,
    private readonly words: Uint32Array,
  ) {}

  /** The stage `stage` is in progress or done: what the tab shows. */
  get stage(): SecAggStage | 'done' {
    return this.next;
  }

  /** Answers a stage's request (untrusted, validated here); a refusal is an error ack with a code, and changes nothing. */
  async answer<S extends SecAggStage>(stage: S, raw: unknown): Promise<Ack<SecAggAnswers[S]>> {
    try {
      return { ok: true, data: (await this.run(stage, raw)) as SecAggAnswers[S] };
    } catch (error) {
      if (error instanceof SecAggError)
        return refuse(error.code === 'bad-message' ? 'invalid' : 'refused', `secure aggregation ${stage}: ${error.message}`);
      return refuse('invalid', `secure aggregation ${stage}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async run(stage: SecAggStage, raw: unknown): Promise<SecAggAnswers[SecAggStage]> {
    if (stage === 'advertise') {
      const request = parseMessage(AdvertiseRequestSchema, raw);
      const { runId, round, modelVersion } = this.address;
      if (request.runId !== runId || request.round !== round || request.modelVersion !== modelVersion)
        throw new SecAggError(
          'bad-message',
          `this participant's update is for run ${runId} round ${round} (model version ${modelVersion})`,
        );
      if (request.words !== this.words.length)
        throw new SecAggError('bad-message', `the session has ${request.words} words per input, this update ${this.words.length}`);
      if (request.index > request.n) throw new SecAggError('bad-message', `index ${request.index} of ${request.n}`);
      const participant = new SecAggParticipant(
        {
          runId,
          round,
          sessionId: request.sessionId,
          threshold: request.threshold,
          words: request.words,
          ...(request.graph ? { graph: request.graph } : {}),
        },
        request.index,
        this.words,
      );
      const keys = await participant.advertise();
      this.participant = participant;
      this.sessionId = request.sessionId;
      this.next = 'share';
      return { encKey: toBase64(keys.encKey), maskKey: toBase64(keys.maskKey) };
    }
    const participant = this.participant;
    if (!participant || this.next !== stage)
      throw new SecAggError('bad-message', `the ${stage} stage came while this participant expects ${this.next}`);
    const check = (sessionId: string) => {
      if (sessionId !== this.sessionId)
        throw new SecAggError('bad-message', `session ${sessionId} is not this participant's (${this.sessionId})`);
    };
    switch (stage) {
      case 'share': {
        const request = parseMessage(ShareRequestSchema, raw);
        check(request.sessionId);
        const sealed = await participant.share(request.roster, request.group);
        this.next = 'mask';
        return { shares: sealed.map((m) => ({ to: m.to, iv: toBase64(m.iv), ciphertext: toBase64(m.ciphertext) })) };
      }
      case 'mask': {
        const request = parseMessage(MaskRequestSchema, raw);
        check(request.sessionId);
        const received = request.shares.map((m) => ({ from: m.from, to: participant.index, iv: m.iv, ciphertext: m.ciphertext }));
        const y = await participant.mask(received, request.alive);
        this.next = 'unmask';
        return { frame: encodeMaskedFrame({ protocolVersion: PROTOCOL_VERSION, ...this.address, words: y }) };
      }
      case 'unmask': {
        const request = parseMessage(UnmaskRequestSchema, raw);
        check(request.sessionId);
        const shares = participant.unmask(request.survivors, request.dropped);
        // Nothing is left to reveal: forget the secrets and the input.
        this.participant = null;
        this.words.fill(0);
        this.next = 'done';
        return {
          selfShares: shares.selfShares.map((s) => ({ of: s.of, share: toBase64(s.share) })),
          keyShares: shares.keyShares.map((s) => ({ of: s.of, share: toBase64(s.share) })),
        };
      }
    }
  }
}

/** A secure round's figures from its unmasked total: FedAvg's mean delta and the trainers' example-weighted metrics. */
export interface SecureFigures {
  readonly mean: Float32Array;
  /** Σ w over the survivors. */
  readonly totalWeight: number;
  /** Σ t over the survivors that evaluated (the weight of `global` and `personalized` when groups are combined). */
  readonly testWeight: number;
  /** The mean share of coordinates the clip clamped. */
  readonly clampedShare: number;
  readonly loss: number;
  /** Null when no survivor evaluated this round. */
  readonly global: number | null;
  readonly personalized: number | null;
}

/** Decodes Σ of the survivors' `secureInput`s; throws (RangeError) when the total weight is out of range (see `secureMean`). */
export function secureFigures(
  total: Uint32Array,
  valueCount: number,
  terms: Terms,
  survivors: number,
  metric: Evaluation['metric'],
): SecureFigures {
  const { mean, totalWeight, extras } = secureMean(total, valueCount, ringScales(terms.maxGroup, terms.clip), survivors, terms.maxExamples);
  const [clamped = 0, weightedLoss = 0, before = 0, after = 0, tested = 0] = extras;
  const metricCap = metric === 'accuracy' ? 1 : SECURE_LOSS_CAP;
  // Each tab that evaluated adds t ≥ 1/maxExamples; below half of that, nobody did (rounding leaves a few steps).
  const evaluated = tested >= 0.5 / terms.maxExamples;
  return {
    mean,
    totalWeight,
    testWeight: evaluated ? tested : 0,
    clampedShare: clamped / survivors,
    loss: (weightedLoss * SECURE_LOSS_CAP) / totalWeight,
    global: evaluated ? (before * metricCap) / tested : null,
    personalized: evaluated ? (after * metricCap) / tested : null,
  };
}
