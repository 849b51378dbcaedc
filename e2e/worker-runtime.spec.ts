import { expect, test } from '@playwright/test';
import { reptileRun, startRunApi, waitForRun } from './dashboard.js';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

// A scenario of this spec's own: a run on it selects only these tabs.
const scenario = { name: 'shards', participants: 10, seed: 23 } as const;

test('tabs that train in a Worker (WASM, and WebGL through OffscreenCanvas) contribute to every round, with evaluations', async ({
  browser,
  baseURL,
}) => {
  // Prepare
  const context = await browser.newContext();
  const [wasmTab] = await openShardTabs(context, scenario, trainerIndices(scenario, 1), '', '&runtime=worker&backend=wasm');
  const [webglTab] = await openShardTabs(context, scenario, trainerIndices(scenario, 2).slice(1), '', '&runtime=worker&backend=webgl');
  const tabs = [wasmTab!, webglTab!];
  const ids = await participantIds(tabs);

  // Execute
  const id = await startRunApi(baseURL!, reptileRun(scenario, 2, 2, { minParticipants: 2 }));
  const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running', 180_000);

  // Assert
  for (const tab of tabs) expect(await tab.evaluate(() => window.tabula.runtime)).toBe('worker');
  await expect(wasmTab!.locator('ul.notes')).toContainText('training runs in a Worker (WASM)');
  await expect(webglTab!.locator('ul.notes')).toContainText('training runs in a Worker (WebGL)');
  expect(run.status).toBe('completed');
  for (const round of run.rounds.filter((r) => r.status === 'completed')) expect([...round.participants].sort()).toEqual([...ids].sort());
  for (const tab of tabs) {
    const history = await tab.evaluate(() =>
      window.tabula.history.map((r) => ({ accepted: r.accepted, loss: r.loss, after: r.evaluation?.after })),
    );
    expect(history).toHaveLength(2);
    for (const record of history) {
      expect(record.accepted).toBe(true);
      expect(Number.isFinite(record.loss)).toBe(true);
      expect(record.after).toBeGreaterThan(0);
    }
  }
  await context.close();
});
