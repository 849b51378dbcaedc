import { describe, expect, it } from 'vitest';
import { MNIST_MLP } from './model/spec.js';
import { MAX_HELD_VALUES, RunConfigSchema, parseOrError, type RunConfigInput } from './protocol.js';
import { strategyFor } from './round-task.js';

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
      [{ ...base, perRound: 4000, aggregation: { kind: 'median' } }, /aggregation: median would hold 4000 deltas of 79510 parameters \(1\.2 GiB\)/],
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
