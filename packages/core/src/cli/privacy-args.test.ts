import { describe, expect, it } from 'vitest';
import { privacySpent } from '../privacy/epsilon.js';
import { parsePrivacyArgs, type PrivacyCommand } from './privacy-args.js';
import { privacyReport } from './privacy-report.js';

function command(argv: string[]): Exclude<PrivacyCommand, { kind: 'help' }> {
  const parsed = parsePrivacyArgs(argv);
  if (!parsed.ok) throw new Error(parsed.error);
  if (parsed.command.kind === 'help') throw new Error('help');
  return parsed.command;
}

describe('parsePrivacyArgs', () => {
  it('picks the question from the flags that are there', () => {
    const base = ['--sampling-rate', '0.01', '--delta', '1e-5'];
    expect(command([...base, '--noise-multiplier', '1', '--rounds', '100'])).toMatchObject({
      kind: 'epsilon',
      noiseMultiplier: 1,
      rounds: 100,
    });
    expect(command([...base, '--rounds', '100', '--epsilon', '2'])).toMatchObject({ kind: 'noise', rounds: 100, budget: 2 });
    expect(command([...base, '--noise-multiplier', '1', '--epsilon', '2'])).toMatchObject({
      kind: 'rounds',
      noiseMultiplier: 1,
      budget: 2,
    });
    expect(command([...base, '--noise-multiplier', '1', '--rounds', '5', '--epsilon', '2'])).toMatchObject({ kind: 'epsilon', budget: 2 });
    expect(parsePrivacyArgs(['--help'])).toEqual({ ok: true, command: { kind: 'help' } });
  });

  it('takes q as expected participants per round over the pool', () => {
    const c = command([
      '--expected-per-round',
      '25',
      '--participants',
      '950',
      '--noise-multiplier',
      '1',
      '--rounds',
      '3',
      '--delta',
      '1e-4',
    ]);
    expect(c.sampling).toEqual({ rate: 25 / 950, expectedPerRound: 25, participants: 950 });
  });

  it.each([
    [['--noise-multiplier', '1', '--rounds', '3', '--delta', '1e-5'], /sampling rate is missing/],
    [['--sampling-rate', '0.1', '--participants', '10', '--noise-multiplier', '1', '--rounds', '3', '--delta', '1e-5'], /not both/],
    [['--expected-per-round', '5', '--noise-multiplier', '1', '--rounds', '3', '--delta', '1e-5'], /go together/],
    [
      ['--expected-per-round', '50', '--participants', '10', '--noise-multiplier', '1', '--rounds', '3', '--delta', '1e-5'],
      /between 0 and/,
    ],
    [['--expected-per-round', '5', '--participants', '10.5', '--noise-multiplier', '1', '--rounds', '3', '--delta', '1e-5'], /integer/],
    [['--sampling-rate', '1.5', '--noise-multiplier', '1', '--rounds', '3', '--delta', '1e-5'], /--sampling-rate: .*\[0, 1\]/],
    [['--sampling-rate', 'abc', '--noise-multiplier', '1', '--rounds', '3', '--delta', '1e-5'], /needs a number/],
    [['--sampling-rate', '0.1', '--noise-multiplier', '-1', '--rounds', '3', '--delta', '1e-5'], /--noise-multiplier/],
    [['--sampling-rate', '0.1', '--noise-multiplier', '1', '--rounds', '2.5', '--delta', '1e-5'], /--rounds: .*integer/],
    [['--sampling-rate', '0.1', '--noise-multiplier', '1', '--rounds', '3'], /--delta is missing/],
    [['--sampling-rate', '0.1', '--noise-multiplier', '1', '--rounds', '3', '--delta', '1'], /--delta: /],
    [['--sampling-rate', '0.1', '--noise-multiplier', '1', '--delta', '1e-5'], /--rounds is missing/],
    [['--sampling-rate', '0.1', '--delta', '1e-5', '--epsilon', '1'], /give --rounds .* or --noise-multiplier/],
    [['--sampling-rate', '0.1', '--noise-multiplier', '1', '--rounds', '3', '--delta', '1e-5', '--orders', 'odd'], /unknown --orders/],
    [['--sampling-rate', '0.1', '--frobnicate'], /Unknown option/],
  ])('refuses %j with a usage error', (argv, message) => {
    const parsed = parsePrivacyArgs(argv);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(message);
  });
});

describe('privacyReport', () => {
  it('prints ε with its best order, and the budget stop of privacy.md §3.5', () => {
    const eps = privacyReport(
      command(['--sampling-rate', '0.01', '--noise-multiplier', '1', '--rounds', '879', '--delta', '1e-5', '--orders', 'integer']),
    );
    expect(eps.lines[0]).toBe('after 879 rounds at q = 0.01, z = 1, δ = 1e-5: ε = 1.99962 (best Rényi order 8)');
    const rounds = privacyReport(
      command(['--sampling-rate', '0.01', '--noise-multiplier', '1', '--delta', '1e-5', '--epsilon', '2', '--orders', 'integer']),
    );
    expect(rounds.json).toMatchObject({ rounds: 879 });
    expect(rounds.lines.join('\n')).toMatch(/879 rounds fit within ε ≤ 2[\s\S]*round 880 would reach ε = 2\.00052/);
  });

  it('rounds the noise multiplier up, so the printed value still meets the budget', () => {
    const report = privacyReport(command(['--sampling-rate', '0.01', '--rounds', '1000', '--delta', '1e-5', '--epsilon', '2']));
    const z = report.json.noiseMultiplier as number;
    expect(z).toBeGreaterThanOrEqual(report.json.noiseMultiplierExact as number);
    expect(privacySpent({ samplingRate: 0.01, noiseMultiplier: z, rounds: 1000, delta: 1e-5 }).epsilon).toBeLessThanOrEqual(2);
    expect(report.lines[0]).toMatch(new RegExp(`^noise multiplier z = ${z} `));
  });

  it('warns when the best order is at the edge of the orders', () => {
    const report = privacyReport(command(['--sampling-rate', '1', '--noise-multiplier', '0.05', '--rounds', '1000', '--delta', '1e-5']));
    expect(report.json).toMatchObject({ order: 1.1, orderAtEdge: true });
    expect(report.lines.at(-1)).toMatch(/^warning: the best Rényi order \(1\.1\) is the smallest one tried/);
  });
});
