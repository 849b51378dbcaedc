import { describe, expect, it } from 'vitest';
import type { Assignment } from '../protocol.js';
import { sameAssignment } from './assignment.js';

const shard: Assignment = { scenario: { name: 'dirichlet', participants: 8, seed: 1, dirichletAlpha: 0.5 }, index: 3 };

describe('sameAssignment', () => {
  it('is true for the same participant of an equal scenario, and false when any part differs', () => {
    expect(sameAssignment(shard, { scenario: { ...shard.scenario }, index: 3 })).toBe(true);
    expect(sameAssignment(shard, { ...shard, index: 4 })).toBe(false);
    expect(sameAssignment(shard, { scenario: { ...shard.scenario, seed: 2 }, index: 3 })).toBe(false);
    expect(sameAssignment(shard, { scenario: { ...shard.scenario, dirichletAlpha: 1 }, index: 3 })).toBe(false);
    expect(sameAssignment(shard, { scenario: { ...shard.scenario, heldOut: 1 }, index: 3 })).toBe(false);
    expect(sameAssignment(shard, { scenario: { ...shard.scenario, validation: 1 }, index: 3 })).toBe(false);
    expect(sameAssignment(shard, { scenario: { ...shard.scenario, supportShots: 5 }, index: 3 })).toBe(false);
    expect(sameAssignment(shard, { scenario: { ...shard.scenario, freshPoints: true }, index: 3 })).toBe(false);
  });

  it('treats no shard as equal only to no shard', () => {
    expect(sameAssignment(null, undefined)).toBe(true);
    expect(sameAssignment(null, shard)).toBe(false);
    expect(sameAssignment(shard, null)).toBe(false);
  });
});
