import { expect, type Page } from '@playwright/test';
import { ADMIN_TOKEN } from './hub-process.js';

/** Signs in on /admin/ with the e2e hub's token. */
export async function signIn(page: Page, baseUrl = ''): Promise<void> {
  await page.goto(`${baseUrl}/admin/`);
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Start run' })).toBeVisible();
}

/** Fills the run form field by field (labels as a screen reader announces them) and starts the run. */
export async function startRunFromForm(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [label, value] of Object.entries(fields)) {
    const control = page.getByLabel(label, { exact: true });
    if ((await control.evaluate((el) => el.tagName)) === 'SELECT') await control.selectOption(value);
    else await control.fill(value);
  }
  await page.getByRole('button', { name: 'Start run' }).click();
  await expect(page.getByTestId('run-status')).toContainText(/running/i);
}

export async function runIdOf(baseUrl: string): Promise<string> {
  const runs = (await (await fetch(`${baseUrl}/api/runs`)).json()) as { id: string }[];
  if (!runs[0]) throw new Error('no run');
  return runs[0].id;
}

export interface RunDetail {
  id: string;
  status: string;
  completedRounds: number;
  rounds: { round: number; status: string; participants: string[]; metrics: { global: number | null; personalized: number | null; heldOutGlobal: number | null; heldOutPersonalized: number | null } }[];
}

export async function runDetail(baseUrl: string, id: string): Promise<RunDetail> {
  return (await (await fetch(`${baseUrl}/api/runs/${id}`)).json()) as RunDetail;
}
