import { describe, expect, it } from 'vitest';
import { RunConfigSchema, PROTOCOL_VERSION, type RoundSummary, type RoundTask, type RunConfigInput } from '../protocol.js';
import { privacySpent } from '../privacy/epsilon.js';
import { roundsWithinBudget } from '../privacy/plan.js';
import { seededRandomSource } from '../privacy/random-source.js';
import { encodeFrame } from '../wire/index.js';
import { FitBatch, WeightedSum } from '../aggregate/index.js';
import { ManualClock } from './manual-clock.js';
import { RoundEngine, type Candidate, type RoundCheckpoint, type RoundEngineHost } from './round-engine.js';
import { strategyFor } from './strategy-for.js';

const MODEL = { kind: 'mlp' as const, inputShape: [2], hidden: [], outputs: 2, task: 'classification' as const };

function setup(
  input: Partial<RunConfigInput>,
  candidates: Candidate[],
  options: { roundDeadlineMs?: number; record?: (summary: RoundSummary, checkpoint?: RoundCheckpoint) => void } = {},
) {
  const config = RunConfigSchema.parse({
    algorithm: 'fedavg',
    model: MODEL,
    rounds: 1,
    waitForParticipantsMs: 1000,
    roundDeadlineMs: 5000,
    ...input,
  });
  const clock = new ManualClock();
  const sent: { id: string; task: RoundTask }[] = [];
  const events: string[] = [];
  const engine: RoundEngine = new RoundEngine({
    runId: 'r1',
    config,
    strategy: strategyFor(config),
    weights: new Float32Array(6),
    completed: 0,
    ...(options.roundDeadlineMs !== undefined ? { roundDeadlineMs: options.roundDeadlineMs } : {}),
    host: {
      clock,
      candidates: () => candidates,
      send: (id, task) => {
        sent.push({ id, task });
        return true;
      },
      cancel: (id, notice) => events.push(`cancel ${id}: ${notice.reason}`),
      record: (summary, checkpoint) => {
        events.push(`record ${summary.round}.${summary.attempt} ${summary.status} at version ${engine.modelVersion}`);
        options.record?.(summary, checkpoint);
      },
      onRound: (summary) => events.push(`round ${summary.round}.${summary.attempt} at version ${engine.modelVersion}`),
      onLatency: () => undefined,
      onOutcome: (id, answered) => events.push(`outcome ${id} ${answered}`),
      log: () => undefined,
    },
  });
  const update = ({ id, task }: { id: string; task: RoundTask }, value: number) =>
    engine.submitUpdate(
      id,
      { runId: task.runId, round: task.round, modelVersion: task.modelVersion, numExamples: 1, loss: 0.1, trainMs: 1 },
      encodeFrame({
        kind: 'delta',
        protocolVersion: PROTOCOL_VERSION,
        runId: task.runId,
        round: task.round,
        modelVersion: task.modelVersion,
        dtype: 'float32',
        values: new Float32Array(6).fill(value),
      }),
    );
  return { engine, clock, sent, events, update };
}

const trainer = (id: string): Candidate => ({ id, heldOut: false, missStreak: 0 });

describe('RoundEngine', () => {
  it('records a completed round before it adopts the weights, and announces it after', async () => {
    // Prepare
    const { engine, clock, sent, events, update } = setup({}, [trainer('a')]);

    // Execute
    const end = engine.run();
    await clock.advance(0);
    update(sent[0]!, 0.5);

    // Assert
    expect(await end).toEqual({ status: 'completed' });
    expect(events).toEqual(['outcome a true', 'record 1.1 completed at version 0', 'round 1.1 at version 1']);
    expect(Array.from(engine.weights)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  });

  it('rejects with what record threw, keeping the weights it had', async () => {
    const full = new Error('database or disk is full');
    const { engine, clock, sent, update } = setup({}, [trainer('a')], {
      record: () => {
        throw full;
      },
    });
    const end = engine.run();
    await clock.advance(0);
    update(sent[0]!, 0.5);
    await expect(end).rejects.toBe(full);
    expect(engine.modelVersion).toBe(0);
    expect(Array.from(engine.weights)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(engine.openRound).toBeNull();
  });

  it('without a deadline waits for every answer, however long it takes', async () => {
    const { engine, clock, sent, update } = setup({}, [trainer('a'), trainer('b')], { roundDeadlineMs: Number.POSITIVE_INFINITY });
    const end = engine.run();
    await clock.advance(0);
    expect(sent.map((s) => s.task.deadline)).toEqual([Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]);
    update(sent[0]!, 1);
    await clock.advance(86_400_000);
    expect(engine.openRound).toBe(1);
    update(sent[1]!, 3);
    expect(await end).toEqual({ status: 'completed' });
    expect(Array.from(engine.weights)).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('asks whom the strategy names to evaluate, only in the rounds it evaluates, and trainers evaluate with them', async () => {
    // Prepare: evaluations every 2nd round of 3, and in the last
    const { engine, clock, sent, update } = setup({ rounds: 3, evaluateEvery: 2 }, [
      trainer('a'),
      { id: 'h', heldOut: true, missStreak: 0 },
    ]);
    const end = engine.run();

    // Execute: answer each round
    for (let round = 1; round <= 3; round++) {
      await clock.advance(0);
      for (const s of sent.filter((x) => x.task.round === round)) {
        if (s.task.mode === 'fit') update(s, 0);
        else
          engine.submitEvaluation(s.id, {
            runId: 'r1',
            round,
            modelVersion: round - 1,
            evaluation: { metric: 'accuracy', before: 0.5, after: 0.6, adaptSteps: 1, testExamples: 5 },
          });
      }
    }

    // Assert
    expect(await end).toEqual({ status: 'completed' });
    expect(sent.map((s) => `${s.task.round} ${s.id} ${s.task.mode}${s.task.evaluate ? ' +eval' : ''}`)).toEqual([
      '1 a fit',
      '2 a fit +eval',
      '2 h evaluate +eval',
      '3 a fit +eval',
      '3 h evaluate +eval',
    ]);
  });
});

describe('RoundEngine: a differentially private run', () => {
  const dpConfig = (privacy: Record<string, unknown>, rounds: number) =>
    RunConfigSchema.parse({
      algorithm: 'fedavg',
      model: MODEL,
      rounds,
      waitForParticipantsMs: 1000,
      roundDeadlineMs: 5000,
      privacy: { mode: 'central', clip: 1, noiseMultiplier: 1, delta: 1e-5, ...privacy },
    });
  /** An engine over `pool` trainers that never answer: a DP round completes anyway, noise over the expected count. */
  function dpEngine(config: ReturnType<typeof dpConfig>, pool: number, privacyHistory: number[] = [], missStreak = 0) {
    const rounds: RoundSummary[] = [];
    const tasks: RoundTask[] = [];
    const engine = new RoundEngine({
      runId: 'dp',
      config,
      strategy: strategyFor(config, { random: seededRandomSource(5) }),
      weights: new Float32Array(6),
      completed: privacyHistory.length,
      privacyHistory,
      host: {
        clock: new ManualClock(),
        candidates: () => Array.from({ length: pool }, (_, i) => ({ ...trainer(`t${i}`), missStreak: i % 2 ? missStreak : 0 })),
        send: (_id, task) => {
          tasks.push(task);
          return false;
        },
        cancel: () => undefined,
        record: (summary) => void rounds.push(summary),
        onRound: () => undefined,
        onLatency: () => undefined,
        onOutcome: () => undefined,
        log: () => undefined,
      },
    });
    return { engine, rounds, tasks };
  }

  it('stops completed, "privacy budget reached", before the round that would exceed the budget (privacy.md §3.5)', async () => {
    // Prepare: q 0.01, z 1, δ 1e-5, ε ≤ 2; the planner gives the last round at the run's orders (879 at integer orders).
    const plan = roundsWithinBudget({ samplingRate: 0.01, noiseMultiplier: 1, delta: 1e-5, epsilon: 2 });
    const { engine, rounds } = dpEngine(dpConfig({ samplingRate: 0.01, epsilonBudget: 2 }, 100_000), 3);

    // Execute
    const end = await engine.run();

    // Assert
    expect(end).toEqual({ status: 'completed', reason: 'privacy budget reached' });
    expect(plan.rounds).toBeGreaterThanOrEqual(879);
    expect(engine.modelVersion).toBe(plan.rounds);
    expect(rounds).toHaveLength(plan.rounds);
    expect(rounds.every((r) => r.status === 'completed' && r.privacy?.samplingRate === 0.01)).toBe(true);
    expect(rounds[0]!.privacy!.epsilon).toBeLessThan(rounds[1]!.privacy!.epsilon);
    expect(rounds.at(-1)!.privacy!.epsilon).toBeCloseTo(plan.spent.epsilon, 12);
    expect(rounds.at(-1)!.privacy!.epsilon).toBeLessThanOrEqual(2);
    expect(plan.next!.epsilon).toBeGreaterThan(2);
  });

  it('samples from every connected trainer, including those that let their last selections pass', async () => {
    // Prepare: 2 of 4 trainers missed their last 5 selections; 2 expected per round.
    const { engine, rounds } = dpEngine(dpConfig({ expectedPerRound: 2 }, 1), 4, [], 5);

    // Execute
    await engine.run();

    // Assert: q = 2 / 4, not 2 / 2 (the pool would reveal how many of the secret sample missed a round).
    expect(rounds[0]!.privacy!.samplingRate).toBe(0.5);
  });

  it('completes rounds nobody answered, tells participants the clip, and resumes its accountant', async () => {
    // Prepare: expected 2 of 4 per round (q 0.5); the first engine runs 2 rounds, a resumed one the third.
    const config = dpConfig({ expectedPerRound: 2 }, 3);
    const first = dpEngine({ ...config, rounds: 2 }, 4);

    // Execute
    const end = await first.engine.run();
    const resumed = dpEngine(config, 4, [0.5, 0.5]);
    await resumed.engine.run();

    // Assert
    expect(end).toEqual({ status: 'completed' });
    expect(first.rounds.map((r) => [r.status, r.participants.length, r.privacy?.samplingRate])).toEqual([
      ['completed', 0, 0.5],
      ['completed', 0, 0.5],
    ]);
    expect(first.engine.weights.some((w) => w !== 0)).toBe(true); // noise moved the weights
    expect(first.tasks.every((t) => t.clip === 1)).toBe(true);
    const three = privacySpent({ samplingRate: 0.5, noiseMultiplier: 1, rounds: 3, delta: 1e-5 });
    expect(resumed.rounds[0]!.round).toBe(3);
    expect(resumed.rounds[0]!.privacy!.epsilon).toBeCloseTo(three.epsilon, 12);
  });
});

describe('RoundEngine with the round gathered by other hubs (host.gather)', () => {
  /** One hub's share of a round: its tabs' (delta, weight, loss), each evaluated on 2 examples at 0.5 before, 1 after. */
  function shareOf(updates: { id: string; delta: number[]; weight: number; loss: number }[], bytesUp: number) {
    const fits = new FitBatch(new WeightedSum(2));
    for (const u of updates)
      fits.add(Float32Array.from(u.delta), { participantId: u.id, numExamples: u.weight, metrics: { loss: u.loss } });
    const { partial, results } = fits.partial();
    return {
      partial,
      results,
      evaluations: updates.map((u) => ({ participantId: u.id, numExamples: 2, metrics: { before: 0.5, after: 1 }, heldOut: false })),
      failures: [],
      bytesUp,
    };
  }

  /** A one-round FedAvg run of a 2-weight regressor over `trainers`, whose rounds `gather` collects; records kept. */
  function gatheringEngine(trainers: string[], gather: NonNullable<RoundEngineHost['gather']>, minParticipants = 1) {
    const config = RunConfigSchema.parse({
      algorithm: 'fedavg',
      model: { ...MODEL, inputShape: [1], outputs: 1, task: 'regression' },
      rounds: 1,
      minParticipants,
      waitForParticipantsMs: 1000,
      roundDeadlineMs: 5000,
      server: { kind: 'sgd', lr: 1 },
    });
    const clock = new ManualClock();
    const recorded: RoundSummary[] = [];
    const engine = new RoundEngine({
      runId: 'r1',
      config,
      strategy: strategyFor(config),
      weights: new Float32Array(2),
      completed: 0,
      retryDelayMs: 0,
      host: {
        clock,
        candidates: () => trainers.map(trainer),
        send: () => {
          throw new Error('a gathered round sends nothing itself');
        },
        cancel: () => undefined,
        record: (summary) => void recorded.push(summary),
        onRound: () => undefined,
        onLatency: () => undefined,
        onOutcome: () => undefined,
        log: () => undefined,
        gather,
      },
    });
    return { engine, clock, recorded };
  }

  it('aggregates the hubs’ shares into exactly the one-hub FedAvg, and records every hub’s tabs', async () => {
    // Prepare: hub A's tabs a (weight 1) and b (weight 3), hub B's tab c (weight 4); d's hub stopped beating.
    const asked: string[] = [];
    const { engine, recorded } = gatheringEngine(
      ['a', 'b', 'c', 'd'],
      (round) => {
        asked.push(`${round.address.round}.${round.attempt}: ${round.trainers.join(',')} (${round.frame.byteLength} bytes)`);
        return Promise.resolve({
          settlement: 'complete',
          shares: [
            shareOf(
              [
                { id: 'a', delta: [1, 2], weight: 1, loss: 1 },
                { id: 'b', delta: [3, -2], weight: 3, loss: 2 },
              ],
              100,
            ),
            shareOf([{ id: 'c', delta: [0.5, 1], weight: 4, loss: 0.5 }], 50),
          ],
          failures: [{ participantId: 'd', reason: "its hub's heartbeat stopped" }],
          bytesDown: 800,
        });
      },
      3,
    );

    // Execute
    const end = await engine.run();

    // Assert: (1·[1,2] + 3·[3,-2] + 4·[0.5,1]) / 8 = [1.5, 0], exact in float32.
    expect(end).toEqual({ status: 'completed' });
    expect(asked).toEqual([expect.stringMatching(/^1\.1: a,b,c,d \(\d+ bytes\)$/)]);
    expect([...engine.weights]).toEqual([1.5, 0]);
    const [summary] = recorded;
    expect(summary?.participants).toEqual(['a', 'b', 'c']);
    expect(summary?.failures).toEqual([{ participantId: 'd', reason: "its hub's heartbeat stopped" }]);
    expect(summary?.metrics).toMatchObject({ loss: (1 + 6 + 2) / 8, global: 0.5, personalized: 1 });
    expect([summary?.bytesUp, summary?.bytesDown]).toEqual([150, 800]);
  });

  it('records an attempt whose hubs could not be reached as failed with the reason, and retries the round', async () => {
    // Prepare: the first gather fails (Redis restarting), the second returns one hub's share.
    let calls = 0;
    const { engine, clock, recorded } = gatheringEngine(['a'], () =>
      ++calls === 1
        ? Promise.reject(new Error('Connection is closed.'))
        : Promise.resolve({
            settlement: 'complete',
            shares: [shareOf([{ id: 'a', delta: [2, 4], weight: 1, loss: 1 }], 10)],
            failures: [],
            bytesDown: 0,
          }),
    );

    // Execute
    const ended = engine.run();
    for (let i = 0; i < 5; i++) await clock.advance(10);
    const end = await ended;

    // Assert
    expect(end).toEqual({ status: 'completed' });
    expect(recorded.map((r) => `${r.round}.${r.attempt} ${r.status}: ${r.reason}`)).toEqual([
      '1.1 failed: the round could not be gathered from the hubs: Connection is closed.',
      '1.2 completed: null',
    ]);
    expect([...engine.weights]).toEqual([2, 4]);
  });
});
