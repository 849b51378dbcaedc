import { expect, test } from '@playwright/test';
import { reptileRun, startRunApi, waitForRun } from './dashboard.js';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

// A scenario of this spec's own: a run on it selects only these tabs.
const scenario = { name: 'shards', participants: 10, seed: 11 } as const;

test('a tab forced onto WebGPU (SwiftShader’s adapter) trains and contributes to every round; the automatic choice names the software adapter it skipped', async ({
  browser,
  baseURL,
}) => {
  // Prepare: one tab on WebGPU, one choosing by itself.
  const context = await browser.newContext();
  const [gpuTab] = await openShardTabs(context, scenario, trainerIndices(scenario, 1), '', '&backend=webgpu');
  const [autoTab] = await openShardTabs(context, scenario, trainerIndices(scenario, 2).slice(1));
  const ids = await participantIds([gpuTab!, autoTab!]);

  // Execute
  const id = await startRunApi(baseURL!, reptileRun(scenario, 2, 2, { minParticipants: 2 }));
  const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running', 180_000);

  // Assert
  await expect(gpuTab!.getByTestId('backend')).toHaveText('webgpu');
  await expect(gpuTab!.getByTestId('gpu-adapter')).toHaveText(/swiftshader.*\(software adapter\)$/);
  await expect(autoTab!.getByTestId('backend-reason')).toContainText('WebGPU runs in software');
  expect(run.status).toBe('completed');
  for (const round of run.rounds.filter((r) => r.status === 'completed')) expect([...round.participants].sort()).toEqual([...ids].sort());
  const history = await gpuTab!.evaluate(() => window.tabula.history.map((r) => ({ accepted: r.accepted, loss: r.loss })));
  expect(history).toHaveLength(2);
  for (const record of history) {
    expect(record.accepted).toBe(true);
    expect(Number.isFinite(record.loss)).toBe(true);
  }
  await context.close();
});
