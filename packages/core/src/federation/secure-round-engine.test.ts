import { describe, expect, it } from 'vitest';
import { RunConfigSchema, type RoundSummary, type RoundTask, type RunConfigInput } from '../protocol.js';
import { seededRandomSource } from '../privacy/random-source.js';
import { SecureContribution, secureInput } from '../secagg/contribution.js';
import type { SecAggStage } from '../secagg/messages.js';
import { systemClock } from './clock.js';
import { RoundEngine } from './round-engine.js';
import { strategyFor } from './strategy-for.js';

// Three parameters: a linear regressor on two inputs.
const MODEL = { kind: 'mlp' as const, inputShape: [2], hidden: [], outputs: 1, task: 'regression' as const };
// privacy.md §2.11's five tabs (delta, examples): FedAvg's mean is Σ n·Δ / Σ n = [14, 16, 38] / 16.
const TABS: readonly { id: string; delta: number[]; examples: number }[] = [
  { id: 'a', delta: [1, 2, 3], examples: 1 },
  { id: 'b', delta: [3, 2, 1], examples: 3 },
  { id: 'c', delta: [0, 0, 8], examples: 2 },
  { id: 'd', delta: [-2, 4, 0], examples: 6 },
  { id: 'e', delta: [4, -4, 4], examples: 4 },
];
// Weights n/8 and integer deltas are dyadic: every w·Δ·S is an integer, so stochastic rounding adds nothing.
const SECURE = { maxGroup: 8, clip: 16, maxExamples: 8, minSurvivors: 3 };

interface Behaviour {
  /** The tab's socket closes before it answers this stage (it answers every earlier one). */
  leaveAt?: SecAggStage;
  /** Replaces the tab's ring words before it masks them (a malicious tab). */
  forge?: (words: Uint32Array) => void;
  /** Replaces its answer to one stage (a hostile or broken tab). */
  garble?: { stage: SecAggStage; answer: unknown };
}

async function secureRun(
  behaviour: Record<string, Behaviour> = {},
  input: Partial<RunConfigInput> = {},
  tabs = TABS,
  /** Called once, when the hub asks its first stage question. */
  onStages?: (engine: RoundEngine) => void,
) {
  const config = RunConfigSchema.parse({
    algorithm: 'fedavg',
    model: MODEL,
    rounds: 1,
    waitForParticipantsMs: 0,
    secureAggregation: SECURE,
    ...input,
  });
  const clock = systemClock();
  const contributions = new Map<string, SecureContribution>();
  const asked: string[] = [];
  const requests: { stage: SecAggStage; request: unknown }[] = [];
  const cancelled: string[] = [];
  const recorded: RoundSummary[] = [];
  // Each tab trains, then says it is ready: after the engine has sent every task of the attempt.
  const ready = (id: string, task: RoundTask) => {
    const tab = tabs.find((t) => t.id === id)!;
    const terms = task.secureAggregation!;
    const { words } = secureInput(
      Float32Array.from(tab.delta),
      { numExamples: tab.examples, loss: 0.5 },
      terms,
      seededRandomSource(id.charCodeAt(0)),
    );
    behaviour[id]?.forge?.(words);
    const address = { runId: task.runId, round: task.round, modelVersion: task.modelVersion };
    contributions.set(id, new SecureContribution(address, words));
    expect(engine.submitReady(id, address)).toEqual({ ok: true, data: { round: 1, received: 0 } });
  };
  const engine: RoundEngine = new RoundEngine({
    runId: 'secure-run',
    config,
    strategy: strategyFor(config),
    weights: new Float32Array(3),
    completed: 0,
    retryDelayMs: 0,
    host: {
      clock,
      candidates: () => tabs.map((t) => ({ id: t.id, heldOut: false, missStreak: 0 })),
      send: (id, task) => {
        queueMicrotask(() => ready(id, task));
        return true;
      },
      cancel: (id, notice) => cancelled.push(`${id}: ${notice.reason}`),
      record: (summary) => void recorded.push(summary),
      onRound: () => undefined,
      onLatency: () => undefined,
      onOutcome: () => undefined,
      log: () => undefined,
      secAgg: async (id, stage, request) => {
        if (asked.length === 0) onStages?.(engine);
        asked.push(`${stage} ${id}`);
        requests.push({ stage, request });
        if (behaviour[id]?.leaveAt === stage) throw new Error('the participant disconnected');
        const answer = await contributions.get(id)!.answer(stage, request);
        const garble = behaviour[id]?.garble;
        return garble?.stage === stage ? garble.answer : answer;
      },
    },
  });
  const end = await engine.run();
  return { end, weights: engine.weights, recorded, asked, cancelled, requests };
}

describe('secure aggregation in the round engine (literal numbers)', () => {
  it('five participants with unequal example counts: exactly the example-weighted mean, and the loss from the masked extras', async () => {
    // Execute
    const { end, weights, recorded } = await secureRun();

    // Assert
    expect(end.status).toBe('completed');
    expect([...weights]).toEqual([0.875, 1, 2.375]);
    const round = recorded[0]!;
    expect(round.participants).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(round.metrics.loss).toBeCloseTo(0.5, 6);
    expect(round.secureAggregation).toEqual({
      stages: ['advertise', 'share', 'mask', 'unmask'].map((stage) => ({ stage, asked: 5, answered: 5 })),
      threshold: 3,
      neighbours: null,
      clampedShare: 0,
    });
  });

  it('a participant whose socket closes after the share stage: exactly the weighted mean of the other four', async () => {
    // Execute
    const { end, weights, recorded, cancelled } = await secureRun({ d: { leaveAt: 'mask' } });

    // Assert
    expect(end.status).toBe('completed');
    expect([...weights]).toEqual([Math.fround(26 / 10), Math.fround(-8 / 10), Math.fround(38 / 10)]);
    const round = recorded[0]!;
    expect(round.participants).toEqual(['a', 'b', 'c', 'e']);
    expect(round.failures).toEqual([
      { participantId: 'd', reason: 'left secure aggregation at its mask stage: the participant disconnected' },
    ]);
    expect(round.secureAggregation!.stages.map((s) => `${s.stage} ${s.answered}/${s.asked}`)).toEqual([
      'advertise 5/5',
      'share 5/5',
      'mask 4/5',
      'unmask 4/4',
    ]);
    expect(cancelled).toEqual(['d: left secure aggregation at its mask stage: the participant disconnected']);
  });

  it('a participant that drops after sending its masked input is still in the mean: the others reveal its self-mask', async () => {
    // Execute
    const { weights, recorded } = await secureRun({ b: { leaveAt: 'unmask' } });

    // Assert
    expect([...weights]).toEqual([0.875, 1, 2.375]);
    expect(recorded[0]!.participants).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(recorded[0]!.secureAggregation!.stages.at(-1)).toEqual({ stage: 'unmask', asked: 5, answered: 4 });
  });
});

describe('secure aggregation: what a tab sends is checked, and the graph follows the group', () => {
  it('a tab whose answer is malformed (keys of the wrong size, a short masked frame) is a dropout, and the mean is exact without it', async () => {
    for (const garble of [
      { stage: 'advertise' as const, answer: { ok: true, data: { encKey: 'AAAA', maskKey: 'AAAA' } } },
      { stage: 'mask' as const, answer: { ok: true, data: { frame: new Uint8Array(40) } } },
      { stage: 'mask' as const, answer: 'not an ack' },
    ]) {
      // Execute
      const { end, weights, recorded } = await secureRun({ d: { garble } });

      // Assert
      expect(end.status).toBe('completed');
      expect([...weights]).toEqual([Math.fround(26 / 10), Math.fround(-8 / 10), Math.fround(38 / 10)]);
      expect(recorded[0]!.failures.map((f) => f.participantId)).toEqual(['d']);
      expect(recorded[0]!.failures[0]!.reason).toMatch(new RegExp(`^left secure aggregation at its ${garble.stage} stage: `));
    }
  });

  it('beyond 30 tabs without a graph configured, each tab masks against 20 neighbours with a majority threshold of 11', async () => {
    // Prepare: 32 tabs, each Δ = [1, 1, 1] over 1 example: the mean is exactly [1, 1, 1].
    const tabs = Array.from({ length: 32 }, (_, i) => ({ id: `t${String(i).padStart(2, '0')}`, delta: [1, 1, 1], examples: 1 }));
    // Execute
    const { weights, recorded, requests } = await secureRun(
      { t05: { leaveAt: 'mask' } },
      { secureAggregation: { ...SECURE, maxGroup: 40 } },
      tabs,
    );
    // Assert
    expect([...weights]).toEqual([1, 1, 1]);
    expect(recorded[0]!.secureAggregation).toMatchObject({ neighbours: 20, threshold: 11 });
    expect(recorded[0]!.participants).toHaveLength(31);
    // Each tab is sent the keys of itself and its 20 neighbours, and the whole group to derive the graph from.
    const shares = requests.filter((r) => r.stage === 'share').map((r) => r.request as { group: number[]; roster: unknown[] });
    expect(shares).toHaveLength(32);
    for (const share of shares) expect([share.group.length, share.roster.length]).toEqual([32, 21]);
  });
});

describe('secure aggregation aborts: a failed attempt with its reason, and the weights byte-identical', () => {
  const expectUnchanged = (weights: Float32Array) => expect(new Uint8Array(weights.buffer)).toEqual(new Uint8Array(12));

  it('too few survivors: three of five leave at the share stage', async () => {
    // Execute
    const { end, weights, recorded, cancelled } = await secureRun(
      { a: { leaveAt: 'share' }, b: { leaveAt: 'share' }, c: { leaveAt: 'share' } },
      { rounds: 1 },
    );

    // Assert
    expect(end).toMatchObject({ status: 'failed' });
    expectUnchanged(weights);
    expect(recorded).toHaveLength(3);
    expect(recorded[0]).toMatchObject({
      status: 'failed',
      reason: 'secure aggregation aborted (too-few-survivors): only 2 of 5 tabs answered the share stage; at least 3 must',
      participants: [],
    });
    expect(recorded[0]!.secureAggregation!.stages.map((s) => s.answered)).toEqual([5, 2]);
    // Every tab of the group hears that its update will not be used.
    expect(cancelled.filter((c) => c.includes('aborted'))).toHaveLength(15);
  });

  it('too few trained updates for a group: the attempt fails before any stage', async () => {
    // Execute
    const { recorded, asked } = await secureRun({}, {}, TABS.slice(0, 2));

    // Assert
    expect(recorded[0]!.reason).toBe('only 2 trained updates of the required 3 for secure aggregation');
    expect(asked).toEqual([]);
  });

  it('a dropped participant with fewer than the threshold of live neighbours: its masks cannot be removed', async () => {
    // SecAgg+ with 2 neighbours on a ring of 7 (threshold 2 of 3 holders). Four tabs leave after sharing: rebuilding
    // each one's key needs both its ring neighbours alive, 8 neighbour slots, and the 3 survivors have only 6, whatever
    // ring the session's random seed draws.
    const tabs = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((id, i) => ({ id, delta: [i, 1, -i], examples: 1 + i }));
    const leaveAfterShare = { leaveAt: 'mask' as const };
    const { end, weights, recorded } = await secureRun(
      { c: leaveAfterShare, d: leaveAfterShare, e: leaveAfterShare, f: leaveAfterShare },
      { secureAggregation: { ...SECURE, neighbours: 2 } },
      tabs,
    );

    // Assert
    expect(end.status).toBe('failed');
    expectUnchanged(weights);
    expect(recorded[0]!.reason).toMatch(/^secure aggregation aborted \(too-few-survivors\): .*, the threshold is 2$/);
  });

  it('a hub that shuts down during the stages records nothing: the run resumes later at the same round', async () => {
    // Execute
    const { end, weights, recorded } = await secureRun({}, {}, TABS, (engine) => engine.detach());

    // Assert
    expect(end).toEqual({ status: 'detached' });
    expect(recorded).toEqual([]);
    expectUnchanged(weights);
  });

  it('a total weight out of range (a tab wrote any ring element into its weight slot): nothing is released', async () => {
    // Execute
    const { end, weights, recorded } = await secureRun({ e: { forge: (words) => (words[3] = 2 ** 31 - 1) } });

    // Assert
    expect(end.status).toBe('failed');
    expectUnchanged(weights);
    expect(recorded[0]!.reason).toMatch(/^secure aggregation: the decoded total weight .* is outside \[0\.625, 5\] for 5 survivors/);
  });
});
