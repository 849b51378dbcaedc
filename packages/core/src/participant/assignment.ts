import type { Assignment, ScenarioSpec } from '../protocol.js';

// Every field of a scenario, so a new one cannot be forgotten here (the type demands it): two scenarios that differ
// in any field hold different data.
const SCENARIO_FIELDS: Record<keyof ScenarioSpec, true> = {
  name: true,
  participants: true,
  seed: true,
  heldOut: true,
  validation: true,
  dirichletAlpha: true,
  supportShots: true,
  labelPermutations: true,
  kShot: true,
  freshPoints: true,
};

/** A string that is equal for two scenario specs exactly when they name the same seeded data. */
export function scenarioKey(s: ScenarioSpec): string {
  return JSON.stringify(Object.keys(SCENARIO_FIELDS).map((field) => s[field as keyof ScenarioSpec] ?? null));
}

/** Whether two assignments name the same shard: the same participant of the same seeded scenario. */
export function sameAssignment(a: Assignment | null | undefined, b: Assignment | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.index === b.index && scenarioKey(a.scenario) === scenarioKey(b.scenario);
}
