/**
 * bench/tab-runtime.ts — how much a training tab's own page suffers while it trains: long tasks (> 50 ms) on the
 * page's main thread and the frame rate of an animation, idle and during rounds, per backend, with training on the
 * page's main thread (yielding every 30 ms) against training in its Worker (?runtime=worker, issue 15).
 *
 *   npx tsx bench/tab-runtime.ts [--rounds 4] [--backends wasm,webgl,webgpu] [--runtimes page,worker] [--quick]
 *
 * One participant page in headless Debian Chromium on its own hub process: a PerformanceObserver records long tasks,
 * a requestAnimationFrame loop counts frames; the page idles 3 s (the idle frame rate), then a Reptile run on the
 * MNIST MLP makes it train `rounds` rounds. Needs the web app built (npm run build) and /usr/bin/chromium.
 */
import { chromium } from '@playwright/test';
// `window.tabula`, typed by the participant page's own test hook.
import type {} from '@tabula/web/src/participant/test-hook.js';
import { reptileRun, startRunApi, waitForRun } from '../e2e/dashboard.js';
import { freePort, startHubProcess } from '../e2e/hub-process.js';
import { shardUrl } from '../e2e/scenario.js';
import { finish, parseFlags, positiveInt, printTable, runInfo, type Table } from './lib.js';

const HELP = `Usage: npx tsx bench/tab-runtime.ts [--rounds N] [--backends wasm,webgl,webgpu,cpu] [--quick]
  --rounds N     rounds the tab trains per backend (default 4; quick 2)
  --backends     backends to force, in turn (default wasm,webgl,webgpu)
  --runtimes     where the tab trains: page (its main thread), worker (default both)`;

const flags = parseFlags({ rounds: { type: 'string' }, backends: { type: 'string' }, runtimes: { type: 'string' } }, HELP);
const quick = flags.quick === true;
const ROUNDS = flags.rounds ? positiveInt(flags.rounds, '--rounds') : quick ? 2 : 4;
const BACKENDS = (flags.backends ?? 'wasm,webgl,webgpu').split(',').map((b) => b.trim());
const RUNTIMES = (flags.runtimes ?? 'page,worker').split(',').map((r) => r.trim());
const IDLE_MS = 3000;
const started = performance.now();

declare global {
  interface Window {
    __longTasks: { start: number; duration: number }[];
    __frames: number[];
  }
}

interface Sample {
  readonly backend: string;
  readonly runtime: string;
  readonly rounds: number;
  readonly trainMs: number;
  readonly longTasks: number;
  readonly longTaskMs: number;
  readonly longestMs: number;
  readonly idleFps: number;
  readonly trainingFps: number;
}

const hub = await startHubProcess(await freePort());
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--disable-sync', '--enable-unsafe-webgpu'],
});
const samples: Sample[] = [];
try {
  const configurations = BACKENDS.flatMap((backend) => RUNTIMES.map((runtime) => ({ backend, runtime })));
  for (const [k, { backend, runtime }] of configurations.entries()) {
    const scenario = { name: 'shards', participants: 10, seed: 100 + k };
    const context = await browser.newContext();
    const page = await context.newPage();
    // As a string: tsx would wrap a function's inner names in a helper the page does not have.
    await page.addInitScript(`
      window.__longTasks = [];
      window.__frames = [];
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
      }).observe({ type: 'longtask', buffered: true });
      requestAnimationFrame(function frame(t) {
        window.__frames.push(t);
        requestAnimationFrame(frame);
      });
    `);
    await page.goto(`${hub.url}${shardUrl(scenario, 0, `&backend=${backend}&runtime=${runtime}`)}`);
    await page.waitForFunction(() => window.tabula?.state === 'waiting' && (window.tabula.examples ?? 0) > 0, null, { timeout: 60_000 });
    const idleFrom = await page.evaluate(() => performance.now());
    await page.waitForTimeout(IDLE_MS);
    const runFrom = await page.evaluate(() => performance.now());
    const id = await startRunApi(hub.url, reptileRun(scenario, ROUNDS, 1, { minParticipants: 1 }));
    const run = await waitForRun(hub.url, id, (r) => r.status !== 'running', 600_000);
    if (run.status !== 'completed') throw new Error(`${backend}: the run ended ${run.status}`);
    const [frames, longTasks, history, runTo] = await page.evaluate(() => [
      window.__frames,
      window.__longTasks,
      window.tabula.history.map((r) => r.trainMs ?? 0),
      performance.now(),
    ]);
    const fps = (from: number, to: number) => (frames.filter((t) => t >= from && t < to).length / (to - from)) * 1000;
    const during = longTasks.filter((t) => t.start >= runFrom);
    const result = {
      history,
      longTasks: during.length,
      longTaskMs: during.reduce((n, t) => n + t.duration, 0),
      longestMs: Math.max(0, ...during.map((t) => t.duration)),
      idleFps: fps(idleFrom, runFrom),
      trainingFps: fps(runFrom, runTo),
    };
    const rounds = result.history.length;
    samples.push({
      backend,
      runtime: await page.evaluate(() => window.tabula.runtime),
      rounds,
      trainMs: result.history.reduce((a, b) => a + b, 0) / Math.max(1, rounds),
      longTasks: result.longTasks / Math.max(1, rounds),
      longTaskMs: result.longTaskMs / Math.max(1, rounds),
      longestMs: result.longestMs,
      idleFps: result.idleFps,
      trainingFps: result.trainingFps,
    });
    console.log(`${backend} on the ${runtime}: ${JSON.stringify(samples.at(-1))}`);
    await context.close();
  }
} finally {
  await browser.close();
  await hub.stop();
}

const table: Table = {
  title: 'A training tab’s own page: long tasks on its main thread and its frame rate, per backend',
  columns: [
    'backend',
    'rounds',
    'train ms / round',
    'long tasks / round',
    'long-task ms / round',
    'longest ms',
    'fps idle',
    'fps during the run',
  ],
  rows: samples.map((s) => [s.backend, s.rounds, s.trainMs, s.longTasks, s.longTaskMs, s.longestMs, s.idleFps, s.trainingFps]),
  note: 'Long tasks: PerformanceObserver "longtask" entries (> 50 ms) from the run’s start to its end; fps: requestAnimationFrame callbacks per second.',
};
printTable(table);
const worst = samples.reduce((a, b) => (b.longTaskMs > a.longTaskMs ? b : a), samples[0]!);
finish({
  name: 'tab-runtime',
  title: 'Tab runtime: the main thread while a tab trains',
  description:
    'One participant page in headless Chromium trains rounds of a Reptile run on the MNIST MLP, on its main thread or in its training Worker (?runtime=worker): long tasks on the page’s main thread and the frame rate of an animation, idle and during the run, per forced backend.',
  ...runInfo(started, quick),
  headline: samples.map(
    (s) =>
      `${s.backend} on the ${s.runtime === 'worker' ? 'Worker' : 'page'}: ${s.longTasks.toFixed(1)} long tasks per round (${s.longTaskMs.toFixed(0)} ms of ${s.trainMs.toFixed(0)} ms training; longest ${s.longestMs.toFixed(0)} ms), ${s.idleFps.toFixed(0)} fps idle, ${s.trainingFps.toFixed(0)} fps during the run`,
  ),
  tables: [table],
  notes: [
    `The goal of the Worker is no long task from training: the most here is ${worst.backend} on the ${worst.runtime}'s ${worst.longTaskMs.toFixed(0)} ms per round.`,
    'Headless Chromium draws frames without a display, and SwiftShader renders WebGL on the same 2 cores: the frame rates compare idle with training here, not with a real screen.',
  ],
  data: { samples, rounds: ROUNDS, idleMs: IDLE_MS },
});
process.exit(0);
