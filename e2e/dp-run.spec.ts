import { readFile } from 'node:fs/promises';
import { expect, test } from '@playwright/test';
import { SINUSOID_MLP, presetRunConfig, privacySpent } from '../packages/core/src/protocol-index.js';
import { signIn, startRunApi, waitForRun } from './dashboard.js';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'sinusoid' as const, participants: 20, seed: 1 };
// A small clip keeps the noise (z·C / 2 per weight) from wrecking the sinusoid model in two rounds.
const DP = { mode: 'central', clip: 0.01, noiseMultiplier: 2, samplingRate: 1, delta: 1e-5 } as const;

test('a DP run with two tabs stops at its budget; the dashboard charts ε, the tabs say their guarantee, and the public API names no tab', async ({
  browser,
  baseURL,
}) => {
  // Prepare: a dashboard signed in, two sinusoid trainers, and a budget that two rounds meet and a third would not.
  const context = await browser.newContext();
  const dashboard = await context.newPage();
  await signIn(dashboard);
  const tabs = await openShardTabs(context, scenario, trainerIndices(scenario, 2));
  const ids = await participantIds(tabs);
  const spent = (rounds: number) => privacySpent({ samplingRate: 1, noiseMultiplier: DP.noiseMultiplier, rounds, delta: DP.delta }).epsilon;
  const budget = Number(((spent(2) + spent(3)) / 2).toFixed(3));

  // Execute
  const id = await startRunApi(baseURL!, {
    algorithm: 'fedavg',
    model: SINUSOID_MLP,
    scenario,
    rounds: 10,
    minParticipants: 2,
    roundDeadlineMs: 60_000,
    client: presetRunConfig('sinusoid', 'fedavg').client,
    privacy: { ...DP, epsilonBudget: budget },
  });
  const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running');

  // Assert: the run completed at its budget, both tabs in both rounds (the admin's view).
  expect([run.status, run.completedRounds]).toEqual(['completed', 2]);
  for (const r of run.rounds) expect([...r.participants].sort()).toEqual([...ids].sort());
  const guarantee = `(ε = ${spent(2).toFixed(2)}, δ = 1e-5) after 2 rounds, budget ${budget}`;
  // The dashboard: the reason, the guarantee, the ε chart and an ε column.
  const status = dashboard.getByTestId('run-status');
  await expect(status).toContainText('privacy budget reached');
  await expect(dashboard.getByTestId('run-guarantee')).toContainText(guarantee);
  await expect(dashboard.getByTestId('epsilon-chart')).toBeVisible();
  await expect(dashboard.getByRole('img', { name: 'Chart: Privacy spent: ε after each round' })).toBeVisible();
  await expect(dashboard.getByTestId('rounds').locator('thead')).toContainText('ε after');
  await expect(dashboard.getByTestId('rounds').locator('tr[data-round="1"]')).toContainText(spent(1).toFixed(2));
  // The dashboard's CSV comes with the token: the counts the public CSV leaves blank.
  const download = dashboard.waitForEvent('download');
  await dashboard.getByRole('link', { name: 'Download rounds (CSV)' }).click();
  const csvLines = (await readFile(await (await download).path(), 'utf8')).trim().split('\r\n');
  expect(
    csvLines.slice(1).map((line) =>
      line
        .split(',')
        .slice(1, 8)
        .filter((_, k) => k !== 3 && k !== 4)
        .join(','),
    ),
  ).toEqual(['1,1,completed,2,0', '2,1,completed,2,0']);
  // Each tab: this run's guarantee.
  for (const tab of tabs)
    await expect(tab.getByTestId('tab-guarantee')).toContainText(`This run's guarantee (run completed): ${guarantee}`);
  // Without the token, the page's own requests see ε but no tab, count or participant list.
  const open = await tabs[0]!.evaluate(async (runId) => {
    const detail = await (await fetch(`/api/runs/${runId}`)).text();
    const csv = await (await fetch(`/api/runs/${runId}/rounds.csv`)).text();
    return { detail, csv, participants: (await fetch('/api/participants')).status };
  }, id);
  for (const tab of ids) expect(open.detail + open.csv).not.toContain(tab);
  expect(open.participants).toBe(401);
  const rounds = (JSON.parse(open.detail) as { rounds: { participantCount: unknown; privacy: { epsilon: number } }[] }).rounds;
  expect(rounds.map((r) => r.participantCount)).toEqual([null, null]);
  expect(rounds[1]!.privacy.epsilon).toBeCloseTo(spent(2), 9);
  await context.close();
});
