import { expect, test, type Page } from '@playwright/test';
import { SINUSOID_MLP } from '../packages/core/src/protocol-index.js';
import { runWithEveryTab } from './dashboard.js';
import { openShardTabs, participantIds } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'sinusoid' as const, participants: 20, seed: 1 };
// fedrep last: its checks end with a reload of a tab.
const ALGORITHMS = ['meta-sgd', 'per-fedavg-fo', 'per-fedavg-hf', 'fedper', 'fedrep'] as const;

/** The head this tab's participant keeps for `runId` in IndexedDB, read with the raw API (its length, or null). */
function storedHeadLength(tab: Page, participantId: string, runId: string): Promise<number | null> {
  return tab.evaluate(
    ([id, run]) =>
      new Promise<number | null>((resolve, reject) => {
        const open = indexedDB.open('tabula-heads');
        open.onerror = () => reject(open.error ?? new Error('cannot open tabula-heads'));
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('heads')) return resolve(null);
          const get = db.transaction('heads', 'readonly').objectStore('heads').get(id);
          get.onerror = () => reject(get.error ?? new Error('cannot read heads'));
          get.onsuccess = () => {
            const rows = (get.result ?? []) as { runId: string; head: Float32Array }[];
            resolve(rows.find((row) => row.runId === run)?.head.length ?? null);
          };
        };
      }),
    [participantId, runId] as const,
  );
}

test('two tabs run Meta-SGD, Per-FedAvg FO and HF, FedPer and FedRep for two rounds each, both tabs in every round', async ({
  browser,
  baseURL,
}) => {
  // Prepare: two sinusoid trainers in tabs of their own.
  const context = await browser.newContext();
  const tabs = await openShardTabs(context, scenario, trainerIndices(scenario, 2));
  const ids = await participantIds(tabs);

  for (const algorithm of ALGORITHMS) {
    // Execute, and assert: each algorithm's sinusoid preset, two rounds of both tabs.
    const run = await runWithEveryTab(baseURL!, { algorithm, model: SINUSOID_MLP, scenario, ids });
    const id = run.id;
    const completed = run.rounds.filter((r) => r.status === 'completed');
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
    if (algorithm === 'fedrep') {
      // The tab says what it shares and keeps: 1-40-40-1 keeps its output layer, 41 parameters.
      const tab = tabs[0]!;
      await expect(tab.getByTestId('head-split')).toHaveText(
        'Shared with the hub: body, 1,720 of 1,761 parameters · kept in this tab: head, 41 parameters (last 1 layer)',
      );
      // Round 2 started from the head round 1 fitted; the head is in this browser's IndexedDB under this tab's id.
      await expect(tab.getByTestId('head-source')).toHaveAttribute('data-source', 'own');
      await expect(tab.getByTestId('head-storage')).toHaveAttribute('data-kind', 'indexeddb');
      expect(await storedHeadLength(tab, ids[0]!, id)).toBe(41);
      expect(await storedHeadLength(tab, ids[1]!, id)).toBe(41);
      // A reload keeps it: the meta-test adapts this tab's own head, not the fresh one weights.bin comes with.
      await tab.reload();
      await expect(tab.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting', { timeout: 60_000 });
      expect(await tab.evaluate(() => window.tabula.participantId)).toBe(ids[0]);
      await tab.getByRole('button', { name: 'Adapt the latest model' }).click();
      const result = tab.getByTestId('meta-test-result');
      await expect(result).toContainText("Only the head adapted, starting from this tab's own head");
      await expect(result).toHaveAttribute('data-head', 'own');
      expect(Number.isFinite(Number(await result.getAttribute('data-after')))).toBe(true);
    }
  }
  await context.close();
});
