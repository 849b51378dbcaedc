import {
  MNIST_CNN,
  MNIST_MLP,
  checkMamlGradient,
  disposeAll,
  initialWeights,
  sgdStep,
  tf,
  toTensors,
  useBackend,
  type MetaGradientCheck,
  type ModelSpec,
} from '@tabula/core';
import '@tensorflow/tfjs-backend-webgpu';
import { errorMessage } from '../shared/dom.js';
import {
  BACKENDS,
  adapterName,
  chooseBackend,
  isSoftwareAdapter,
  isSoftwareRenderer,
  median,
  type BackendName,
  type BackendProbe,
  type GpuAdapterInfo,
  type ModelKind,
} from './backend-choice.js';
import { configureWasmPaths } from './wasm-paths.js';

/** What the page shows about its backend. */
export interface BackendReport {
  readonly backend: BackendName;
  /** The WebGL renderer string (unmasked when the browser allows), or null without WebGL. */
  readonly renderer: string | null;
  readonly software: boolean;
  /** The WebGPU adapter ("google swiftshader"), or null without WebGPU. */
  readonly gpuAdapter: string | null;
  readonly softwareGpu: boolean;
  readonly reason: string;
  readonly probes: readonly BackendProbe[];
  /** Chosen by ?backend=... rather than automatically. */
  readonly forced: boolean;
}

/** Timed steps per candidate stop at this budget (after one untimed warm-up step). */
const BENCH_BUDGET_MS = 250;
const BENCH_MAX_STEPS = 5;
const BENCH_BATCH = 32;

export function webglRenderer(): string | null {
  try {
    const canvas = document.createElement('canvas');
    const gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
    if (!gl) return null;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return renderer;
  } catch {
    return null;
  }
}

/** Read once and kept: an adapter this page requested and then dropped took the browser's WebGPU instance down with it. */
let adapterRead: Promise<{ info: GpuAdapterInfo } | null> | null = null;

/** The WebGPU adapter the browser gives (null: no WebGPU, or no adapter); `navigator.gpu` is typed here, not globally. */
export function webgpuAdapter(): Promise<{ info: GpuAdapterInfo } | null> {
  adapterRead ??= (async () => {
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: GpuAdapterInfo } | null> } }).gpu;
    if (!gpu) return null;
    try {
      const adapter = await gpu.requestAdapter();
      return adapter ? { adapter, info: adapter.info ?? {} } : null;
    } catch {
      return null;
    }
  })();
  return adapterRead;
}

/** Initialises a backend; throws with the reason when it cannot be used here. */
export async function activateBackend(name: BackendName): Promise<void> {
  if (name === 'webgpu') {
    if (!('gpu' in navigator)) throw new Error('this browser has no WebGPU (navigator.gpu)');
    if (!(await webgpuAdapter())) throw new Error('the browser offers no WebGPU adapter');
  }
  if (name === 'wasm') {
    if (typeof WebAssembly === 'undefined') throw new Error('this browser has no WebAssembly');
    configureWasmPaths();
  }
  if (name === 'webgl' && webglRenderer() === null) throw new Error('no WebGL context could be created');
  await useBackend(name);
}

/** Median ms per training step (batch 32, random data) of `spec` on the active backend, after one warm-up step. */
export async function measureActive(
  spec: ModelSpec = MNIST_MLP,
  budgetMs = BENCH_BUDGET_MS,
  maxSteps = BENCH_MAX_STEPS,
): Promise<{ msPerStep: number; firstStepMs: number; steps: number }> {
  let params = toTensors(spec, initialWeights(spec, 1));
  const x = tf.randomUniform([BENCH_BATCH, ...spec.inputShape]);
  const y = tf.oneHot(tf.randomUniform<tf.Rank.R1>([BENCH_BATCH], 0, spec.outputs, 'int32'), spec.outputs).toFloat() as tf.Tensor2D;
  const step = async (): Promise<number> => {
    const started = performance.now();
    const next = sgdStep(spec, params, x, y, 0.01);
    await next.loss.data();
    next.loss.dispose();
    disposeAll(params);
    params = next.params;
    return performance.now() - started;
  };
  try {
    const firstStepMs = await step(); // warm-up: kernel compilation, shader programs
    const times: number[] = [];
    const started = performance.now();
    while (times.length < maxSteps && performance.now() - started < budgetMs) times.push(await step());
    return { msPerStep: median(times), firstStepMs, steps: times.length };
  } finally {
    disposeAll(params);
    tf.dispose([x, y]);
  }
}

/** One backend and model measured on demand (the page's test hook exposes this for bench/backends.ts). */
export async function measureBackend(
  name: BackendName,
  model: 'mlp' | 'cnn',
  budgetMs = 2000,
): Promise<{ msPerStep: number; firstStepMs: number; steps: number }> {
  const previous = tf.getBackend() as BackendName;
  await activateBackend(name);
  try {
    return await measureActive(model === 'cnn' ? MNIST_CNN : MNIST_MLP, budgetMs, 200);
  } finally {
    await activateBackend(previous);
  }
}

/** Full MAML's meta-gradient against finite differences on one backend (core's check), then back to the tab's backend. */
export async function checkGradientOn(name: BackendName): Promise<MetaGradientCheck> {
  const previous = tf.getBackend() as BackendName;
  await activateBackend(name);
  try {
    return await checkMamlGradient();
  } finally {
    await activateBackend(previous);
  }
}

async function benchmarkActive(): Promise<number> {
  return (await measureActive()).msPerStep;
}

/**
 * `?backend=` given: exactly that one, or an error saying why it is unavailable. Otherwise probe WebGPU, WebGL,
 * WASM and CPU, benchmark each briefly (a software WebGL renderer is not benchmarked while WASM works: it is
 * known to be slower here and its shader compiles alone take about a second; a software WebGPU adapter likewise), and
 * keep the fastest.
 */
export async function selectBackend(requested: BackendName | null, model: ModelKind = 'mlp'): Promise<BackendReport> {
  const renderer = webglRenderer();
  const software = isSoftwareRenderer(renderer);
  const adapter = await webgpuAdapter();
  const gpu = { gpuAdapter: adapter ? adapterName(adapter.info) : null, softwareGpu: isSoftwareAdapter(adapter?.info) };
  if (requested) {
    try {
      await activateBackend(requested);
    } catch (error) {
      throw new Error(`backend ${requested} was requested but is unavailable: ${errorMessage(error)}`, { cause: error });
    }
    const probe: BackendProbe = { name: requested, available: true };
    return {
      backend: requested,
      renderer,
      software,
      ...gpu,
      reason: `requested with ?backend=${requested}`,
      probes: [probe],
      forced: true,
    };
  }

  const probes: BackendProbe[] = [];
  const wasmWorks = await canActivate('wasm');
  for (const name of BACKENDS) {
    try {
      if (name === 'webgl' && software && wasmWorks) {
        await activateBackend(name);
        probes.push({
          name,
          available: true,
          skippedReason: `WebGL renders in software (${shortRenderer(renderer)}), so it was not benchmarked`,
        });
        continue;
      }
      // The same for WebGPU on the browser's software adapter: slower here than WASM, and its pipelines take long to
      // build. The adapter says it is there; a device is not created for nothing (several tabs' software devices at once
      // lose the browser's WebGPU instance).
      if (name === 'webgpu' && gpu.softwareGpu && wasmWorks) {
        probes.push({
          name,
          available: true,
          skippedReason: `WebGPU runs in software (${gpu.gpuAdapter ?? 'fallback adapter'}), so it was not benchmarked`,
        });
        continue;
      }
      await activateBackend(name);
    } catch (error) {
      probes.push({ name, available: false, unavailableReason: errorMessage(error) });
      continue;
    }
    try {
      probes.push({ name, available: true, msPerStep: await benchmarkActive() });
    } catch (error) {
      probes.push({ name, available: false, unavailableReason: `failed a training step: ${errorMessage(error)}` });
    }
  }
  const choice = chooseBackend(probes, model);
  await activateBackend(choice.backend);
  return { backend: choice.backend, renderer, software, ...gpu, reason: choice.reason, probes, forced: false };
}

async function canActivate(name: BackendName): Promise<boolean> {
  try {
    await activateBackend(name);
    return true;
  } catch {
    return false;
  }
}

function shortRenderer(renderer: string | null): string {
  if (!renderer) return 'unknown renderer';
  const match = /swiftshader|llvmpipe|softpipe/i.exec(renderer);
  return match ? match[0].replace(/^swiftshader$/i, 'SwiftShader') : renderer;
}
