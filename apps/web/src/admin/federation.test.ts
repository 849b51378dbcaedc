import { describe, expect, it } from 'vitest';
import { federationOf, sharedPartText } from './federation.js';

describe('the shared part of a run, on the dashboard', () => {
  it('names the federated body and the head each participant keeps, with the hub’s counts', () => {
    // Prepare: the hub's answer for a fedrep run of the sinusoid MLP (1-40-40-1) and a two-layer head.
    const hub = { id: 'run-1', sharedParameters: 80, headParameters: 1681, headLayers: 2, rounds: [] };
    // Execute
    const text = sharedPartText(federationOf(hub));
    // Assert
    expect(text).toBe('body: 80 parameters federated; head: last 2 layers, 1,681 parameters, kept by each participant');
    expect(sharedPartText(federationOf({ sharedParameters: 1720, headParameters: 41, headLayers: 1 }))).toBe(
      'body: 1,720 parameters federated; head: last 1 layer, 41 parameters, kept by each participant',
    );
  });

  it('says nothing for a run that shares the whole model, or when the hub gives no counts', () => {
    expect(sharedPartText(federationOf({ sharedParameters: 1761, headParameters: 0, headLayers: 0 }))).toBeNull();
    expect(sharedPartText(federationOf({ id: 'run-from-an-older-hub' }))).toBeNull();
    expect(federationOf({ sharedParameters: '80', headParameters: 1681, headLayers: 2 })).toBeNull();
  });
});
