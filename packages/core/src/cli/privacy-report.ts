// Answers a parsed `npm run privacy` command with the accountant: a few sentences for people, or one JSON object.
import { privacySpent, type PrivacySpent } from '../privacy/epsilon.js';
import { DEFAULT_RDP_ORDERS, INTEGER_RDP_ORDERS } from '../privacy/orders.js';
import { noiseMultiplierForBudget, roundsWithinBudget } from '../privacy/plan.js';
import type { OrderSet, PrivacyCommand, Sampling } from './privacy-args.js';

export interface PrivacyReport {
  /** What to print, one line each. */
  lines: string[];
  /** The same answer as data (JSON turns ∞ into null). */
  json: Record<string, unknown>;
}

const ORDERS: Record<OrderSet, readonly number[]> = { default: DEFAULT_RDP_ORDERS, integer: INTEGER_RDP_ORDERS };

/** A number for people: 6 significant digits, exponent form when tiny or huge, ∞. */
export function formatNumber(x: number): string {
  if (x === Number.POSITIVE_INFINITY) return '∞';
  if (x === 0 || !Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  if (abs < 1e-3 || abs >= 1e9) return Number(x.toPrecision(6)).toExponential();
  return String(Number(x.toPrecision(6)));
}

/** z rounded up to 5 significant digits, so that the printed value still meets the budget. */
function roundUp(z: number): number {
  if (z === 0) return 0;
  const step = 10 ** (Math.floor(Math.log10(z)) - 4);
  return Number((Math.ceil(z / step) * step).toPrecision(5));
}

function describeSampling(s: Sampling): string {
  return s.participants !== undefined
    ? `q = ${s.expectedPerRound}/${s.participants} = ${formatNumber(s.rate)}`
    : `q = ${formatNumber(s.rate)}`;
}

function samplingJson(s: Sampling): Record<string, unknown> {
  return {
    samplingRate: s.rate,
    ...(s.participants !== undefined ? { expectedPerRound: s.expectedPerRound, participants: s.participants } : {}),
  };
}

function spentJson(spent: PrivacySpent): Record<string, unknown> {
  return { epsilon: spent.epsilon, delta: spent.delta, order: spent.order, orderAtEdge: spent.orderAtEdge };
}

function edgeWarning(spent: PrivacySpent, orders: readonly number[]): string[] {
  if (!spent.orderAtEdge || spent.order === null) return [];
  const which = spent.order === Math.min(...orders) ? 'smallest' : 'largest';
  return [
    `warning: the best Rényi order (${spent.order}) is the ${which} one tried, so ε may be loose: the optimum lies outside the orders`,
  ];
}

/** "ε = 1.99962 (best Rényi order 8)", "ε = 0" or "ε = ∞". */
function describeSpent(spent: PrivacySpent): string {
  return `ε = ${formatNumber(spent.epsilon)}${spent.order !== null && spent.epsilon > 0 ? ` (best Rényi order ${spent.order})` : ''}`;
}

/** Runs the accountant for one command. Throws PrivacyParameterError when a search has no answer in range. */
export function privacyReport(command: Exclude<PrivacyCommand, { kind: 'help' }>): PrivacyReport {
  const orders = ORDERS[command.orders];
  const q = command.sampling.rate;
  const delta = command.delta;
  const base = { mode: command.kind, ...samplingJson(command.sampling), orders: command.orders };
  switch (command.kind) {
    case 'epsilon': {
      const { noiseMultiplier: z, rounds, budget } = command;
      const spent = privacySpent({ samplingRate: q, noiseMultiplier: z, rounds, delta, orders });
      const within = budget === undefined ? undefined : spent.epsilon <= budget;
      const lines = [
        `after ${rounds} round${rounds === 1 ? '' : 's'} at ${describeSampling(command.sampling)}, z = ${z}, δ = ${formatNumber(delta)}: ${describeSpent(spent)}`,
        ...(spent.epsilon === Number.POSITIVE_INFINITY
          ? ['no finite guarantee: without noise (z = 0) a round can reveal a participant']
          : []),
        ...(budget === undefined ? [] : [`${within ? 'within' : 'over'} the budget ε ≤ ${budget}`]),
        ...edgeWarning(spent, orders),
      ];
      return {
        lines,
        json: {
          ...base,
          noiseMultiplier: z,
          rounds,
          ...spentJson(spent),
          ...(budget === undefined ? {} : { budget, withinBudget: within }),
        },
      };
    }
    case 'noise': {
      const { rounds, budget } = command;
      const plan = noiseMultiplierForBudget({ samplingRate: q, rounds, delta, epsilon: budget, orders });
      let z = roundUp(plan.noiseMultiplier);
      let spent = privacySpent({ samplingRate: q, noiseMultiplier: z, rounds, delta, orders });
      if (spent.epsilon > budget) {
        // Only if rounding to 5 digits met a float edge: one more step up.
        z = roundUp(z * (1 + 1e-4));
        spent = privacySpent({ samplingRate: q, noiseMultiplier: z, rounds, delta, orders });
      }
      const lines =
        q === 0 || rounds === 0
          ? [`noise multiplier z = 0: ${q === 0 ? 'nobody is sampled' : 'no round runs'}, so nothing is released and ε = 0`]
          : [
              `noise multiplier z = ${z} (the smallest, rounded up) keeps ${rounds} round${rounds === 1 ? '' : 's'} at ${describeSampling(command.sampling)} within ε ≤ ${budget}, δ = ${formatNumber(delta)}`,
              `at z = ${z}: ${describeSpent(spent)}`,
              ...edgeWarning(spent, orders),
            ];
      return {
        lines,
        json: { ...base, noiseMultiplier: z, noiseMultiplierExact: plan.noiseMultiplier, rounds, budget, ...spentJson(spent) },
      };
    }
    case 'rounds': {
      const { noiseMultiplier: z, budget } = command;
      const plan = roundsWithinBudget({ samplingRate: q, noiseMultiplier: z, delta, epsilon: budget, orders });
      const setting = `at ${describeSampling(command.sampling)}, z = ${z}, δ = ${formatNumber(delta)}`;
      let lines: string[];
      if (plan.rounds === Number.POSITIVE_INFINITY)
        lines = [
          q === 0
            ? `any number of rounds fits within ε ≤ ${budget}: nobody is sampled (q = 0)`
            : `more than 2^52 rounds fit within ε ≤ ${budget} ${setting}`,
        ];
      else if (plan.rounds === 0)
        lines = [`no round fits within ε ≤ ${budget} ${setting}: one round already costs ${describeSpent(plan.next!)}`];
      else
        lines = [
          `${plan.rounds} round${plan.rounds === 1 ? '' : 's'} fit within ε ≤ ${budget} ${setting}`,
          `after round ${plan.rounds}: ${describeSpent(plan.spent)}; round ${plan.rounds + 1} would reach ${describeSpent(plan.next!)}`,
          ...edgeWarning(plan.spent, orders),
        ];
      return {
        lines,
        json: {
          ...base,
          noiseMultiplier: z,
          budget,
          rounds: plan.rounds,
          ...spentJson(plan.spent),
          nextRoundEpsilon: plan.next?.epsilon ?? null,
        },
      };
    }
    default: {
      const unreachable: never = command;
      return unreachable;
    }
  }
}
