import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.js';
import {
  createServerOptimizer,
  DEFAULT_FEDADAM,
  DEFAULT_FEDAVGM,
  DEFAULT_SGD,
  SERVER_OPTIMIZER_DEFAULTS,
  type ServerOptimizerConfig,
} from './server-optimizer.js';

const DELTA_1 = new Float32Array([2, -4]);
const DELTA_2 = new Float32Array([1, 1]);

function expectClose(actual: Float32Array, expected: number[]): void {
  expect(actual).toBeInstanceOf(Float32Array);
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, 6));
}

describe('server optimizers on literal numbers, two steps from w = [1, 2]', () => {
  it('sgd: w + lr·Δ', () => {
    // Prepare
    const opt = createServerOptimizer({ kind: 'sgd', lr: 0.5 });
    const w0 = new Float32Array([1, 2]);

    // Execute
    const w1 = opt.update(w0, DELTA_1);
    const w2 = opt.update(w1, DELTA_2);

    // Assert: [1 + 0.5·2, 2 − 0.5·4] = [2, 0]; [2 + 0.5, 0 + 0.5]
    expectClose(w1, [2, 0]);
    expectClose(w2, [2.5, 0.5]);
    expect(opt.step).toBe(2);
    expect(Array.from(w0)).toEqual([1, 2]);
    expect(Array.from(DELTA_1)).toEqual([2, -4]);
  });

  it('sgd with lr 1 is plain FedAvg', () => {
    expectClose(createServerOptimizer(DEFAULT_SGD).update(new Float32Array([1, 2]), DELTA_1), [3, -2]);
  });

  it('fedavgm: v = β·v + Δ; w + lr·v', () => {
    // Prepare
    const opt = createServerOptimizer({ kind: 'fedavgm', lr: 0.5, momentum: 0.9 });

    // Execute
    const w1 = opt.update(new Float32Array([1, 2]), DELTA_1);
    const w2 = opt.update(w1, DELTA_2);

    // Assert
    // step 1: v = [2, −4]; w = [1 + 1, 2 − 2] = [2, 0]
    expectClose(w1, [2, 0]);
    // step 2: v = [0.9·2 + 1, 0.9·(−4) + 1] = [2.8, −2.6]; w = [2 + 1.4, 0 − 1.3]
    expectClose(w2, [3.4, -1.3]);
    expectClose(opt.getState().buffers.velocity!, [2.8, -2.6]);
  });

  it('fedadam: m, v moving averages, w + lr·m/(√v + τ), no bias correction', () => {
    // Prepare
    const opt = createServerOptimizer({ kind: 'fedadam', lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 });

    // Execute
    const w1 = opt.update(new Float32Array([1, 2]), DELTA_1);
    const w2 = opt.update(w1, DELTA_2);

    // Assert
    // step 1: m = 0.1·[2, −4] = [0.2, −0.4]; v = 0.01·[4, 16] = [0.04, 0.16]; √v = [0.2, 0.4]
    //   w = [1 + 0.1·0.2/0.201, 2 − 0.1·0.4/0.401] = [1.0995025, 1.9002494]
    expectClose(w1, [1.0995025, 1.9002494]);
    // step 2: m = [0.18 + 0.1, −0.36 + 0.1] = [0.28, −0.26]; v = [0.0396 + 0.01, 0.1584 + 0.01] = [0.0496, 0.1684]
    //   √v = [0.2227106, 0.4103657]; w = [w1₀ + 0.028/0.2237106, w1₁ − 0.026/0.4113657] = [1.2246642, 1.8370453]
    expectClose(w2, [1.2246642, 1.8370453]);
    const state = opt.getState();
    expectClose(state.buffers.m!, [0.28, -0.26]);
    expectClose(state.buffers.v!, [0.0496, 0.1684]);
    expect(state.step).toBe(2);
  });
});

describe('server optimizer state', () => {
  const configs: ServerOptimizerConfig[] = [DEFAULT_SGD, DEFAULT_FEDAVGM, { ...DEFAULT_FEDADAM, lr: 0.05 }];

  for (const config of configs) {
    it(`${config.kind}: an optimizer restored from getState continues exactly like the original`, () => {
      // Prepare: three steps on random deltas, then a snapshot
      const rng = createRng(3);
      const randomDelta = () => Float32Array.from({ length: 64 }, () => rng.normal() * 0.1);
      const original = createServerOptimizer(config);
      let w: Float32Array = Float32Array.from({ length: 64 }, () => rng.normal());
      for (let s = 0; s < 3; s++) w = original.update(w, randomDelta());
      const restored = createServerOptimizer(config);
      restored.setState(original.getState());

      // Execute: both take the same next two steps
      const next = [randomDelta(), randomDelta()];
      let a: Float32Array = w;
      let b: Float32Array = w;
      for (const d of next) {
        a = original.update(a, d);
        b = restored.update(b, d);
      }

      // Assert
      expect(Array.from(b)).toEqual(Array.from(a));
      expect(restored.step).toBe(5);
      expect(restored.getState()).toEqual(original.getState());
    });
  }

  it('getState is a copy that later updates do not change', () => {
    const opt = createServerOptimizer(DEFAULT_FEDAVGM);
    opt.update(new Float32Array([0]), new Float32Array([1]));
    const state = opt.getState();
    opt.update(new Float32Array([0]), new Float32Array([1]));
    expect(state.step).toBe(1);
    expect(Array.from(state.buffers.velocity!)).toEqual([1]);
  });

  it('setState rejects a wrong kind, buffer names, lengths or values', () => {
    const adam = createServerOptimizer(DEFAULT_FEDADAM);
    const two = new Float32Array(2);
    expect(() => adam.setState({ kind: 'fedavgm', step: 1, buffers: { velocity: two } })).toThrow(/state is for 'fedavgm'/);
    expect(() => adam.setState({ kind: 'fedadam', step: 1, buffers: { m: two } })).toThrow(/buffers \[m\], expected \[m, v\]/);
    expect(() => adam.setState({ kind: 'fedadam', step: 1, buffers: { m: two, v: new Float32Array(3) } })).toThrow(
      /has 3 parameters, the others 2/,
    );
    expect(() => adam.setState({ kind: 'fedadam', step: 1, buffers: { m: two, v: new Float32Array([1, -1]) } })).toThrow(/negative/);
    expect(() => adam.setState({ kind: 'fedadam', step: 1, buffers: { m: new Float32Array([Number.NaN, 0]), v: two } })).toThrow(
      /non-finite/,
    );
    expect(() => adam.setState({ kind: 'fedadam', step: -1, buffers: {} })).toThrow(/step/);
    expect(() => adam.setState({ kind: 'fedadam', step: 4, buffers: {} })).toThrow(/no buffers/);
    expect(adam.step).toBe(0);
  });

  it('a restored state of the wrong model size fails on update and leaves the state alone', () => {
    // Prepare
    const opt = createServerOptimizer(DEFAULT_FEDADAM);
    opt.setState({ kind: 'fedadam', step: 2, buffers: { m: new Float32Array(3), v: new Float32Array(3) } });

    // Execute / Assert
    expect(() => opt.update(new Float32Array(4), new Float32Array(4))).toThrow(/has 3 parameters but the model has 4/);
    expect(opt.step).toBe(2);
    expect(() => opt.update(new Float32Array(3), new Float32Array(2))).toThrow(/delta has 2 parameters/);
  });
});

describe('server optimizer config', () => {
  it('exports a default per kind', () => {
    expect(SERVER_OPTIMIZER_DEFAULTS.sgd).toEqual({ kind: 'sgd', lr: 1 });
    expect(SERVER_OPTIMIZER_DEFAULTS.fedavgm.kind).toBe('fedavgm');
    expect(SERVER_OPTIMIZER_DEFAULTS.fedadam.tau).toBe(1e-3);
  });

  it('rejects unusable values with specific messages', () => {
    // The protocol's schema is the one definition of these bounds.
    expect(() => createServerOptimizer({ kind: 'sgd', lr: 0 })).toThrow(/server optimizer: lr: /);
    expect(() => createServerOptimizer({ kind: 'fedavgm', lr: 1, momentum: 1 })).toThrow(/server optimizer: momentum: /);
    expect(() => createServerOptimizer({ ...DEFAULT_FEDADAM, beta2: -0.1 })).toThrow(/beta2/);
    expect(() => createServerOptimizer({ ...DEFAULT_FEDADAM, tau: 0 })).toThrow(/tau/);
    expect(() => createServerOptimizer({ kind: 'yogi', lr: 1 } as unknown as ServerOptimizerConfig)).toThrow(/server optimizer: kind: /);
  });

  it('does not follow later changes to the config object it was given', () => {
    const config = { kind: 'sgd' as const, lr: 1 };
    const opt = createServerOptimizer(config);
    (config as { lr: number }).lr = 100;
    expect(Array.from(opt.update(new Float32Array([0]), new Float32Array([1])))).toEqual([1]);
  });
});
