import { expect, test } from '@playwright/test';

/** The bound the Node test holds the CPU backend to; measured here: 1.2e-4 (cpu) to 1.7e-4 (webgl) through SwiftShader. */
const TOLERANCE = 1e-3;

test('full MAML’s meta-gradient matches finite differences in the page on every backend Chromium offers headless', async ({ page }) => {
  await page.goto('/');
  await page.waitForFunction(() => typeof window.tabula?.gradientCheck === 'function' && window.tabula.backend !== null, null, {
    timeout: 60_000,
  });
  for (const backend of ['webgpu', 'webgl', 'wasm', 'cpu'] as const) {
    const check = await page.evaluate((b) => window.tabula.gradientCheck(b), backend);
    expect(check.backend, backend).toBe(backend);
    expect(check.numericNorm, backend).toBeGreaterThan(0.05);
    expect(check.relativeError, `${backend}: relative error ${check.relativeError}`).toBeLessThan(TOLERANCE);
    expect(check.secondOrderShare, backend).toBeGreaterThan(0.01);
  }
});
