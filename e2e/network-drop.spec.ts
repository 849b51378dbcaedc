import { expect, test, type WebSocketRoute } from '@playwright/test';
import { reptileRun, startRunApi, waitForRun } from './dashboard.js';
import { ADMIN_TOKEN } from './hub-process.js';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

// A scenario of this spec's own: a run on it selects only this tab.
const scenario = { name: 'shards', participants: 10, seed: 19 } as const;

async function connectedAtHub(baseURL: string, id: string): Promise<boolean> {
  const listed = (await (await fetch(`${baseURL}/api/participants`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as {
    id: string;
    connected: boolean;
  }[];
  return listed.some((p) => p.id === id && p.connected);
}

test('a tab whose network drops for a while comes back by itself, as the same participant, and trains again', async ({
  browser,
  baseURL,
}) => {
  // Prepare: every socket.io request and WebSocket of the context goes through routes that can cut the network.
  const context = await browser.newContext();
  let offline = false;
  /** Both ends of each open WebSocket: the page's, and the one to the hub. */
  const open: { page: WebSocketRoute; hub: WebSocketRoute }[] = [];
  await context.route(/\/socket\.io\//, (route) => (offline ? route.abort('internetdisconnected') : route.continue()));
  await context.routeWebSocket(/\/socket\.io\//, (ws) => {
    if (offline) return void ws.close({ code: 1006, reason: 'offline' });
    const server = ws.connectToServer();
    ws.onMessage((message) => server.send(message));
    server.onMessage((message) => ws.send(message));
    open.push({ page: ws, hub: server });
  });
  const [tab] = await openShardTabs(context, scenario, trainerIndices(scenario, 1));
  const [id] = await participantIds([tab!]);
  await expect.poll(() => connectedAtHub(baseURL!, id!)).toBe(true);

  // Execute: the network goes for 4 s (its open sockets drop, new attempts fail), then comes back. The hub may not
  // notice meanwhile (a dropped network sends no goodbye: its heartbeat finds out within 25 s); the tab does at once.
  offline = true;
  for (const ends of open.splice(0)) {
    await ends.page.close({ code: 1006, reason: 'network dropped' });
    await ends.hub.close({ code: 1001, reason: 'network dropped' });
  }
  await expect(tab!.getByTestId('participant-state')).toHaveAttribute('data-state', 'connecting', { timeout: 30_000 });
  await tab!.waitForTimeout(4000);
  offline = false;

  // Assert: back as the same participant (its new connection replaces the old one at the hub), and it trains in a run.
  await expect(tab!.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting', { timeout: 60_000 });
  await expect.poll(() => connectedAtHub(baseURL!, id!), { timeout: 60_000 }).toBe(true);
  expect(await tab!.evaluate(() => window.tabula.participantId)).toBe(id);
  const run = await waitForRun(
    baseURL!,
    await startRunApi(baseURL!, reptileRun(scenario, 1, 1, { minParticipants: 1 })),
    (r) => r.status !== 'running',
    120_000,
  );
  expect(run.status).toBe('completed');
  expect(run.rounds.find((r) => r.status === 'completed')?.participants).toEqual([id]);
  await context.close();
});
