import { expect, test } from '@playwright/test';
import type { Tensor } from '@tensorflow/tfjs';
import { reptileRun, startRunApi, waitForRun } from './dashboard.js';
import { openShardTabs } from './participants.js';
import { heldOutIndices, shardUrl, trainerIndices } from './scenario.js';

const scenario = { name: 'rotated', participants: 24, seed: 2 } as const;

test.describe.serial('after training', () => {
  test.beforeAll(async ({ browser, baseURL }) => {
    const context = await browser.newContext();
    await openShardTabs(context, scenario, trainerIndices(scenario, 3));
    const id = await startRunApi(baseURL!, reptileRun(scenario, 6, 3, { minParticipants: 3 }));
    const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running');
    expect(run.status).toBe('completed');
    await context.close();
  });

  test('a meta-test tab that joins after training adapts in a few steps and beats the global model', async ({ page }) => {
    const [index] = heldOutIndices(scenario);
    await page.goto(shardUrl(scenario, index!));
    await expect(page.getByTestId('assigned-data')).toContainText('held out');
    await page.getByRole('button', { name: 'Adapt the latest model' }).click();
    const result = page.getByTestId('meta-test-result');
    await expect(result).toContainText('after 5 adaptation steps');
    const before = Number(await result.getAttribute('data-before'));
    const after = Number(await result.getAttribute('data-after'));
    expect(after).toBeGreaterThan(before);
  });

  test('the model endpoint loads with tf.loadLayersModel inside a page and predicts', async ({ page }) => {
    await page.goto('/');
    // The page has chosen and initialised its TF.js backend once it names it.
    await expect.poll(() => page.evaluate(() => window.tabula?.backend ?? null)).not.toBeNull();
    const prediction = await page.evaluate(async () => {
      const tf = window.tabula.tf;
      const model = await tf.loadLayersModel('/api/model/model.json');
      const out = model.predict(tf.ones([2, 28, 28, 1])) as Tensor;
      return { shape: out.shape, sums: (await out.sum(1).array()) as number[], weights: model.countParams() };
    });
    expect(prediction.shape).toEqual([2, 10]);
    expect(prediction.weights).toBe(79_510);
    for (const s of prediction.sums) expect(s).toBeCloseTo(1, 4);
  });
});
