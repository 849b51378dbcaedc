import { expect, test } from '@playwright/test';
import { reptileRun, startRunApi, waitForRun } from './dashboard.js';
import { startHubProcess, type HubProcess } from './hub-process.js';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'shards', participants: 24, seed: 1 } as const;
/** Waits here are bounded well inside the test's timeout, so a stall fails with its reason and the hub's output. */
const WAIT_MS = 60_000;
let hub: HubProcess | null = null;

test.afterEach(({}, testInfo) => {
  if (hub && testInfo.status !== testInfo.expectedStatus) console.error(`hub output (last 6000 characters):\n${hub.output().slice(-6000)}`);
});

test('the hub restarts mid-run: tabs reconnect by themselves and the run resumes where it was', async ({ browser }) => {
  hub = await startHubProcess(Number(process.env.TABULA_E2E_RESTART_PORT ?? 18_766));
  try {
    const context = await browser.newContext();
    const tabs = await openShardTabs(context, scenario, trainerIndices(scenario, 3), hub.url);
    const ids = await participantIds(tabs);
    const id = await startRunApi(hub.url, reptileRun(scenario, 8, 3, { minParticipants: 3 }));
    const before = await waitForRun(hub.url, id, (run) => run.completedRounds >= 2, WAIT_MS);

    await hub.restart();
    // The store kept every completed round, and the run is still running.
    const resumed = await waitForRun(hub.url, id, () => true, WAIT_MS);
    expect(resumed.status).toBe('running');
    expect(resumed.completedRounds).toBeGreaterThanOrEqual(before.completedRounds);
    expect(hub.output()).toMatch(new RegExp(`run ${id} resumes after round \\d+ of 8`));

    const run = await waitForRun(hub.url, id, (r) => r.status !== 'running', WAIT_MS);
    expect(run.status).toBe('completed');
    const completed = run.rounds.filter((r) => r.status === 'completed');
    expect(completed.map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // All three tabs came back on their own and trained in the last round.
    expect([...completed[7]!.participants].sort()).toEqual([...ids].sort());
    for (const tab of tabs) await expect.poll(() => tab.evaluate(() => window.tabula.participantId)).toBe(ids[tabs.indexOf(tab)]);
    await context.close();
  } finally {
    await hub.stop();
  }
});
