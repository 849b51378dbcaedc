import { describe, expect, it } from 'vitest';
import { describeData, describeReliability } from './participants-table.js';

describe('describeData', () => {
  it('names the scenario a shard belongs to, so a user sees why a scenario run does not select a tab', () => {
    const scenario = { name: 'rotated' as const, participants: 24, seed: 2 };
    expect(describeData({ dataSource: 'assigned', scenario, assignedIndex: 5, heldOut: false, validation: false })).toBe(
      'rotated × 24 (seed 2) #5',
    );
    expect(describeData({ dataSource: 'assigned', scenario, assignedIndex: 7, heldOut: true, validation: false })).toBe(
      'rotated × 24 (seed 2) #7 (held out)',
    );
    expect(describeData({ dataSource: 'assigned', scenario: null, assignedIndex: null, heldOut: false, validation: false })).toBe(
      'unassigned',
    );
    expect(describeData({ dataSource: 'own', scenario: null, assignedIndex: null, heldOut: false, validation: false })).toBe('own digits');
    expect(describeData({ dataSource: 'assigned', scenario, assignedIndex: 3, heldOut: false, validation: true })).toBe(
      'rotated × 24 (seed 2) #3 (validation: takes part in no run)',
    );
  });
});

describe('describeReliability', () => {
  it('says how many rounds a participant answered of those it was sent, and how many it let pass in a row', () => {
    expect(describeReliability({ selected: 0, answered: 0, missStreak: 0 })).toBe('–');
    expect(describeReliability({ selected: 7, answered: 7, missStreak: 0 })).toBe('7 of 7');
    expect(describeReliability({ selected: 9, answered: 5, missStreak: 3 })).toBe('5 of 9 · missed the last 3');
  });
});
