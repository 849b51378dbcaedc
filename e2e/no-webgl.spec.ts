import { chromium, expect, test } from '@playwright/test';
import { reptileRun, startRunApi, waitForRun } from './dashboard.js';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'shards', participants: 24, seed: 1 } as const;

test('a tab without WebGL falls back, says so, and still contributes', async ({ browser, baseURL }) => {
  const noWebgl = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--disable-sync', '--disable-webgl', '--disable-3d-apis'],
  });
  try {
    const [indexA, indexB] = trainerIndices(scenario, 2);
    const [fallback] = await openShardTabs(await noWebgl.newContext({ baseURL: baseURL! }), scenario, [indexA!]);
    await expect(fallback!.getByTestId('backend')).not.toHaveText('webgl');
    await expect(fallback!.getByTestId('backend-reason')).toContainText(/WebGL unavailable/i);
    const context = await browser.newContext();
    const others = await openShardTabs(context, scenario, [indexB!]);
    const [fallbackId] = await participantIds([fallback!]);
    const id = await startRunApi(baseURL!, reptileRun(scenario, 2, 2));
    const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running');
    expect(run.status).toBe('completed');
    for (const round of run.rounds.filter((r) => r.status === 'completed')) expect(round.participants).toContain(fallbackId);
    await context.close();
    void others;
  } finally {
    await noWebgl.close();
  }
});
