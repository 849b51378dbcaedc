import { expect, test } from '@playwright/test';
import { SINUSOID_MLP, presetRunConfig } from '../packages/core/src/protocol-index.js';
import { startRunApi, waitForRun } from './dashboard.js';
import { shardUrl, trainerIndices } from './scenario.js';

const scenario = { name: 'sinusoid' as const, participants: 20, seed: 1 };
const ALGORITHMS = ['meta-sgd', 'per-fedavg-fo', 'per-fedavg-hf'] as const;

test('two tabs run Meta-SGD, Per-FedAvg FO and Per-FedAvg HF for two rounds each, both tabs in every round', async ({
  browser,
  baseURL,
}) => {
  // Prepare: two sinusoid trainers in tabs of their own.
  const context = await browser.newContext();
  const tabs = [];
  for (const index of trainerIndices(scenario, 2)) {
    const tab = await context.newPage();
    await tab.goto(shardUrl(scenario, index));
    tabs.push(tab);
  }
  for (const tab of tabs) await expect(tab.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting', { timeout: 60_000 });
  const ids = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabula.participantId)));

  for (const algorithm of ALGORITHMS) {
    // Execute: each algorithm's sinusoid preset, two rounds of both tabs.
    const preset = presetRunConfig('sinusoid', algorithm);
    const id = await startRunApi(baseURL!, {
      algorithm,
      model: SINUSOID_MLP,
      scenario,
      rounds: 2,
      perRound: 2,
      minParticipants: 2,
      roundDeadlineMs: 60_000,
      client: preset.client,
      server: preset.server,
    });
    const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running');

    // Assert
    expect(run.status, algorithm).toBe('completed');
    const completed = run.rounds.filter((r) => r.status === 'completed');
    expect(completed.map((r) => r.round)).toEqual([1, 2]);
    for (const r of completed) expect([...r.participants].sort()).toEqual([...ids].sort());
    // Both tabs evaluated the last round's weights: finite MSE before and after adapting.
    expect(Number.isFinite(completed[1]!.metrics.global)).toBe(true);
    expect(Number.isFinite(completed[1]!.metrics.personalized)).toBe(true);
    if (algorithm === 'meta-sgd') {
      // A tab's meta-test adapts the downloaded model with the run's learned rates (rates.bin), one step as trained.
      await tabs[0]!.getByRole('button', { name: 'Adapt the latest model' }).click();
      const result = tabs[0]!.getByTestId('meta-test-result');
      await expect(result).toContainText('after 1 adaptation steps');
      expect(Number.isFinite(Number(await result.getAttribute('data-after')))).toBe(true);
    }
  }
  await context.close();
});
