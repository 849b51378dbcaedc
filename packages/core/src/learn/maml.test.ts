import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../tf.js';
import { checkMamlGradient } from './meta-gradient-check.js';

describe('second-order MAML', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('matches central finite differences of the MAML objective (relative error < 1e-3), and differs from first-order MAML', async () => {
    // Execute: a tiny MLP, a support and a query batch (learn/meta-gradient-check.ts, which the browser tests run too).
    const check = await checkMamlGradient();

    // Assert
    expect(check.backend).toBe('cpu');
    expect(check.lossGap).toBeLessThan(1e-5);
    expect(check.numericNorm).toBeGreaterThan(0.05);
    expect(check.relativeError).toBeLessThan(1e-3);
    // Same query loss (same adapted weights), different gradients: the second-order terms are really there.
    expect(check.secondOrderShare).toBeGreaterThan(0.01);
  });
});
