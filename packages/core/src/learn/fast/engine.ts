import { clientUpdate, type ClientUpdateInput, type ClientUpdateResult } from '../client-update.js';
import { adaptationCurve } from '../evaluate.js';
import { fastAdaptationCurve } from './fast-adaptation-curve.js';
import { fastClientUpdate, fastEngineSupports } from './fast-client-update.js';

/** How the simulation computes client updates and evaluations: TF.js, as a tab does, or the plain-JS engine of this folder. */
export const ENGINES = ['tfjs', 'fast'] as const;
export type Engine = (typeof ENGINES)[number];

/** The engine's client update: 'fast' runs fastClientUpdate where it computes the same update, and TF.js elsewhere. */
export function clientUpdateFor(engine: Engine): (input: ClientUpdateInput) => Promise<ClientUpdateResult> {
  switch (engine) {
    case 'tfjs':
      return clientUpdate;
    case 'fast':
      return (input) => (fastEngineSupports(input.spec, input.algorithm) ? fastClientUpdate(input) : clientUpdate(input));
    default: {
      const unknown: never = engine;
      throw new Error(`unknown engine ${String(unknown)}`);
    }
  }
}

/** The engine's adaptation curve (evaluation and meta-test): 'fast' computes MLPs' in plain JS, TF.js the rest. */
export function adaptationCurveFor(engine: Engine): typeof adaptationCurve {
  switch (engine) {
    case 'tfjs':
      return adaptationCurve;
    case 'fast':
      return (spec, ...rest) => (spec.kind === 'mlp' ? fastAdaptationCurve(spec, ...rest) : adaptationCurve(spec, ...rest));
    default: {
      const unknown: never = engine;
      throw new Error(`unknown engine ${String(unknown)}`);
    }
  }
}
