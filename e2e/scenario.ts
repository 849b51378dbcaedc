import { createScenario, type ScenarioConfig } from '../packages/core/src/data/scenario.js';
import { loadMnist } from '../packages/core/src/data/mnist-node.js';

/** The first `count` participant indices of a scenario that are not held out (they train). */
export function trainerIndices(config: ScenarioConfig, count: number): number[] {
  const heldOut = new Set(createScenario(config, config.name === 'sinusoid' ? undefined : loadMnist()).heldOut);
  const indices = Array.from({ length: config.participants }, (_, i) => i).filter((i) => !heldOut.has(i));
  if (indices.length < count) throw new Error(`scenario has only ${indices.length} trainers`);
  return indices.slice(0, count);
}

/** Held-out (meta-test) participant indices of a scenario. */
export function heldOutIndices(config: ScenarioConfig): number[] {
  return [...createScenario(config, config.name === 'sinusoid' ? undefined : loadMnist()).heldOut];
}

export function shardUrl(config: { name: string; participants: number; seed?: number }, index: number, extra = ''): string {
  return `/?scenario=${config.name}&participants=${config.participants}&seed=${config.seed ?? 1}&participant=${index}${extra}`;
}
