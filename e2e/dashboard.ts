import { expect, type Page } from '@playwright/test';
import {
  MNIST_MLP,
  presetRunConfig,
  type Algorithm,
  type ModelSpec,
  type RunConfigInput,
  type SecureRoundReport,
} from '../packages/core/src/protocol-index.js';
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
  config: RunConfigInput;
  completedRounds: number;
  rounds: {
    round: number;
    status: string;
    participants: string[];
    failures: { participantId: string; reason: string }[];
    metrics: {
      loss: number | null;
      global: number | null;
      personalized: number | null;
      heldOutGlobal: number | null;
      heldOutPersonalized: number | null;
    };
    secureAggregation?: SecureRoundReport;
  }[];
}

/** The admin's view of a run (participant lists need the token). */
export async function runDetail(baseUrl: string, id: string): Promise<RunDetail> {
  return (await (await fetch(`${baseUrl}/api/runs/${id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as RunDetail;
}

/** Starts a run over the HTTP API (the dashboard's form is covered by the federated-run spec). */
export async function startRunApi(baseUrl: string, config: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${baseUrl}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify(config),
  });
  const body = (await response.json()) as { id?: string; error?: string };
  if (response.status !== 201 || !body.id) throw new Error(`POST /api/runs: ${response.status} ${body.error}`);
  return body.id;
}

/** Polls the run until `done` says so (or the time runs out). */
export async function waitForRun(baseUrl: string, id: string, done: (run: RunDetail) => boolean, timeoutMs = 180_000): Promise<RunDetail> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let run: RunDetail | null = null;
    try {
      run = await runDetail(baseUrl, id);
    } catch {
      // the hub may be restarting
    }
    if (run && done(run)) return run;
    if (Date.now() > until)
      throw new Error(
        `run ${id} did not reach the expected state: ${JSON.stringify(run && { status: run.status, completedRounds: run.completedRounds })}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A short Reptile run on a shards scenario: the same settings as the dashboard's preset, fewer rounds. */
export function reptileRun(
  scenario: { name: string; participants: number; seed?: number },
  rounds: number,
  perRound: number,
  extra: Record<string, unknown> = {},
) {
  return {
    algorithm: 'reptile',
    model: MNIST_MLP,
    scenario: { seed: 1, ...scenario },
    rounds,
    perRound,
    minParticipants: Math.min(perRound, 2),
    roundDeadlineMs: 60_000,
    client: presetRunConfig('shards', 'reptile').client,
    ...extra,
  };
}

/**
 * Runs `algorithm`'s preset for `rounds` rounds in which every one of the tabs `ids` must take part, waits for the end,
 * and checks that it completed with all of them in every round. Returns the run for further checks.
 */
export async function runWithEveryTab(
  baseUrl: string,
  setup: {
    algorithm: Algorithm;
    model: ModelSpec;
    scenario: NonNullable<RunConfigInput['scenario']>;
    ids: readonly string[];
    rounds?: number;
  },
): Promise<RunDetail> {
  const { algorithm, model, scenario, ids, rounds = 2 } = setup;
  const preset = presetRunConfig(scenario.name, algorithm);
  const id = await startRunApi(baseUrl, {
    algorithm,
    model,
    scenario,
    rounds,
    perRound: ids.length,
    minParticipants: ids.length,
    roundDeadlineMs: 60_000,
    client: preset.client,
    server: preset.server,
  });
  const run = await waitForRun(baseUrl, id, (r) => r.status !== 'running');
  expect(run.status, algorithm).toBe('completed');
  const completed = run.rounds.filter((r) => r.status === 'completed');
  expect(completed.map((r) => r.round)).toEqual(Array.from({ length: rounds }, (_, i) => i + 1));
  for (const r of completed) expect([...r.participants].sort()).toEqual([...ids].sort());
  return run;
}
