import { expect, test, type Page } from '@playwright/test';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'shards', participants: 24, seed: 5 } as const;

const credentials = (tab: Page) => tab.evaluate(() => sessionStorage.getItem('tabula.participant'));

test('a participant id is not a credential: a stranger with the id is refused, the secret moves it, and the old tab says why', async ({
  browser,
}) => {
  // Prepare: one tab that joined the hub.
  const owner = await browser.newContext();
  const [tab] = await openShardTabs(owner, scenario, trainerIndices(scenario, 1));
  const [id] = await participantIds([tab!]);
  const held = JSON.parse((await credentials(tab!))!) as { id: string; secret: string };
  expect(held.id).toBe(id);

  // A stranger (another browser) that knows the id, but not the secret, becomes a participant of its own.
  const stranger = await browser.newContext();
  await stranger.addInitScript((stolen) => sessionStorage.setItem('tabula.participant', JSON.stringify(stolen)), {
    id: held.id,
    secret: 'guessed-secret-00000000',
  });
  const [strangerTab] = await openShardTabs(stranger, scenario, trainerIndices(scenario, 2).slice(1));
  const [strangerId] = await participantIds([strangerTab!]);
  expect(strangerId).not.toBe(id);
  await expect(tab!.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting');

  // The same credentials in another browser (a user moving the tab's storage) take the identity over: the first tab
  // is told why its connection closed and does not fight back by reconnecting.
  const mover = await browser.newContext();
  await mover.addInitScript((moved) => sessionStorage.setItem('tabula.participant', JSON.stringify(moved)), held);
  const [moved] = await openShardTabs(mover, scenario, trainerIndices(scenario, 1));
  expect(await participantIds([moved!])).toEqual([id]);
  await expect(tab!.getByTestId('participant-state')).toHaveAttribute('data-state', 'error');
  await expect(tab!.getByTestId('participant-state')).toContainText('connected again from a newer connection');
  await tab!.waitForTimeout(3000);
  await expect(tab!.getByTestId('participant-state')).toHaveAttribute('data-state', 'error');
  await expect(moved!.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting');
  for (const context of [owner, stranger, mover]) await context.close();
});
