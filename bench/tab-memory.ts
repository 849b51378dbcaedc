/**
 * bench/tab-memory.ts — does a tab stay flat over many rounds? TF.js's live tensors and bytes and the page's JS heap
 * after 10 rounds against after `rounds` (200 by default), for one participant page training a Reptile run on the
 * MNIST MLP in headless Chromium (issue 15: "steady for hours"). The heap is read after a full GC (DevTools protocol).
 *
 *   npx tsx bench/tab-memory.ts [--rounds 200] [--backend wasm] [--quick]
 *
 * Needs the web app built (npm run build) and /usr/bin/chromium.
 */
import { chromium } from '@playwright/test';
// `window.tabula`, typed by the participant page's own test hook.
import type {} from '@tabula/web/src/participant/test-hook.js';
import { reptileRun, startRunApi, waitForRun } from '../e2e/dashboard.js';
import { freePort, startHubProcess } from '../e2e/hub-process.js';
import { shardUrl } from '../e2e/scenario.js';
import { MiB, finish, parseFlags, positiveInt, printTable, runInfo, type Table } from './lib.js';

const HELP = `Usage: npx tsx bench/tab-memory.ts [--rounds N] [--backend wasm|webgl|webgpu|cpu] [--quick]
  --rounds N    rounds in all (default 200; quick 20): a run of 10, read, then a run of the rest, read
  --backend     the backend the tab is forced onto (default wasm)`;
const flags = parseFlags({ rounds: { type: 'string' }, backend: { type: 'string' } }, HELP);
const quick = flags.quick === true;
const ROUNDS = flags.rounds ? positiveInt(flags.rounds, '--rounds') : quick ? 20 : 200;
const FIRST = 10;
const BACKEND = flags.backend ?? 'wasm';
const started = performance.now();

const hub = await startHubProcess(await freePort());
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--disable-sync'] });
const readings: { round: number; tensors: number; tensorBytes: number; heapBytes: number | null; domNodes: number }[] = [];
const runSeconds: number[] = [];
try {
  const scenario = { name: 'shards', participants: 10, seed: 200 };
  const context = await browser.newContext();
  const page = await context.newPage();
  // The heap is read through the DevTools protocol after a full collection: it counts what is kept, not garbage.
  const cdp = await context.newCDPSession(page);
  await page.goto(`${hub.url}${shardUrl(scenario, 0, `&backend=${BACKEND}`)}`);
  await page.waitForFunction(() => window.tabula?.state === 'waiting' && window.tabula.examples > 0, null, { timeout: 60_000 });
  /** A run of `count` rounds, then a reading once the tab is idle again (no round's tensors in flight). */
  const roundsThenRead = async (count: number) => {
    const before = await page.evaluate(() => window.tabula.history.length);
    const runStarted = performance.now();
    const id = await startRunApi(hub.url, reptileRun(scenario, count, 1, { minParticipants: 1 }));
    const run = await waitForRun(hub.url, id, (r) => r.status !== 'running', 1_800_000);
    if (run.status !== 'completed') throw new Error(`the run ended ${run.status}`);
    await page.waitForFunction((n) => window.tabula.history.length >= n, before + count, { timeout: 60_000, polling: 100 });
    runSeconds.push((performance.now() - runStarted) / 1000);
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    const memory = {
      ...(await page.evaluate(() => window.tabula.memory())),
      heapBytes: usedSize,
      domNodes: await page.evaluate(() => document.getElementsByTagName('*').length),
    };
    readings.push({ round: before + count, ...memory });
    console.log(`after round ${before + count}: ${JSON.stringify(memory)}`);
  };
  await roundsThenRead(FIRST);
  await roundsThenRead(ROUNDS - FIRST);
} finally {
  await browser.close();
  await hub.stop();
}
const seconds = runSeconds.reduce((a, b) => a + b, 0);

const [first, last] = [readings[0]!, readings[1]!];
const mib = (bytes: number | null) => (bytes === null ? '-' : bytes / MiB);
const table: Table = {
  title: `One tab (${BACKEND}) over ${ROUNDS} rounds: what it holds after round ${first.round} and after round ${last.round}`,
  columns: ['after round', 'live tensors', 'tensor MiB', 'JS heap MiB (after GC)', 'page elements'],
  rows: readings.map((r) => [r.round, r.tensors, mib(r.tensorBytes), mib(r.heapBytes), r.domNodes]),
};
printTable(table);
const heapGrowth = first.heapBytes !== null && last.heapBytes !== null ? (last.heapBytes - first.heapBytes) / MiB : null;
finish({
  name: 'tab-memory',
  title: 'Tab runtime: memory over many rounds',
  description:
    'One participant page in headless Chromium trains every round of Reptile runs on the MNIST MLP (10 rounds, then the rest); TF.js’s live tensors and bytes and the JS heap (after a forced GC) are read with the tab idle after each.',
  ...runInfo(started, quick),
  headline: [
    `${ROUNDS} rounds on ${BACKEND} (${seconds.toFixed(0)} s): live tensors ${first.tensors} after round ${first.round}, ${last.tensors} after round ${last.round}; tensor bytes ${(first.tensorBytes / MiB).toFixed(2)} → ${(last.tensorBytes / MiB).toFixed(2)} MiB; JS heap ${heapGrowth === null ? 'not reported' : `${heapGrowth >= 0 ? '+' : ''}${heapGrowth.toFixed(2)} MiB`}; page elements ${first.domNodes} → ${last.domNodes}`,
  ],
  tables: [table],
  notes: [
    'The round history the page keeps grows a little every round by design (a record and a chart point); its table shows the latest 50 rounds, so the page’s elements stay bounded.',
    'e2e/steady.spec.ts asserts the tensor counts exactly, over fewer rounds.',
  ],
  data: { readings, rounds: ROUNDS, backend: BACKEND, seconds },
});
process.exit(0);
