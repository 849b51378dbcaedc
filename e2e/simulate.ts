/**
 * npm run simulate -- --tabs 8 --rounds 10 --scenario rotated --algorithm reptile [--headed]
 * Watch federated meta-learning happen: a real hub, N participant tabs in Chromium, the dashboard driving the
 * run through its form. One line per round; at the end a dashboard screenshot (PNG) and the run's metrics (JSON).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { runDetail, signIn, startRunFromForm, waitForRun, type RunDetail } from './dashboard.js';
import { freePort, startHubProcess } from './hub-process.js';
import { openShardTabs } from './participants.js';
import { heldOutIndices, trainerIndices } from './scenario.js';

const HELP = `Usage: npm run simulate -- [options]

  --tabs N            participant tabs                                [8]
  --rounds N          federated rounds                                [10]
  --scenario NAME     shards | dirichlet | rotated | iid              [rotated]
  --algorithm NAME    reptile | fomaml | maml | fedavg                [reptile]
  --webgl N           how many tabs are forced onto WebGL             [0]
  --held-out N        extra tabs on held-out (meta-test) shards        [1]
  --headed            show the browser windows
  --out DIR           where the screenshot and metrics go             [simulate-output]
  -h, --help
`;

const { values: v } = parseArgs({
  options: {
    tabs: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '10' },
    scenario: { type: 'string', default: 'rotated' },
    algorithm: { type: 'string', default: 'reptile' },
    webgl: { type: 'string', default: '0' },
    'held-out': { type: 'string', default: '1' },
    headed: { type: 'boolean', default: false },
    out: { type: 'string', default: 'simulate-output' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (v.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const tabs = Number(v.tabs);
const rounds = Number(v.rounds);
if (!Number.isInteger(tabs) || tabs < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error('simulate: --tabs and --rounds need positive integers');
  process.exit(2);
}
if (!['shards', 'dirichlet', 'rotated', 'iid'].includes(v.scenario)) {
  console.error(`simulate: --scenario must be shards, dirichlet, rotated or iid (sinusoid has no digits to show), got ${v.scenario}`);
  process.exit(2);
}
const outDir = resolve(process.env.INIT_CWD ?? process.cwd(), v.out);

const scenario = { name: v.scenario, participants: Math.max(24, tabs * 3), seed: 1 };
const hub = await startHubProcess(await freePort());
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: !v.headed,
  args: ['--disable-sync'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const indices = trainerIndices(scenario as Parameters<typeof trainerIndices>[0], tabs);
  const webgl = Number(v.webgl);
  console.log(
    `simulate: hub at ${hub.url}; opening ${tabs} training tabs + ${v['held-out']} held-out (${scenario.name}, ${scenario.participants} simulated participants)`,
  );
  await openShardTabs(context, scenario, indices.slice(0, webgl), hub.url, '&backend=webgl');
  await openShardTabs(context, scenario, indices.slice(webgl), hub.url);
  // Held-out tabs never train: each round they adapt the global model and report before/after.
  const heldOut = heldOutIndices(scenario as Parameters<typeof heldOutIndices>[0]).slice(0, Number(v['held-out']));
  if (heldOut.length) await openShardTabs(context, scenario, heldOut, hub.url);
  const dashboard = await context.newPage();
  await signIn(dashboard, hub.url);
  await startRunFromForm(dashboard, {
    Algorithm: v.algorithm,
    Scenario: scenario.name,
    'Simulated participants': String(scenario.participants),
    Rounds: String(rounds),
    'Participants per round': String(tabs),
    'Minimum participants': String(Math.max(1, Math.ceil(tabs / 2))),
  });
  const runs = (await (await fetch(`${hub.url}/api/runs`)).json()) as { id: string }[];
  const id = runs[0]!.id;
  console.log(`simulate: run ${id} started from the dashboard`);
  console.log('round  participants    loss  global  personalized  held-out global→personalized     s');
  let printed = 0;
  const pct = (x: number | null) => (x === null ? '   -  ' : `${(100 * x).toFixed(1)}%`.padStart(6));
  const show = (run: RunDetail) => {
    for (const r of run.rounds.filter((x) => x.status === 'completed').slice(printed)) {
      const m = r.metrics as RunDetail['rounds'][number]['metrics'] & { loss: number | null };
      const d = (r as unknown as { durationMs: number }).durationMs;
      console.log(
        `${String(r.round).padStart(5)}  ${String(r.participants.length).padStart(12)}  ${(m.loss ?? Number.NaN).toFixed(3).padStart(6)}  ${pct(m.global)}  ${pct(m.personalized).padStart(12)}  ${pct(m.heldOutGlobal)} → ${pct(m.heldOutPersonalized)}  ${(d / 1000).toFixed(1).padStart(14)}`,
      );
      printed++;
    }
    return run.status !== 'running';
  };
  const run = await waitForRun(hub.url, id, show, 60 * 60_000);
  show(run);
  mkdirSync(outDir, { recursive: true });
  await dashboard.waitForTimeout(1500); // let the charts draw the last round
  await dashboard.screenshot({ path: resolve(outDir, 'dashboard.png'), fullPage: true });
  writeFileSync(resolve(outDir, 'metrics.json'), JSON.stringify(await runDetail(hub.url, id), null, 2));
  console.log(`simulate: run ${run.status}; wrote ${resolve(outDir, 'dashboard.png')} and ${resolve(outDir, 'metrics.json')}`);
} finally {
  await browser.close();
  await hub.stop();
}
