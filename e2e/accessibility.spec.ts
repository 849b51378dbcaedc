import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { signIn } from './dashboard.js';
import { openShardTabs } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'shards', participants: 12, seed: 7 } as const;

/** axe-core's serious and critical violations on the page as it is now, one line each. */
async function seriousViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

test('the participant page and the dashboard pass axe-core with no serious violations', async ({ browser }) => {
  const context = await browser.newContext();
  const [tab] = await openShardTabs(context, scenario, trainerIndices(scenario, 1));
  const dashboard = await context.newPage();
  await signIn(dashboard);

  expect(await seriousViolations(tab!)).toEqual([]);
  expect(await seriousViolations(dashboard)).toEqual([]);
  await context.close();
});

test('on a 390x844 phone screen the participant page needs no horizontal scrolling', async ({ browser }, testInfo) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const [tab] = await openShardTabs(context, scenario, trainerIndices(scenario, 1));

  const widths = await tab!.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  await tab!.screenshot({ path: testInfo.outputPath('participant-390x844.png'), fullPage: true });

  expect(widths.scroll).toBeLessThanOrEqual(widths.client);
  await context.close();
});
