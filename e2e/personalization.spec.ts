import { expect, test } from '@playwright/test';
import { MNIST_MLP, SINUSOID_MLP } from '../packages/core/src/protocol-index.js';
import { runWithEveryTab } from './dashboard.js';
import { openShardTabs, participantIds } from './participants.js';
import { heldOutIndices, shardUrl, trainerIndices } from './scenario.js';

// Scenario fields a shard URL carries by their own names (url-options.ts).
const extraOf = (fields: Record<string, number | boolean>) =>
  Object.entries(fields)
    .map(([key, value]) => `&${key}=${value === true ? 1 : String(value)}`)
    .join('');

test('label-permuted digits under FedRep: trainers keep their group’s naming, and a newcomer’s head is imprinted from its own', async ({
  browser,
  page,
  baseURL,
}) => {
  // Prepare: two trainer tabs of a scenario whose trainers fall into two labelling groups, 50 support digits each.
  const fields = { supportShots: 50, labelPermutations: 2 };
  const scenario = { name: 'iid' as const, participants: 20, seed: 3, ...fields };
  const context = await browser.newContext();
  const tabs = await openShardTabs(context, scenario, trainerIndices(scenario, 2), '', extraOf(fields));
  for (const tab of tabs) await expect(tab.getByTestId('assigned-data')).toContainText(/labels permuted \(group [12] of 2\): 0→\d/);
  const ids = await participantIds(tabs);

  // Execute, and assert: two FedRep rounds of both tabs; round 2 started from each tab's own head.
  await runWithEveryTab(baseURL!, { algorithm: 'fedrep', model: MNIST_MLP, scenario, ids });
  for (const tab of tabs) await expect(tab.getByTestId('head-source')).toHaveAttribute('data-source', 'own');
  await context.close();

  // A held-out tab names its digits in a way no trainer did; its first head is the class means of its support set on
  // the shared body, which already scores far above chance (10 %) before a single step.
  const [newcomer] = heldOutIndices(scenario);
  await page.goto(shardUrl(scenario, newcomer!, extraOf(fields)));
  await expect(page.getByTestId('assigned-data')).toContainText('its own labelling, unseen in training');
  await page.getByRole('button', { name: 'Adapt the latest model' }).click();
  const result = page.getByTestId('meta-test-result');
  await expect(result).toContainText("Only the head adapted, starting from a new head imprinted from this tab's support set");
  await expect(result).toHaveAttribute('data-head', 'imprinted');
  expect(Number(await result.getAttribute('data-before'))).toBeGreaterThan(0.3);
});

test('sine tabs draw fresh points every round (freshPoints) and train two MAML rounds', async ({ browser, baseURL }) => {
  // Prepare
  const fields = { freshPoints: true };
  const scenario = { name: 'sinusoid' as const, participants: 20, seed: 4, ...fields };
  const context = await browser.newContext();
  const tabs = await openShardTabs(context, scenario, trainerIndices(scenario, 2), '', extraOf(fields));
  for (const tab of tabs) await expect(tab.getByTestId('assigned-data')).toContainText('fresh points each round');
  const ids = await participantIds(tabs);
  // Execute, and assert: the tabs hold the run's own scenario (no reassignment), and both train in both rounds.
  await runWithEveryTab(baseURL!, { algorithm: 'maml', model: SINUSOID_MLP, scenario, ids });
  for (const tab of tabs) await expect(tab.getByTestId('assigned-data')).toContainText('fresh points each round');
  await context.close();
});
