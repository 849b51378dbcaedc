// The command line of `npm run privacy`, parsed into one of three questions for the accountant (what ε do these
// settings cost; what noise multiplier meets a budget; how many rounds fit in it). Pure, so it is tested directly;
// privacy.ts does the printing and the exit codes.
import { parseArgs } from 'node:util';
import {
  checkDelta,
  checkEpsilon,
  checkNoiseMultiplier,
  checkRounds,
  checkSamplingRate,
  PrivacyParameterError,
} from '../privacy/params.js';

export const ORDER_SETS = ['default', 'integer'] as const;
export type OrderSet = (typeof ORDER_SETS)[number];

/** Where q came from: given directly, or as expected participants per round over the pool. */
export interface Sampling {
  rate: number;
  expectedPerRound?: number;
  participants?: number;
}

interface Common {
  sampling: Sampling;
  delta: number;
  orders: OrderSet;
  json: boolean;
}

export type PrivacyCommand =
  | { kind: 'help' }
  /** ε after `rounds` rounds; with `budget`, also whether it fits. */
  | (Common & { kind: 'epsilon'; noiseMultiplier: number; rounds: number; budget?: number })
  /** The smallest noise multiplier for `rounds` rounds within `budget`. */
  | (Common & { kind: 'noise'; rounds: number; budget: number })
  /** The most rounds within `budget` at `noiseMultiplier`. */
  | (Common & { kind: 'rounds'; noiseMultiplier: number; budget: number });

export type ParsedPrivacyArgs = { ok: true; command: PrivacyCommand } | { ok: false; error: string };

export const PRIVACY_HELP = `Usage: npm run privacy -- [options]

The privacy cost of a DP-FedAvg run (Poisson sampling rate q, Gaussian noise multiplier z, T rounds), from the
RDP accountant in packages/core/src/privacy: Rényi DP of the subsampled Gaussian, converted to (ε, δ).

  ε of a planned run:           --sampling-rate Q --noise-multiplier Z --rounds T --delta D
  smallest noise for a budget:  --sampling-rate Q --rounds T --delta D --epsilon E
  most rounds within a budget:  --sampling-rate Q --noise-multiplier Z --delta D --epsilon E
  (with all of Z, T and E: ε, and whether it stays within E)

Options:
  --sampling-rate Q        each participant's chance of being in a round, in [0, 1]
  --expected-per-round N   instead of --sampling-rate: q = N / M, with
  --participants M         M the number of participants that could be sampled
  --noise-multiplier Z     noise standard deviation over the clipping norm, ≥ 0
  --rounds T               rounds, an integer ≥ 0
  --delta D                δ in (0, 1), well below 1/M (e.g. 1e-5)
  --epsilon E              the ε budget
  --orders NAME            default: 1.1, 1.2, …, 10.9, 11, …, 63, 128, 256, 512, 1024 (dp_accounting's);
                           integer: 2, 3, …, 256                                        [default]
  --json                   print one JSON object instead of sentences (∞ prints as null)
  -h, --help               this text
`;

class UsageError extends Error {}

function usage(message: string): never {
  throw new UsageError(message);
}

/** A number from a flag's text, or a usage error naming the flag. */
function numberFrom(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) usage(`--${flag} needs a number, got "${text}"`);
  return n;
}

/** Runs one of the accountant's checks, naming the flag in its message. */
function checked(check: (value: number) => number, value: number, flag: string): number {
  try {
    return check(value);
  } catch (error) {
    if (error instanceof PrivacyParameterError) usage(`--${flag}: ${error.message}`);
    throw error;
  }
}

function samplingFrom(v: { 'sampling-rate'?: string; 'expected-per-round'?: string; participants?: string }): Sampling {
  const rate = v['sampling-rate'];
  const perRound = v['expected-per-round'];
  const pool = v.participants;
  if (rate !== undefined) {
    if (perRound !== undefined || pool !== undefined)
      usage('give either --sampling-rate or --expected-per-round with --participants, not both');
    return { rate: checked(checkSamplingRate, numberFrom(rate, 'sampling-rate'), 'sampling-rate') };
  }
  if (perRound === undefined && pool === undefined)
    usage('the sampling rate is missing: give --sampling-rate Q or --expected-per-round N --participants M');
  if (perRound === undefined || pool === undefined) usage('--expected-per-round and --participants go together (q = N / M)');
  const participants = numberFrom(pool, 'participants');
  if (!Number.isSafeInteger(participants) || participants < 1) usage(`--participants must be an integer ≥ 1, got ${pool}`);
  const expectedPerRound = numberFrom(perRound, 'expected-per-round');
  if (expectedPerRound < 0 || expectedPerRound > participants)
    usage(`--expected-per-round must be between 0 and --participants (${participants}), got ${perRound}`);
  return { rate: expectedPerRound / participants, expectedPerRound, participants };
}

function parseOrThrow(argv: readonly string[]): PrivacyCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        'sampling-rate': { type: 'string' },
        'expected-per-round': { type: 'string' },
        participants: { type: 'string' },
        'noise-multiplier': { type: 'string' },
        rounds: { type: 'string' },
        delta: { type: 'string' },
        epsilon: { type: 'string' },
        orders: { type: 'string', default: 'default' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error));
  }
  const v = parsed.values;
  if (v.help) return { kind: 'help' };

  const sampling = samplingFrom(v);
  if (v.delta === undefined) usage('--delta is missing (the δ of the (ε, δ) guarantee, e.g. 1e-5)');
  const delta = checked(checkDelta, numberFrom(v.delta, 'delta'), 'delta');
  const orders = v.orders as OrderSet;
  if (!ORDER_SETS.includes(orders)) usage(`unknown --orders "${v.orders}" (${ORDER_SETS.join(' or ')})`);
  const common: Common = { sampling, delta, orders, json: v.json };
  const z =
    v['noise-multiplier'] === undefined
      ? undefined
      : checked(checkNoiseMultiplier, numberFrom(v['noise-multiplier'], 'noise-multiplier'), 'noise-multiplier');
  const rounds = v.rounds === undefined ? undefined : checked(checkRounds, numberFrom(v.rounds, 'rounds'), 'rounds');
  const budget = v.epsilon === undefined ? undefined : checked(checkEpsilon, numberFrom(v.epsilon, 'epsilon'), 'epsilon');

  if (z !== undefined && rounds !== undefined)
    return { ...common, kind: 'epsilon', noiseMultiplier: z, rounds, ...(budget !== undefined ? { budget } : {}) };
  if (budget === undefined) usage(`--${z === undefined ? 'noise-multiplier' : 'rounds'} is missing (or give --epsilon E to search for it)`);
  if (z === undefined) {
    if (rounds === undefined)
      usage('with --epsilon, give --rounds (to find the noise multiplier) or --noise-multiplier (to find the rounds)');
    return { ...common, kind: 'noise', rounds, budget };
  }
  return { ...common, kind: 'rounds', noiseMultiplier: z, budget };
}

/** Parses `npm run privacy` arguments; a usage error comes back as a sentence, never as an exception. */
export function parsePrivacyArgs(argv: readonly string[]): ParsedPrivacyArgs {
  try {
    return { ok: true, command: parseOrThrow(argv) };
  } catch (error) {
    if (error instanceof UsageError) return { ok: false, error: error.message };
    throw error;
  }
}
