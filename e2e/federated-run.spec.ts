import { expect, test } from '@playwright/test';
import { runDetail, runIdOf, signIn, startRunFromForm } from './dashboard.js';
import { shardUrl, trainerIndices } from './scenario.js';

const scenario = { name: 'shards' as const, participants: 24, seed: 1 };

test('six tabs on non-IID shards and the dashboard run five Reptile rounds that all six contribute to', async ({ browser, baseURL }) => {
  // Prepare: six participant tabs, each on its own shard; two forced onto WebGL.
  const context = await browser.newContext();
  const indices = trainerIndices(scenario, 6);
  const tabs = [];
  for (const [k, index] of indices.entries()) {
    const tab = await context.newPage();
    await tab.goto(shardUrl(scenario, index, k < 2 ? '&backend=webgl' : ''));
    tabs.push(tab);
  }
  for (const [k, tab] of tabs.entries()) {
    await expect(tab.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting', { timeout: 60_000 });
    if (k < 2) await expect(tab.getByTestId('backend')).toHaveText('webgl');
  }
  const dashboard = await context.newPage();
  await signIn(dashboard);
  // Earlier specs' participants stay known as disconnected rows: count the connected ones. A tab an earlier
  // spec closed without a goodbye stays connected until the hub's heartbeat times out (25 s at most).
  const connectedRows = dashboard
    .getByTestId('participants')
    .locator('tbody tr')
    .filter({ has: dashboard.locator('td:nth-child(2)', { hasText: /^yes$/ }) });
  await expect(connectedRows).toHaveCount(6, { timeout: 45_000 });

  // Execute: start a 5-round Reptile run through the form.
  await startRunFromForm(dashboard, {
    Algorithm: 'reptile',
    Scenario: 'shards',
    'Simulated participants': String(scenario.participants),
    Rounds: '5',
    'Participants per round': '6',
    'Minimum participants': '6',
  });

  // Assert: the dashboard shows five completed rounds, and the store agrees.
  await expect(dashboard.getByTestId('rounds').locator('tbody tr')).toHaveCount(5, { timeout: 200_000 });
  await expect(dashboard.getByTestId('run-status')).toContainText(/completed/i);
  // The dashboard offers the rounds as CSV: a header and the five completed rounds.
  const csvHref = await dashboard.getByRole('link', { name: 'Download rounds (CSV)' }).getAttribute('href');
  const csvLines = (await (await dashboard.request.get(csvHref!)).text()).trim().split('\r\n');
  expect(csvLines.slice(1).map((line) => line.split(',').slice(1, 4).join(','))).toEqual([
    '1,1,completed',
    '2,1,completed',
    '3,1,completed',
    '4,1,completed',
    '5,1,completed',
  ]);
  const run = await runDetail(baseURL!, await runIdOf(baseURL!));
  expect(run.status).toBe('completed');
  const completed = run.rounds.filter((r) => r.status === 'completed');
  expect(completed.map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
  const ids = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabula.participantId)));
  for (const r of completed) expect([...r.participants].sort()).toEqual([...ids].sort());
  // Personalized accuracy at the end is clearly above where the run started.
  const first = completed[0]!.metrics;
  const last = completed[4]!.metrics;
  expect(last.personalized!).toBeGreaterThan(first.global! + 0.3);
  expect(last.personalized!).toBeGreaterThan(0.8);
  // Runs of the history plotted together: this one, and one an earlier spec left when there is one.
  const history = dashboard.getByTestId('run-history');
  await history.getByRole('checkbox', { name: `Compare run ${run.id}` }).check();
  const others = history.locator(`tr[data-run]:not([data-run="${run.id}"])`);
  const another = (await others.count()) > 0;
  if (another) await others.first().getByRole('checkbox').check();
  await expect(dashboard.getByTestId('compare-caption')).toHaveText(another ? '2 runs compared.' : '1 run compared.');
  // Every tab shows its own before/after numbers for each round it trained in.
  for (const tab of tabs) {
    await expect.poll(() => tab.evaluate(() => window.tabula.history.filter((r) => r.accepted).length)).toBe(5);
  }
  await context.close();
});
