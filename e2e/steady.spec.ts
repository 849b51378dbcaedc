import { expect, test } from '@playwright/test';
import { reptileRun, startRunApi, waitForRun } from './dashboard.js';
import { openShardTabs } from './participants.js';
import { trainerIndices } from './scenario.js';

// A scenario of this spec's own: a run on it selects only this tab.
const scenario = { name: 'shards', participants: 10, seed: 17 } as const;

test('a tab that trains round after round keeps its tensors flat: none leaks from a round', async ({ browser, baseURL }) => {
  // Prepare: the tab trains two rounds first (the backend's and the model's one-time allocations are made then).
  const context = await browser.newContext();
  const [tab] = await openShardTabs(context, scenario, trainerIndices(scenario, 1));
  const rounds = async (count: number) => {
    const before = await tab!.evaluate(() => window.tabula.history.length);
    const id = await startRunApi(baseURL!, reptileRun(scenario, count, 1, { minParticipants: 1 }));
    const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running', 180_000);
    expect(run.status).toBe('completed');
    // The tab is idle again once it has recorded the last round.
    await expect.poll(() => tab!.evaluate(() => window.tabula.history.length)).toBe(before + count);
  };
  await rounds(2);
  const after2 = await tab!.evaluate(() => window.tabula.memory());

  // Execute: eight more rounds.
  await rounds(8);
  const after10 = await tab!.evaluate(() => window.tabula.memory());

  // Assert
  expect(after10.tensors).toBe(after2.tensors);
  expect(after10.tensorBytes).toBe(after2.tensorBytes);
  await context.close();
});
