import { beforeAll, describe, expect, it } from 'vitest';
import type { Examples } from '../data/dataset.js';
import { score, type adaptationCurve } from '../learn/evaluate.js';
import { imprintedHead } from '../learn/imprint.js';
import { localModel, withHead } from '../learn/local-model.js';
import { ClientHyperSchema } from '../learn/hyper.js';
import { parameterCount } from '../model/layout.js';
import { initialWeights } from '../model/params.js';
import type { MlpSpec } from '../model/spec.js';
import { headOffset } from '../learn/federated-layout.js';
import { initialFederated } from '../learn/initial-federated.js';
import { MemoryHeadStore, Participant, type HeadStore, type ParticipantChannel, type ParticipantStatus } from './participant.js';
import {
  PROTOCOL_VERSION,
  type Ack,
  type EvaluationReport,
  type RoundTask,
  type UpdateMeta,
  type UpdateReady,
  type UpdateReceipt,
} from '../protocol.js';
import { SecureContribution, secureFigures } from '../secagg/contribution.js';
import { SECAGG_EXTRAS, type SecAggStage } from '../secagg/messages.js';
import { runSecureRound } from '../secagg/secure-round.js';
import { createRng } from '../rng.js';
import { useBackend } from '../tf.js';
import { decodeFrame, encodeFrame, frameByteLength } from '../wire/index.js';

const model: MlpSpec = { kind: 'mlp', inputShape: [2], hidden: [4], outputs: 2, task: 'classification' };

function examples(seed: number, count: number): Examples {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: count * 2 }, () => rng.normal());
  return { count, x, y: Float32Array.from({ length: count }, (_, i) => (x[2 * i]! > 0 ? 1 : 0)) };
}

function task(overrides: Partial<RoundTask> = {}): RoundTask {
  return {
    runId: 'run-1',
    round: 3,
    modelVersion: 2,
    mode: 'fit',
    evaluate: true,
    algorithm: 'fomaml',
    model,
    hyper: ClientHyperSchema.parse({ metaSteps: 3, innerSteps: 2, adaptSteps: 4 }),
    codec: 'int8',
    seed: 1,
    deadline: Date.now() + 60_000,
    ...overrides,
  };
}

function weightsFrame(t: RoundTask, values = initialWeights(model, 1)): Uint8Array {
  return encodeFrame({
    kind: 'weights',
    protocolVersion: PROTOCOL_VERSION,
    runId: t.runId,
    round: t.round,
    modelVersion: t.modelVersion,
    dtype: 'float32',
    values,
  });
}

/** A channel that records what the participant sends and answers like a hub would. */
function recordingChannel(reply: Ack<UpdateReceipt> = { ok: true, data: { round: 3, received: 1 } }) {
  const updates: { meta: UpdateMeta; frame: Uint8Array }[] = [];
  const evaluations: EvaluationReport[] = [];
  let handler: ((t: RoundTask, w: Uint8Array | ArrayBuffer) => void) | undefined;
  const channel: ParticipantChannel = {
    onTask(h) {
      handler = h;
      return () => (handler = undefined);
    },
    submitUpdate(meta, frame) {
      updates.push({ meta, frame });
      return Promise.resolve(reply);
    },
    submitEvaluation(report) {
      evaluations.push(report);
      return Promise.resolve(reply);
    },
  };
  return { channel, updates, evaluations, deliver: (t: RoundTask, w: Uint8Array) => handler?.(t, w) };
}

const local = { support: examples(1, 20), query: examples(2, 20), test: examples(3, 50), heldOut: false };

describe('Participant', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('trains, uploads a delta frame in the round codec, and reports before/after-adaptation metrics', async () => {
    // Prepare
    const { channel, updates } = recordingChannel();
    const states: ParticipantStatus[] = [];
    const participant = new Participant({ channel, data: local, onStatus: (s) => states.push(s) });
    const t = task();
    // Execute
    const record = await participant.handleTask(t, weightsFrame(t));
    // Assert
    expect(updates).toHaveLength(1);
    const { meta, frame } = updates[0]!;
    const decoded = decodeFrame(frame, { kind: 'delta', runId: 'run-1', round: 3, modelVersion: 2, length: parameterCount(model) });
    expect(decoded.header.dtype).toBe('int8');
    expect(meta.numExamples).toBe(40);
    expect(meta.evaluation).toMatchObject({ metric: 'accuracy', adaptSteps: 4, testExamples: 50 });
    expect(record).toMatchObject({ accepted: true, mode: 'fit', bytesUp: frame.byteLength });
    expect(states.map((s) => s.state)).toEqual([
      'downloading',
      'evaluating',
      'training',
      'training',
      'training',
      'training',
      'uploading',
      'done',
    ]);
    expect(states.filter((s) => s.state === 'training').map((s) => `${s.step}/${s.totalSteps}`)).toEqual(['0/3', '1/3', '2/3', '3/3']);
  });

  it('in a differentially private run clips its delta to the task’s clip before uploading it', async () => {
    // Prepare: a large outer step makes an unclipped delta far longer than the clip.
    const clip = 1e-3;
    const t = task({ codec: 'float32', hyper: ClientHyperSchema.parse({ metaSteps: 3, innerSteps: 2, outerLr: 1 }) });
    const plain = recordingChannel();
    const clipped = recordingChannel();

    // Execute
    await new Participant({ channel: plain.channel, data: local }).handleTask(t, weightsFrame(t));
    await new Participant({ channel: clipped.channel, data: local }).handleTask({ ...t, clip }, weightsFrame(t));

    // Assert
    const norm = (frame: Uint8Array) => Math.hypot(...decodeFrame(frame).values);
    expect(norm(plain.updates[0]!.frame)).toBeGreaterThan(10 * clip);
    expect(norm(clipped.updates[0]!.frame)).toBeLessThanOrEqual(clip);
    expect(norm(clipped.updates[0]!.frame)).toBeGreaterThan(clip * (1 - 1e-6));
  });

  it('skips evaluation when the round does not ask for it', async () => {
    const { channel, updates } = recordingChannel();
    const states: ParticipantStatus[] = [];
    const participant = new Participant({ channel, data: local, onStatus: (s) => states.push(s) });
    const t = task({ evaluate: false });
    await participant.handleTask(t, weightsFrame(t));
    expect(updates[0]!.meta.evaluation).toBeUndefined();
    expect(states.map((s) => s.state)).not.toContain('evaluating');
  });

  it('only evaluates when it is a held-out participant, even if asked to fit', async () => {
    const { channel, updates, evaluations } = recordingChannel();
    const participant = new Participant({ channel, data: { ...local, heldOut: true } });
    const t = task();
    await participant.handleTask(t, weightsFrame(t));
    expect(updates).toHaveLength(0);
    expect(evaluations).toHaveLength(1);
    expect(evaluations[0]).toMatchObject({ runId: 'run-1', round: 3, modelVersion: 2 });
  });

  it('only evaluates when it is a validation participant, even if asked to fit', async () => {
    const { channel, updates, evaluations } = recordingChannel();
    const participant = new Participant({ channel, data: { ...local, validation: true } });
    const t = task();
    await participant.handleTask(t, weightsFrame(t));
    expect(updates).toHaveLength(0);
    expect(evaluations).toHaveLength(1);
  });

  it('trains on the data its round asks for when it draws fresh data each round, and evaluates on the fixed sets', async () => {
    // Prepare: 5 + 6 fresh examples per round, against 20 + 20 fixed ones.
    const { channel, updates } = recordingChannel();
    const asked: number[] = [];
    const trainingData = (round: number) => {
      asked.push(round);
      return { support: examples(100 + round, 5), query: examples(200 + round, 6) };
    };
    const participant = new Participant({ channel, data: { ...local, trainingData } });
    // Execute
    for (const round of [3, 4]) {
      const t = task({ round });
      await participant.handleTask(t, weightsFrame(t));
    }
    // Assert
    expect(asked).toEqual([3, 4]);
    expect(updates.map((u) => u.meta.numExamples)).toEqual([11, 11]);
    expect(updates.map((u) => u.meta.evaluation?.testExamples)).toEqual([50, 50]);
  });

  it('refuses weights for another round with the reason, and sends nothing', async () => {
    const { channel, updates } = recordingChannel();
    const states: ParticipantStatus[] = [];
    const participant = new Participant({ channel, data: local, onStatus: (s) => states.push(s) });
    const stale = weightsFrame(task({ round: 2 }));
    await expect(participant.handleTask(task(), stale)).rejects.toThrow(/round/);
    expect(updates).toHaveLength(0);
    expect(states.at(-1)).toMatchObject({ state: 'error', round: 3 });
    expect(states.at(-1)!.message).toMatch(/round/);
  });

  it('shows the hub’s rejection as an error state', async () => {
    const { channel } = recordingChannel({ ok: false, code: 'late', error: 'round 3 is closed' });
    const states: ParticipantStatus[] = [];
    const participant = new Participant({ channel, data: local, onStatus: (s) => states.push(s) });
    const t = task();
    const record = await participant.handleTask(t, weightsFrame(t));
    expect(record).toMatchObject({ accepted: false, error: 'round 3 is closed' });
    expect(states.at(-1)).toEqual({ state: 'error', round: 3, message: 'round 3 is closed' });
  });

  it('handles tasks delivered through the channel one at a time', async () => {
    const { channel, updates, deliver } = recordingChannel();
    const participant = new Participant({ channel, data: local });
    participant.start();
    const a = task({ round: 1, modelVersion: 0 });
    const b = task({ round: 2, modelVersion: 1 });
    deliver(a, weightsFrame(a));
    deliver(b, weightsFrame(b));
    await expect.poll(() => updates.length, { timeout: 20_000 }).toBe(2);
    expect(updates.map((u) => u.meta.round)).toEqual([1, 2]);
    expect(participant.history.map((r) => r.round)).toEqual([1, 2]);
  });

  it('paused, declines the tasks that still arrive and trains nothing; resumed, takes the next', async () => {
    // Prepare
    const { channel, updates, deliver } = recordingChannel();
    const participant = new Participant({ channel, data: local });
    participant.start();
    participant.setPaused(true);
    const a = task({ round: 1, modelVersion: 0 });
    const b = task({ round: 2, modelVersion: 1 });

    // Execute
    deliver(a, weightsFrame(a));
    await new Promise((resolve) => setTimeout(resolve, 50));
    participant.setPaused(false);
    deliver(b, weightsFrame(b));

    // Assert
    await expect.poll(() => updates.length, { timeout: 20_000 }).toBe(1);
    expect(updates.map((u) => u.meta.round)).toEqual([2]);
    expect(participant.history.map((r) => r.round)).toEqual([2]);
  });

  it('reports a task that arrives before any data as an error, and uses data set later', async () => {
    // Prepare
    const { channel, updates } = recordingChannel();
    const states: ParticipantStatus[] = [];
    const participant = new Participant({ channel, data: null, onStatus: (s) => states.push(s) });
    const t = task();
    // Execute
    const early = participant.handleTask(t, weightsFrame(t));
    await expect(early).rejects.toThrow(/no local data/);
    participant.setData(local);
    await participant.handleTask(t, weightsFrame(t));
    // Assert
    expect(states[0]).toEqual({ state: 'error', round: 3, message: 'a round arrived but this participant has no local data yet' });
    expect(updates).toHaveLength(1);
  });

  it('awaits prepare before each task, reports its failure, and hands on the decoded global weights once', async () => {
    // Prepare
    const { channel, updates } = recordingChannel();
    const states: ParticipantStatus[] = [];
    const seen: Float32Array[] = [];
    let refuse = true;
    const participant = new Participant({
      channel,
      data: local,
      onStatus: (s) => states.push(s),
      prepare: () => (refuse ? Promise.reject(new Error('this backend cannot train a cnn')) : Promise.resolve()),
      onWeights: (_task, weights) => seen.push(weights),
    });
    const t = task();
    const global = initialWeights(model, 7);
    // Execute
    await expect(participant.handleTask(t, weightsFrame(t, global))).rejects.toThrow(/cannot train/);
    refuse = false;
    await participant.handleTask(t, weightsFrame(t, global));
    // Assert
    expect(states[0]).toEqual({ state: 'error', round: 3, message: 'this backend cannot train a cnn' });
    expect(seen).toHaveLength(1);
    expect(Array.from(seen[0]!)).toEqual(Array.from(global));
    expect(updates).toHaveLength(1);
  });

  it('under fedrep keeps its head between rounds: uploads the body alone, and evaluates and trains from its own head', async () => {
    // Prepare: a store that records what it keeps, and a held-out participant that never trained, for comparison.
    const { channel, updates } = recordingChannel();
    const saved: Float32Array[] = [];
    const store = new MemoryHeadStore();
    const heads: HeadStore = {
      load: (runId) => store.load(runId),
      save: (runId, head) => {
        saved.push(head);
        return store.save(runId, head);
      },
    };
    const participant = new Participant({ channel, data: local, heads });
    const newcomer = new Participant({ channel: recordingChannel().channel, data: { ...local, heldOut: true } });
    const fedrep = (round: number) =>
      task({ round, algorithm: 'fedrep', codec: 'float32', hyper: ClientHyperSchema.parse({ lr: 0.5, headEpochs: 5, adaptSteps: 0 }) });
    const body = initialFederated(model, 'fedrep', 1, 0.05);
    // Execute
    await participant.handleTask(fedrep(1), weightsFrame(fedrep(1), body));
    const second = await participant.handleTask(fedrep(2), weightsFrame(fedrep(2), body));
    const fresh = await newcomer.handleTask(fedrep(2), weightsFrame(fedrep(2), body));
    // Assert
    expect(decodeFrame(updates[0]!.frame).values).toHaveLength(headOffset(model));
    expect(saved).toHaveLength(2);
    expect(saved[0]).toHaveLength(parameterCount(model) - headOffset(model));
    expect(await store.load('run-1')).toBe(saved[1]);
    // Without adaptation steps: its own head already separates the classes. The newcomer's head is the one imprinted
    // from its support set on the shared body (a zero head would predict one class).
    const firstClassShare = local.test.y.filter((y) => y === 0).length / local.test.count;
    expect(second.evaluation!.before).toBeGreaterThan(Math.max(firstClassShare, 1 - firstClassShare) + 0.1);
    const withBody = localModel(model, 'fedrep', body).weights;
    const imprinted = withHead(model, withBody, await imprintedHead(model, withBody, local.support)).weights;
    expect(fresh.evaluation!.before).toBeCloseTo((await score(model, imprinted, local.test)).accuracy!, 6);
    expect(fresh.evaluation!.before).not.toBeCloseTo(firstClassShare, 6);
  });

  it('keeps heads of the last few runs in memory only', async () => {
    const store = new MemoryHeadStore(2);
    for (const run of ['a', 'b', 'c']) await store.save(run, new Float32Array([1]));
    expect(await store.load('a')).toBeNull();
    expect(await store.load('c')).toEqual(new Float32Array([1]));
  });

  it('keeps a diverged evaluation out of its update, which still counts, and fails an evaluate-only task with the reason', async () => {
    // Prepare: adaptation that blows up, as Meta-SGD's learned rates can past their one step.
    const { channel, updates, evaluations } = recordingChannel();
    const diverging: typeof adaptationCurve = (_spec, _weights, _support, _test, options) =>
      Promise.resolve({
        steps: options.steps,
        scores: options.steps.map((k) => ({ loss: k === 0 ? 0.5 : Number.NaN, accuracy: k === 0 ? 0.8 : Number.NaN })),
      });
    const participant = new Participant({ channel, data: local, adaptationCurve: diverging });
    const heldOut = new Participant({ channel, data: { ...local, heldOut: true }, adaptationCurve: diverging });
    // Execute
    const record = await participant.handleTask(task(), weightsFrame(task()));
    const refused = heldOut.handleTask(task({ mode: 'evaluate' }), weightsFrame(task()));
    // Assert: the hub's schema refuses a non-finite metric (JSON turns it into null), so it never goes out.
    expect(updates).toHaveLength(1);
    expect(updates[0]!.meta.evaluation).toBeUndefined();
    expect(record.accepted).toBe(true);
    expect(Number.isNaN(record.evaluation!.after)).toBe(true);
    await expect(refused).rejects.toThrow(/adaptation diverged: accuracy 0.8 before, NaN after/);
    expect(evaluations).toHaveLength(0);
  });
});

describe('Participant under secure aggregation', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('announces its update without counts or metrics, answers the four stages in order, and forgets its secrets', async () => {
    // Prepare: a hub in this process (SecAggAggregator) and two more group members with zero updates.
    const readies: UpdateReady[] = [];
    const { channel, updates, evaluations } = recordingChannel();
    channel.submitReady = (ready) => {
      readies.push(ready);
      return Promise.resolve({ ok: true, data: { round: 3, received: 0 } });
    };
    const states: ParticipantStatus[] = [];
    const participant = new Participant({ channel, data: local, onStatus: (s) => states.push(s) });
    const terms = { clip: 1, maxGroup: 8, maxExamples: 100 };
    const t = task({ codec: 'float32', secureAggregation: terms });
    const words = parameterCount(model) + SECAGG_EXTRAS;
    const address = { runId: 'run-1', round: 3, modelVersion: 2 };
    const others = [2, 3].map(() => new SecureContribution(address, new Uint32Array(words)));
    const ask = (who: number, stage: SecAggStage, request: unknown) =>
      who === 1 ? participant.answerSecAgg(stage, request) : others[who - 2]!.answer(stage, request);

    // Execute: train, then the hub's stages (secure-round.ts), with the other two answering alike.
    const record = await participant.handleTask(t, weightsFrame(t));
    const result = await runSecureRound({
      ...address,
      protocolVersion: PROTOCOL_VERSION,
      sessionId: 's1',
      roster: ['1', '2', '3'],
      threshold: 2,
      words,
      stageTimeoutMs: 1000,
      minSurvivors: 3,
      ask: (id, stage, request) => ask(Number(id), stage, request),
    });

    // Assert: nothing went in the clear; the hub's total holds this tab's weight (40 examples of 100) and its test weight.
    expect(updates).toEqual([]);
    expect(evaluations).toEqual([]);
    expect(readies).toEqual([address]);
    expect(record).toMatchObject({ accepted: true, mode: 'fit', bytesUp: frameByteLength(words, 'float32', 1, 'run-1') });
    const figures = secureFigures(result.total, parameterCount(model), terms, 3, 'accuracy');
    expect(figures.totalWeight).toBeCloseTo(0.4, 6);
    expect(figures.global).toBeCloseTo(record.evaluation!.before, 5);
    expect(states.filter((s) => s.secureStage).map((s) => `${s.state} ${s.secureStage}`)).toEqual([
      'uploading waiting',
      'uploading advertise',
      'uploading share',
      'uploading mask',
      'uploading unmask',
    ]);
    expect(states.at(-1)).toEqual({ state: 'done', round: 3 });
    expect(await participant.answerSecAgg('advertise', {})).toMatchObject({ ok: false, code: 'stale' });
  });
});

describe('SecureContribution refuses, with a code, what the protocol does not allow', () => {
  const address = { runId: 'run-1', round: 3, modelVersion: 2 };
  const advertise = { ...address, sessionId: 's1', index: 1, n: 3, threshold: 2, words: 4 };
  /** An answer as `code: reason`, or 'answered'. */
  const refusal = (ack: Ack<unknown>) => (ack.ok ? 'answered' : `${ack.code}: ${ack.error}`);

  it('a stage out of order, another session, another round or size, and malformed keys', async () => {
    // Prepare
    const contribution = new SecureContribution(address, new Uint32Array(4));
    // Execute / Assert
    expect(refusal(await contribution.answer('share', { sessionId: 's1', group: [1, 2, 3], roster: [] }))).toBe(
      'invalid: secure aggregation share: the share stage came while this participant expects advertise',
    );
    expect(refusal(await contribution.answer('advertise', { ...advertise, round: 4 }))).toMatch(/^invalid: .*is for run run-1 round 3/);
    expect(refusal(await contribution.answer('advertise', { ...advertise, words: 5 }))).toMatch(/5 words per input, this update 4/);
    expect(refusal(await contribution.answer('advertise', advertise))).toBe('answered');
    expect(refusal(await contribution.answer('share', { sessionId: 's2', group: [1, 2, 3], roster: [] }))).toMatch(/session s2 is not/);
    const badKey = { sessionId: 's1', group: [1, 2, 3], roster: [{ index: 1, encKey: 'AAAA', maskKey: 'AAAA' }] };
    expect(refusal(await contribution.answer('share', badKey))).toMatch(/^invalid: .*roster\.0\.encKey: 3 bytes, expected 32/);
  });

  it('a roster that swaps its own keys (the hub could then open the shares meant for it)', async () => {
    // Prepare
    const contribution = new SecureContribution(address, new Uint32Array(4));
    const mine = await contribution.answer('advertise', advertise);
    const other = await new SecureContribution(address, new Uint32Array(4)).answer('advertise', { ...advertise, index: 2 });
    if (!mine.ok || !other.ok) throw new Error('advertise failed');
    // Execute
    const answer = await contribution.answer('share', {
      sessionId: 's1',
      group: [1, 2],
      roster: [
        { index: 1, ...other.data },
        { index: 2, ...other.data },
      ],
    });
    // Assert
    expect(refusal(answer)).toMatch(/^invalid: .*gives tab 1 keys it did not advertise/);
  });
});
