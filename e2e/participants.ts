import { expect, type BrowserContext, type Page } from '@playwright/test';
import { shardUrl } from './scenario.js';

/** Opens one tab per shard index and waits until each has joined the hub and holds its data. */
export async function openShardTabs(
  context: BrowserContext,
  scenario: { name: string; participants: number; seed?: number },
  indices: number[],
  baseUrl = '',
  extra = '',
): Promise<Page[]> {
  const tabs: Page[] = [];
  for (const index of indices) {
    const tab = await context.newPage();
    await tab.goto(`${baseUrl}${shardUrl(scenario, index, extra)}`);
    tabs.push(tab);
  }
  for (const tab of tabs) await expect(tab.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting', { timeout: 60_000 });
  return tabs;
}

export function participantIds(tabs: Page[]): Promise<string[]> {
  return Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabula.participantId ?? '')));
}
