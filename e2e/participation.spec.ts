import { expect, test, type Page } from '@playwright/test';
import { reptileRun, startRunApi, waitForRun } from './dashboard.js';
import { ADMIN_TOKEN } from './hub-process.js';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

// A scenario of this spec's own: no other spec's tab holds it, so a run on it can only select these.
const scenario = { name: 'shards', participants: 12, seed: 7 } as const;

/** What the hub says of one participant: its state, as the dashboard lists it. */
async function stateAtHub(baseURL: string, id: string): Promise<string | undefined> {
  const listed = (await (await fetch(`${baseURL}/api/participants`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as {
    id: string;
    state: string;
    connected: boolean;
  }[];
  return listed.find((p) => p.id === id && p.connected)?.state;
}

/** Presses a control the way a keyboard user does: focus, then Enter. */
async function press(tab: Page, testId: string): Promise<void> {
  await tab.getByTestId(testId).focus();
  await tab.keyboard.press('Enter');
}

test('a person pauses taking part: the hub selects the tab for nothing, the pause outlives a reload, and resuming takes part again', async ({
  browser,
  baseURL,
}) => {
  // Prepare: two tabs; the first pauses with the keyboard.
  const context = await browser.newContext();
  const [paused, other] = await openShardTabs(context, scenario, trainerIndices(scenario, 2));
  const [pausedId, otherId] = await participantIds([paused!, other!]);
  await press(paused!, 'pause-toggle');
  await expect(paused!.getByTestId('participant-state')).toHaveText(/^paused: you paused taking part/);
  await expect.poll(() => stateAtHub(baseURL!, pausedId!)).toBe('paused');

  // Execute: a run that would take both; then a reload; then resume and another run.
  const first = await startRunApi(baseURL!, reptileRun(scenario, 1, 2, { minParticipants: 1 }));
  const firstRun = await waitForRun(baseURL!, first, (run) => run.status !== 'running', 120_000);
  await paused!.reload();
  await expect(paused!.getByTestId('participant-state')).toHaveText(/^paused: you paused taking part/, { timeout: 60_000 });
  await expect(paused!.getByTestId('pause-toggle')).toHaveText('Resume taking part');
  await expect.poll(() => stateAtHub(baseURL!, pausedId!)).toBe('paused');
  await press(paused!, 'pause-toggle');
  await expect.poll(() => stateAtHub(baseURL!, pausedId!)).not.toBe('paused');
  const second = await startRunApi(baseURL!, reptileRun(scenario, 1, 2, { minParticipants: 2 }));
  const secondRun = await waitForRun(baseURL!, second, (run) => run.status !== 'running', 120_000);

  // Assert
  expect(firstRun.status).toBe('completed');
  expect(firstRun.rounds.filter((r) => r.status === 'completed').map((r) => r.participants)).toEqual([[otherId]]);
  expect(secondRun.status).toBe('completed');
  expect([...secondRun.rounds.find((r) => r.status === 'completed')!.participants].sort()).toEqual([pausedId, otherId].sort());
  await expect(paused!.getByTestId('participation')).toContainText('Rounds in the last hour: 1.');
  await context.close();
});

test('a person leaves and deletes the tab’s data: the hub sees it go, and it stays away across a reload until it joins again', async ({
  browser,
  baseURL,
}) => {
  // Prepare
  const context = await browser.newContext();
  const [tab] = await openShardTabs(context, scenario, trainerIndices(scenario, 3).slice(2));
  const [id] = await participantIds([tab!]);
  await expect.poll(() => stateAtHub(baseURL!, id!)).toBe('waiting');

  // Execute
  await tab!.getByLabel("and delete this tab's data (drawn digits, personal heads, its participant id)").check();
  await press(tab!, 'leave');
  await expect.poll(() => stateAtHub(baseURL!, id!)).toBeUndefined();
  await expect(tab!.locator('ul.notes')).toContainText("you left and this tab's data is deleted");
  await tab!.reload();
  await expect(tab!.getByTestId('participant-state')).toHaveText(/^paused: you left: join again to take part/, { timeout: 60_000 });
  const stillAway = await stateAtHub(baseURL!, id!);
  await press(tab!, 'join');

  // Assert: away after the reload; joining again takes a new identity (the old one was deleted).
  expect(stillAway).toBeUndefined();
  await expect
    .poll(
      async () => {
        const now = await tab!.evaluate(() => window.tabula.participantId);
        return now !== null && now !== id;
      },
      { timeout: 30_000 },
    )
    .toBe(true);
  const fresh = await tab!.evaluate(() => window.tabula.participantId);
  await expect.poll(() => stateAtHub(baseURL!, fresh!)).toBe('waiting');
  await context.close();
});

test('“only while this tab is visible”: hidden, the tab sits out and the hub sees it paused; visible again, it takes part', async ({
  browser,
  baseURL,
}) => {
  // Prepare
  const context = await browser.newContext();
  const [tab] = await openShardTabs(context, scenario, trainerIndices(scenario, 4).slice(3));
  const [id] = await participantIds([tab!]);
  await tab!.getByLabel('Take part only while this tab is visible').check();
  await expect.poll(() => stateAtHub(baseURL!, id!)).toBe('waiting');
  const setVisibility = (state: 'hidden' | 'visible') =>
    tab!.evaluate((next) => {
      // Headless pages are always visible: the browser's own signal is emulated here, as a hidden tab would send it.
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => next });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => next === 'hidden' });
      document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
    }, state);

  // Execute and assert
  await setVisibility('hidden');
  await expect(tab!.getByTestId('participant-state')).toHaveText(
    /^paused: this tab is hidden, and you asked to take part only while it is visible/,
  );
  await expect.poll(() => stateAtHub(baseURL!, id!)).toBe('paused');
  await setVisibility('visible');
  await expect.poll(() => stateAtHub(baseURL!, id!)).toBe('waiting');
  await context.close();
});
