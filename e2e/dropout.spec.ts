import { expect, test } from '@playwright/test';
import { reptileRun, signIn, startRunApi, waitForRun } from './dashboard.js';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'shards', participants: 24, seed: 1 } as const;
const ROUNDS = 12;

test('tabs that close mid-run: the run completes with the rest and the dashboard shows them gone', async ({ browser, baseURL }) => {
  const context = await browser.newContext();
  const tabs = await openShardTabs(context, scenario, trainerIndices(scenario, 4));
  const ids = await participantIds(tabs);
  const dashboard = await context.newPage();
  await signIn(dashboard);
  // Rounds to spare: under load, closing two tabs can take as long as several rounds (it once outlasted round 6 of 6).
  const id = await startRunApi(baseURL!, reptileRun(scenario, ROUNDS, 4, { minParticipants: 2 }));
  await waitForRun(baseURL!, id, (run) => run.completedRounds >= 2);

  // Two tabs close during the run.
  await tabs[2]!.close();
  await tabs[3]!.close();
  const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running');

  expect(run.status).toBe('completed');
  const completed = run.rounds.filter((r) => r.status === 'completed');
  expect(completed.map((r) => r.round)).toEqual(Array.from({ length: ROUNDS }, (_, i) => i + 1));
  expect(completed[0]!.participants).toHaveLength(4);
  // The last round ran with the two remaining tabs only.
  expect([...completed[ROUNDS - 1]!.participants].sort()).toEqual([ids[0], ids[1]].sort());
  const table = dashboard.getByTestId('participants');
  for (const gone of [ids[2]!, ids[3]!]) await expect(table.locator(`tr[data-participant="${gone}"] td`).nth(1)).toHaveText('no');
  for (const stays of [ids[0]!, ids[1]!]) await expect(table.locator(`tr[data-participant="${stays}"] td`).nth(1)).toHaveText('yes');

  // The finished run can be deleted from the history, after a confirmation.
  const history = dashboard.getByTestId('run-history');
  await expect(history.locator(`tr[data-run="${id}"]`)).toBeVisible();
  dashboard.once('dialog', (dialog) => void dialog.accept());
  await dashboard.getByRole('button', { name: `Delete run ${id}` }).click();
  await expect(history.locator(`tr[data-run="${id}"]`)).toHaveCount(0);
  expect((await dashboard.request.get(`/api/runs/${id}`)).status()).toBe(404);
  await context.close();
});
