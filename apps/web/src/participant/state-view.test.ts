import { describe, expect, it } from 'vitest';
import { describeStatus } from './state-view.js';

describe('describeStatus', () => {
  it('starts with the state and gives the details a person needs', () => {
    expect(describeStatus({ state: 'training', round: 2, step: 3, totalSteps: 10 })).toBe('training: step 3 of 10 (round 2)');
    expect(describeStatus({ state: 'waiting' })).toBe('waiting: for a round');
    expect(describeStatus({ state: 'error', message: 'hub refused', round: 4 })).toBe('error: hub refused (round 4)');
    expect(describeStatus({ state: 'connecting', message: 'retrying' })).toMatch(/^connecting: .*retrying$/);
  });

  it('says a secure run masks the update, and which of the four stages the hub asked for', () => {
    expect(describeStatus({ state: 'uploading', round: 3, secureStage: 'waiting' })).toBe(
      'secure aggregation: your update is masked — waiting for the hub to gather the group (round 3)',
    );
    expect(describeStatus({ state: 'uploading', round: 3, secureStage: 'mask' })).toBe(
      'secure aggregation: your update is masked — stage 3 of 4, sending the masked update (round 3)',
    );
    expect(describeStatus({ state: 'uploading', round: 3 })).toBe('uploading: the update (round 3)');
  });
});
