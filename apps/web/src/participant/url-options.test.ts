import { describe, expect, it } from 'vitest';
import { parseUrlOptions } from './url-options.js';

describe('parseUrlOptions', () => {
  it('reads an assigned shard with defaults', () => {
    const options = parseUrlOptions('?scenario=shards&participants=6&participant=2');
    expect(options.errors).toEqual([]);
    expect(options.shard?.index).toBe(2);
    expect(options.shard?.scenario).toMatchObject({ name: 'shards', participants: 6, seed: 1 });
    expect(options.backend).toBeNull();
  });

  it('honours seed and backend', () => {
    const options = parseUrlOptions('?backend=wasm&scenario=rotated&participants=10&participant=0&seed=7');
    expect(options.backend).toBe('wasm');
    expect(options.shard?.scenario.seed).toBe(7);
  });

  it('reads the few-shot, label-permutation, validation and fresh-point fields by their scenario names', () => {
    const digits = parseUrlOptions('?scenario=iid&participants=20&participant=3&supportShots=50&labelPermutations=4&validation=2');
    const sines = parseUrlOptions('?scenario=sinusoid&participants=20&participant=1&freshPoints=1');
    expect(digits.shard?.scenario).toMatchObject({ name: 'iid', supportShots: 50, labelPermutations: 4, validation: 2 });
    expect(sines.shard?.scenario).toMatchObject({ name: 'sinusoid', freshPoints: true });
    expect(parseUrlOptions('?scenario=sinusoid&participants=20&participant=1&freshPoints=0').shard?.scenario.freshPoints).toBe(false);
    // The scenario's own refusals reach the page.
    expect(parseUrlOptions('?scenario=sinusoid&participants=20&participant=1&labelPermutations=2').errors[0]).toMatch(
      /labelPermutations is for the MNIST scenarios/,
    );
  });

  it('explains bad parameters and ignores them', () => {
    const options = parseUrlOptions('?backend=metal&scenario=shards&participants=6&participant=6');
    expect(options.backend).toBeNull();
    expect(options.shard).toBeNull();
    expect(options.errors).toHaveLength(2);
    expect(options.errors[1]).toMatch(/participant=6 must be an integer in 0..5/);
    expect(parseUrlOptions('?scenario=mars&participants=2&participant=0').errors[0]).toMatch(/^scenario parameters: name:/);
  });

  it('takes ?backend=webgpu like the other backends', () => {
    expect(parseUrlOptions('?backend=webgpu')).toEqual({ backend: 'webgpu', runtime: 'worker', shard: null, errors: [] });
    expect(parseUrlOptions('?runtime=page').runtime).toBe('page');
    expect(parseUrlOptions('?runtime=gpu').errors).toEqual(['runtime=gpu is not page or worker: training in a Worker']);
  });

  it('is empty without parameters', () => {
    expect(parseUrlOptions('')).toEqual({ backend: null, runtime: 'worker', shard: null, errors: [] });
  });
});
