/**
 * bench/backends.ts — ms per training step (batch 32) of the MNIST MLP and CNN on TF.js's webgpu, webgl, wasm and cpu
 * backends inside Debian's Chromium (WebGPU through --enable-unsafe-webgpu: SwiftShader's adapter without a GPU), measured in one page, interleaved over repetitions; and what the
 * participant page's automatic choice picked. Why: the tab's backend choice is a claim ("fastest here") that
 * should rest on a measurement, and WebGL without a GPU is SwiftShader, a software renderer.
 *
 *   npx tsx bench/backends.ts [--reps 3] [--budget-ms 2000] [--quick]
 *
 * Needs the web app built (npm run build) and /usr/bin/chromium (or CHROMIUM_PATH).
 */
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
// `window.tabula`, typed by the participant page's own test hook.
import type {} from '@tabula/web/src/participant/test-hook.js';
import { freePort, startHubProcess } from '../e2e/hub-process.js';
import { failUsage, finish, median, positiveInt, runInfo, spread, type Table } from './lib.js';

const HELP = `Usage: npx tsx bench/backends.ts [--reps N] [--budget-ms MS] [--quick]
  --reps N         interleaved repetitions per backend and model      [3]
  --budget-ms MS   measuring time per repetition after warm-up         [2000]
  --quick          1 repetition of 500 ms`;

const { values: v } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    'budget-ms': { type: 'string', default: '2000' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (v.help) failUsage('', HELP);
const reps = v.quick ? 1 : positiveInt(v.reps, '--reps');
const budgetMs = v.quick ? 500 : positiveInt(v['budget-ms'], '--budget-ms');

const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
const MODELS = ['mlp', 'cnn'] as const;
type Sample = { msPerStep: number; firstStepMs: number; steps: number } | { error: string };

const started = performance.now();
const hub = await startHubProcess(await freePort());
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--disable-sync', '--enable-unsafe-webgpu'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${hub.url}/`);
  await page.waitForFunction(() => typeof window.tabula?.measure === 'function' && window.tabula.backend !== null, null, {
    timeout: 60_000,
  });
  const auto = await page.evaluate(() => ({
    backend: window.tabula.backend,
    reason: document.querySelector('[data-testid="backend-reason"]')?.textContent ?? '',
    renderer: document.querySelector('[data-testid="renderer"]')?.textContent ?? '',
    gpuAdapter: document.querySelector('[data-testid="gpu-adapter"]')?.textContent ?? '',
  }));
  const samples = new Map<string, Sample[]>();
  for (let rep = 0; rep < reps; rep++) {
    for (const model of MODELS) {
      for (const backend of BACKENDS) {
        const sample: Sample = await page.evaluate(
          async ([b, m, budget]) => {
            try {
              return await window.tabula.measure(b, m, budget);
            } catch (error) {
              return { error: error instanceof Error ? error.message : String(error) };
            }
          },
          [backend, model, budgetMs] as const,
        );
        const key = `${model}/${backend}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        console.log(
          `rep ${rep + 1} ${key}: ${'error' in sample ? `error: ${sample.error.slice(0, 120)}` : `${sample.msPerStep.toFixed(1)} ms/step (first step ${sample.firstStepMs.toFixed(0)} ms, ${sample.steps} steps)`}`,
        );
      }
    }
  }
  const msOf = (key: string) => (samples.get(key) ?? []).flatMap((s) => ('error' in s ? [] : [s.msPerStep]));
  const errorOf = (key: string) => (samples.get(key) ?? []).find((s): s is { error: string } => 'error' in s)?.error ?? null;
  const rows = MODELS.flatMap((model) => {
    const fastest = Math.min(...BACKENDS.map((b) => median(msOf(`${model}/${b}`))).filter(Number.isFinite));
    return BACKENDS.map((backend) => {
      const key = `${model}/${backend}`;
      const ms = msOf(key);
      const first = (samples.get(key) ?? []).flatMap((s) => ('error' in s ? [] : [s.firstStepMs]));
      if (!ms.length) return [model, backend, 'cannot train', '–', '–', (errorOf(key) ?? '').slice(0, 80)];
      return [
        model,
        backend,
        median(ms),
        median(first),
        median(ms) / fastest,
        `${spread(ms) === 0 ? '0' : (100 * spread(ms)).toFixed(0)}%`,
      ];
    });
  });
  const table: Table = {
    title: `Median ms per training step, batch 32 (${reps} interleaved repetitions of ${budgetMs} ms after a warm-up step)`,
    columns: ['model', 'backend', 'ms / step', 'first step ms', 'x fastest', 'spread / note'],
    rows,
  };
  const mlp = (b: string) => median(msOf(`mlp/${b}`));
  const cnn = (b: string) => median(msOf(`cnn/${b}`));
  finish({
    name: 'backends',
    title: 'Browser backends: ms per training step in Chromium',
    description:
      "One participant page in headless Debian Chromium (no GPU: WebGL and WebGPU are SwiftShader, software) measures the MNIST MLP (784-100-10) and the small CNN (conv 8, conv 16, dense) training step on webgpu, webgl, wasm and cpu through the page's own measurement hook, interleaved; and records what the page chose automatically on load.",
    ...runInfo(started, v.quick),
    headline: [
      `MLP: webgpu ${mlp('webgpu').toFixed(1)} ms, webgl ${mlp('webgl').toFixed(1)} ms, wasm ${mlp('wasm').toFixed(1)} ms, cpu ${mlp('cpu').toFixed(1)} ms per step (webgl/wasm ${(mlp('webgl') / mlp('wasm')).toFixed(1)}x)`,
      `CNN: webgpu ${cnn('webgpu').toFixed(0)} ms, webgl ${cnn('webgl').toFixed(0)} ms, cpu ${cnn('cpu').toFixed(0)} ms per step; wasm ${Number.isFinite(cnn('wasm')) ? `${cnn('wasm').toFixed(0)} ms` : 'cannot train it (no Conv2DBackpropFilter in tfjs-backend-wasm 4.22)'}`,
      `automatic choice on load: ${auto.backend} — ${auto.reason}`,
    ],
    tables: [table],
    notes: [
      `renderer: ${auto.renderer}`,
      `WebGPU adapter: ${auto.gpuAdapter}`,
      'The tab runs alone here; with many tabs on 2 cores each slows down (SwiftShader and wasm both compete for the same cores).',
    ],
    data: { samples: Object.fromEntries(samples), auto, reps, budgetMs },
  });
} finally {
  await browser.close();
  await hub.stop();
}
