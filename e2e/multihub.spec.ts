import { expect, test } from '@playwright/test';
import { startPostgres, startRedis, type LocalService } from '../apps/server/src/local-services.js';
import { runDetail, runIdOf, signIn, startRunFromForm, waitForRun } from './dashboard.js';
import { freePort, startHubProcess, type HubProcess } from './hub-process.js';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'shards', participants: 24, seed: 1 } as const;
const WAIT_MS = 90_000;
const services: LocalService[] = [];
const hubs: HubProcess[] = [];

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus)
    for (const [i, hub] of hubs.entries()) console.error(`hub ${i} output (last 3000 characters):\n${hub.output().slice(-3000)}`);
  for (const hub of hubs.splice(0)) await hub.stop();
  for (const service of services.splice(0)) await service.stop();
});

test('three hubs: tabs on two of them, a run from the dashboard on the third; a hub goes away and its tabs move', async ({ browser }) => {
  // Prepare: Redis, PostgreSQL and hubs A (it coordinates: it starts first), B and C.
  const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  services.push(redis, postgres);
  const shared = { TABULA_REDIS_URL: redis.url, TABULA_DATABASE_URL: postgres.url, TABULA_HEARTBEAT_MS: '1500', TABULA_LEASE_MS: '2000' };
  for (const id of ['hub-a', 'hub-b', 'hub-c'])
    hubs.push(await startHubProcess(await freePort(), undefined, { ...shared, TABULA_HUB_ID: id }));
  const [a, b, c] = hubs as [HubProcess, HubProcess, HubProcess];
  const context = await browser.newContext();
  const indices = trainerIndices(scenario, 4);
  const onA = await openShardTabs(context, scenario, indices.slice(0, 2), a.url);
  const onB = await openShardTabs(context, scenario, indices.slice(2), b.url);
  const ids = await participantIds([...onA, ...onB]);
  const dashboard = await context.newPage();
  await signIn(dashboard, c.url);
  const connectedRows = dashboard
    .getByTestId('participants')
    .locator('tbody tr')
    .filter({ has: dashboard.locator('td:nth-child(2)', { hasText: /^yes$/ }) });
  await expect(connectedRows).toHaveCount(4, { timeout: 30_000 });

  // Execute: a run from C's dashboard; once round 1 is in, hub B goes away.
  await startRunFromForm(dashboard, {
    Algorithm: 'reptile',
    Scenario: 'shards',
    'Simulated participants': String(scenario.participants),
    Rounds: '4',
    'Participants per round': '4',
    'Minimum participants': '4',
  });
  const id = await runIdOf(c.url);
  await waitForRun(c.url, id, (run) => run.completedRounds >= 1, WAIT_MS);
  await b.stop();
  const run = await waitForRun(a.url, id, (r) => r.status !== 'running', WAIT_MS * 2);

  // Assert: the run completed (the round B's tabs were lost in may have failed attempts), its last round had every tab
  // again, B's tabs are now on A or C, and C's dashboard saw it all.
  expect(run.status).toBe('completed');
  const completed = run.rounds.filter((r) => r.status === 'completed');
  expect(completed.map((r) => r.round)).toEqual([1, 2, 3, 4]);
  expect([...completed[0]!.participants].sort()).toEqual([...ids].sort());
  expect([...completed[3]!.participants].sort()).toEqual([...ids].sort());
  for (const tab of onB) await expect.poll(() => tab.evaluate(() => window.tabula.hub)).not.toBe(b.url);
  for (const tab of onA) expect(await tab.evaluate(() => window.tabula.hub)).toBe(a.url);
  await expect(dashboard.getByTestId('rounds').locator('tbody tr')).toHaveCount(4, { timeout: 30_000 });
  await expect(dashboard.getByTestId('run-status')).toContainText(/completed/i);
  expect((await runDetail(c.url, id)).completedRounds).toBe(4);
  await context.close();
});
