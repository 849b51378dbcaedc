import type { Assignment } from '../protocol.js';

/** Whether two assignments name the same shard: the same participant of the same seeded scenario. */
export function sameAssignment(a: Assignment | null | undefined, b: Assignment | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  const s = a.scenario;
  const t = b.scenario;
  return (
    a.index === b.index &&
    s.name === t.name &&
    s.participants === t.participants &&
    s.seed === t.seed &&
    s.heldOut === t.heldOut &&
    s.dirichletAlpha === t.dirichletAlpha &&
    s.kShot === t.kShot
  );
}
