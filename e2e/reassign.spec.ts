import { expect, test } from '@playwright/test';
import { reptileRun, startRunApi, waitForRun } from './dashboard.js';
import { heldOutIndices } from './scenario.js';

const scenario = { name: 'iid', participants: 12, seed: 5 } as const;

test('tabs that took the hub’s default data switch to the scenario of a new run and train in it', async ({ browser, baseURL }) => {
  // Prepare: three tabs opened without a shard in the address take what the hub assigns (its default scenario).
  const context = await browser.newContext();
  const tabs = [];
  for (let k = 0; k < 3; k++) {
    const tab = await context.newPage();
    await tab.goto('/');
    tabs.push(tab);
  }
  for (const tab of tabs) await expect(tab.getByTestId('assigned-data')).toContainText('scenario shards', { timeout: 60_000 });
  // The hub offers the new scenario's lowest free shards, 0 to 2; those not held out train.
  const heldOut = new Set(heldOutIndices(scenario));
  const trainers = [0, 1, 2].filter((i) => !heldOut.has(i)).length;
  expect(trainers).toBeGreaterThan(0);

  // Execute: a run on another scenario.
  const id = await startRunApi(baseURL!, reptileRun(scenario, 2, 3, { minParticipants: trainers }));
  const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running');

  // Assert: every tab now holds a shard of the run's scenario and says so; the run completed with them.
  for (const tab of tabs) await expect(tab.getByTestId('assigned-data')).toContainText('scenario iid');
  expect(run.status).toBe('completed');
  const ids = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabula.participantId ?? '')));
  for (const r of run.rounds.filter((x) => x.status === 'completed')) {
    expect(r.participants).toHaveLength(trainers);
    for (const p of r.participants) expect(ids).toContain(p);
  }
  await context.close();
});
