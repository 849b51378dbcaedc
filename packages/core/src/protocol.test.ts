import { roundTask } from './federation/round-task.js';
import { describe, expect, it } from 'vitest';
import { loadMnist } from './data/mnist-node.js';
import { MAX_MNIST_PARTICIPANTS, createScenario, isHeldOut, isValidation } from './data/scenario.js';
import { MNIST_MLP } from './model/spec.js';
import { MAX_HELD_VALUES, RunConfigSchema, SCENARIOS, ScenarioSpecSchema, parseOrError, type RunConfigInput } from './protocol.js';
import { createRng } from './rng.js';
import { strategyFor } from './federation/strategy-for.js';

const base: RunConfigInput = { algorithm: 'fedavg', model: MNIST_MLP, rounds: 3, perRound: 10 };

describe('RunConfigSchema: aggregation', () => {
  it('defaults to fedavg, and the hub and the simulation build the strategy it names', () => {
    // Execute
    const plain = RunConfigSchema.parse(base);
    const trimmed = RunConfigSchema.parse({ ...base, aggregation: { kind: 'trimmed-mean' } });
    const median = RunConfigSchema.parse({ ...base, aggregation: { kind: 'median' } });
    // Assert
    expect(plain.aggregation).toEqual({ kind: 'fedavg' });
    expect(trimmed.aggregation).toEqual({ kind: 'trimmed-mean', trim: 0.1 });
    expect([plain, trimmed, median].map((c) => strategyFor(c).name)).toEqual(['fedavg', 'trimmed-mean', 'median']);
  });

  it('refuses what robust aggregation cannot do, with the reason', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...base, aggregation: { kind: 'trimmed-mean', trim: 0.5 } }, /aggregation\.trim/],
      [{ ...base, aggregation: { kind: 'krum' } }, /aggregation\.kind/],
      [{ ...base, perRound: undefined, aggregation: { kind: 'median' } }, /perRound: median keeps every delta of a round/],
      // 79,510 parameters x 4,000 deltas is more than MAX_HELD_VALUES float32 values.
      [
        { ...base, perRound: 4000, aggregation: { kind: 'median' } },
        /aggregation: median would hold 4000 deltas of 79510 parameters \(1\.2 GiB\)/,
      ],
    ];
    for (const [input, message] of cases) {
      const parsed = parseOrError(RunConfigSchema, input);
      expect(parsed.ok, String(message)).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(message);
    }
    // The streaming FedAvg has no such limit.
    expect(parseOrError(RunConfigSchema, { ...base, perRound: 4000 }).ok).toBe(true);
    expect(4000 * 79_510).toBeGreaterThan(MAX_HELD_VALUES);
  });
});

describe('RunConfigSchema: privacy', () => {
  const dp = { mode: 'central', clip: 1, noiseMultiplier: 1.1, samplingRate: 0.1, delta: 1e-5 };
  const { perRound: _perRound, ...pool } = base;

  it('accepts central DP-FedAvg and builds its strategy, which clips at the hub', () => {
    // Execute
    const config = RunConfigSchema.parse({ ...pool, privacy: { ...dp, epsilonBudget: 3 } });
    const strategy = strategyFor(config);
    // Assert
    expect(config.privacy).toEqual({ ...dp, epsilonBudget: 3 });
    expect([strategy.name, strategy.clipNorm]).toEqual(['dp-fedavg', 1]);
    expect(RunConfigSchema.parse(pool).privacy).toBeUndefined();
  });

  it('refuses what the noise and the accountant do not cover, naming the field and the reason', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...pool, aggregation: { kind: 'median' }, privacy: dp }, /aggregation: a differentially private run needs fedavg.*not for median/],
      [{ ...pool, aggregation: { kind: 'trimmed-mean' }, privacy: dp }, /aggregation: .*not for trimmed-mean/],
      [{ ...base, privacy: dp }, /perRound: a differentially private run samples each participant independently/],
      [{ ...pool, maxUpdateNorm: 5, privacy: dp }, /maxUpdateNorm: .*would leak whether they exceeded it/],
      [
        { ...pool, privacy: { ...dp, expectedPerRound: 10 } },
        /privacy\.samplingRate: give exactly one of samplingRate and expectedPerRound/,
      ],
      [{ ...pool, privacy: { ...dp, samplingRate: undefined } }, /privacy\.samplingRate: give exactly one/],
      [{ ...pool, privacy: { ...dp, mode: 'local' } }, /privacy\.mode/],
      [{ ...pool, privacy: { ...dp, noiseMultiplier: 0 } }, /privacy\.noiseMultiplier/],
      [{ ...pool, privacy: { ...dp, delta: 1 } }, /privacy\.delta/],
      [{ ...pool, privacy: { ...dp, clip: -1 } }, /privacy\.clip/],
      [{ ...pool, privacy: { ...dp, samplingRate: 1.5 } }, /privacy\.samplingRate/],
      [{ ...pool, privacy: { ...dp, seed: 3 } }, /unknown key "seed"/],
    ];
    for (const [input, message] of cases) {
      const parsed = parseOrError(RunConfigSchema, input);
      expect(parsed.ok, String(message)).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(message);
    }
  });
});

describe('RunConfigSchema: secure aggregation', () => {
  it('fills in the defaults, and the tasks carry what a tab quantises with', () => {
    // Execute
    const config = RunConfigSchema.parse({ ...base, secureAggregation: {} });
    // Assert
    expect(config.secureAggregation).toEqual({ clip: 1, maxGroup: 100, minSurvivors: 3, maxExamples: 10_000, stageTimeoutMs: 10_000 });
    const address = { runId: 'r', round: 1, modelVersion: 0, deadline: 0, evaluate: true };
    expect(roundTask(config, address, 'p', 'fit').secureAggregation).toEqual({ clip: 1, maxGroup: 100, maxExamples: 10_000 });
    expect(roundTask(RunConfigSchema.parse(base), address, 'p', 'fit').secureAggregation).toBeUndefined();
  });

  it('refuses what it cannot do, naming the field and the reason', () => {
    const secureAggregation = { maxGroup: 20 };
    const { perRound: _perRound, ...pool } = base;
    const cases: [unknown, RegExp][] = [
      [
        { ...base, aggregation: { kind: 'median' }, secureAggregation },
        /aggregation: secure aggregation gives the hub only the sum .*median needs each update's coordinates/,
      ],
      [
        { ...pool, secureAggregation, privacy: { mode: 'central', clip: 1, noiseMultiplier: 1, samplingRate: 0.1, delta: 1e-5 } },
        /privacy: secure aggregation with differential privacy is not supported yet/,
      ],
      [{ ...base, maxUpdateNorm: 3, secureAggregation }, /maxUpdateNorm: the hub never sees one update/],
      [{ ...base, codec: 'int8', secureAggregation }, /codec: masked inputs are 32-bit ring words, so the int8 codec would not apply/],
      [
        { ...base, perRound: 30, secureAggregation },
        /perRound: a secure aggregation group holds at most secureAggregation\.maxGroup \(20\) tabs/,
      ],
      [{ ...base, secureAggregation: { neighbours: 5 } }, /secureAggregation\.neighbours: must be even/],
      [
        { ...base, secureAggregation: { neighbours: 10, threshold: 5 } },
        /secureAggregation\.threshold: must be a majority of each tab's 11 holders/,
      ],
      [
        { ...base, secureAggregation: { maxGroup: 10, threshold: 11 } },
        /secureAggregation\.threshold: 11 shares can never be gathered: each secret has 10 holders/,
      ],
      [{ ...base, secureAggregation: { maxGroup: 256 } }, /secureAggregation\.maxGroup/],
      [{ ...base, secureAggregation: { minSurvivors: 2 } }, /secureAggregation\.minSurvivors/],
      [{ ...base, secureAggregation: { stageTimeoutMs: 60_000 } }, /secureAggregation\.stageTimeoutMs/],
    ];
    for (const [input, message] of cases) {
      const parsed = parseOrError(RunConfigSchema, input);
      expect(parsed.ok, String(message)).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(message);
    }
  });
});

describe('RunConfigSchema: what a caller cannot get wrong silently', () => {
  it('refuses misspelt keys at every level, naming the allowed ones, instead of starting with defaults', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...base, perround: 4 }, /^\(root\): unknown key "perround"; allowed: name, algorithm, model, scenario, rounds, perRound/],
      [{ ...base, roundDeadlineMS: 1000 }, /unknown key "roundDeadlineMS"; allowed: .*roundDeadlineMs/],
      [{ ...base, client: { innerlr: 0.1 } }, /^client: unknown key "innerlr"; allowed: batchSize, lr, .*innerLr/],
      [{ ...base, server: { kind: 'sgd', momentum: 0.9 } }, /^server: unknown key "momentum"; allowed: kind, lr$/],
      [{ ...base, model: { ...MNIST_MLP, hiden: [10] } }, /^model: unknown key "hiden"/],
      [{ ...base, scenario: { name: 'iid', participants: 10, heldout: 2 } }, /^scenario: unknown key "heldout"/],
    ];
    for (const [input, message] of cases) {
      const parsed = parseOrError(RunConfigSchema, input);
      expect(parsed.ok, String(message)).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(message);
    }
  });

  it('bounds minParticipants without perRound', () => {
    const { perRound: _, ...withoutPerRound } = base;
    const parsed = parseOrError(RunConfigSchema, { ...withoutPerRound, minParticipants: 1e9 });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/^minParticipants: .*100000/);
    expect(parseOrError(RunConfigSchema, { ...withoutPerRound, minParticipants: 100_000 }).ok).toBe(true);
  });
});

describe('ScenarioSpecSchema: one definition of a buildable scenario', () => {
  it('refuses what the scenario resolver would refuse, with its reason', () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 'shards', participants: 5, heldOut: 20 }, /heldOut must be an integer in \[0, 5\], got 20/],
      [{ name: 'iid', participants: 3334 }, /an MNIST scenario holds at most 3333 participants/],
      [{ name: 'sinusoid', participants: 10, kShot: 0 }, /kShot/],
      [{ name: 'shards', participants: 10, heldOut: 2, validation: 9 }, /validation must be an integer in \[0, 8\]/],
      [{ name: 'iid', participants: 2000, supportShots: 4 }, /supportShots 4 needs at least 6 digits per participant/],
      [{ name: 'sinusoid', participants: 10, supportShots: 4 }, /supportShots is for the MNIST scenarios/],
      [{ name: 'rotated', participants: 10, freshPoints: true }, /freshPoints is for the sinusoid scenario/],
    ];
    for (const [input, message] of cases) {
      const parsed = parseOrError(ScenarioSpecSchema, input);
      expect(parsed.ok, String(message)).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(message);
    }
    // The same refusal inside a run config.
    const run = parseOrError(RunConfigSchema, { ...base, scenario: { name: 'shards', participants: 5, heldOut: 20 } });
    expect(run.ok).toBe(false);
  });

  it('every scenario it accepts can be built, up to its largest sizes', () => {
    const mnist = loadMnist();
    const rng = createRng(7);
    const specs: unknown[] = [
      ...(['iid', 'shards', 'dirichlet', 'rotated'] as const).flatMap((name) => [
        { name, participants: MAX_MNIST_PARTICIPANTS, heldOut: MAX_MNIST_PARTICIPANTS },
        // The most shots the asset allows: one participant holding every digit (shards: its two labels).
        { name, participants: 1, heldOut: 0, validation: 1, supportShots: 1000 },
        { name, participants: 1000, heldOut: 100, validation: 900, supportShots: 8 },
      ]),
      { name: 'sinusoid', participants: 10_000, heldOut: 10_000, kShot: 1000 },
      { name: 'sinusoid', participants: 10_000, heldOut: 5000, validation: 5000, kShot: 1000, freshPoints: true },
    ];
    // The largest sizes must all be accepted (and built, below).
    for (const input of specs) expect(ScenarioSpecSchema.safeParse(input).success, JSON.stringify(input)).toBe(true);
    for (let i = 0; i < 100; i++) {
      const name = SCENARIOS[Math.floor(rng.next() * SCENARIOS.length)]!;
      const participants = 1 + Math.floor(rng.next() * (name === 'sinusoid' ? 10_000 : 4000));
      const heldOut = Math.floor(rng.next() * participants * 1.2);
      // Each option sometimes, each sometimes out of range (or for the wrong scenario), so both answers occur.
      const maybe = <T>(value: () => T): T | undefined => (rng.next() < 0.5 ? value() : undefined);
      specs.push({
        name,
        participants,
        seed: i,
        heldOut,
        dirichletAlpha: 0.01 + rng.next() * 5,
        kShot: 1 + Math.floor(rng.next() * 50),
        validation: maybe(() => Math.floor(rng.next() * Math.max(1, participants - heldOut) * 1.2)),
        supportShots: maybe(() => 1 + Math.floor(rng.next() * (rng.next() < 0.5 ? 10 : 1000))),
        freshPoints: maybe(() => name === 'sinusoid' || rng.next() < 0.3),
      });
    }
    let accepted = 0;
    const acceptedWith = { validation: 0, supportShots: 0, freshPoints: 0 };
    for (const input of specs) {
      const parsed = ScenarioSpecSchema.safeParse(input);
      if (!parsed.success) continue;
      accepted++;
      if (parsed.data.validation) acceptedWith.validation++;
      if (parsed.data.supportShots !== undefined) acceptedWith.supportShots++;
      if (parsed.data.freshPoints) acceptedWith.freshPoints++;
      const scenario = createScenario(parsed.data, mnist);
      const ends = [0, scenario.participants - 1];
      for (const index of [...ends, ...scenario.validation.slice(0, 1), ...scenario.heldOut.slice(-1)]) {
        const data = scenario.participant(index);
        expect(data.heldOut).toBe(isHeldOut(parsed.data, index));
        expect(data.validation).toBe(isValidation(parsed.data, index));
        if (parsed.data.supportShots !== undefined) expect(data.support.count).toBe(parsed.data.supportShots);
        if (parsed.data.freshPoints) expect(data.trainingData!(1).support.count).toBe(data.support.count);
      }
    }
    expect(accepted).toBeGreaterThan(20);
    for (const count of Object.values(acceptedWith)) expect(count).toBeGreaterThan(3);
  });
});
