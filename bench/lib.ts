/**
 * Shared helpers for Tabula's benchmarks: flags, machine description, seeded data, medians, tables, GC, and the
 * result JSON that bench/run.ts turns into bench/RESULTS.md.
 *
 * Timing rule for every benchmark here: the machine is small and shared (2 cores, other work running), so
 * absolute numbers drift by tens of percent between runs. Contenders are therefore measured side by side in the
 * same process, interleaved round-robin (the order rotates every repetition), and compared through medians of
 * several repetitions and through ratios of those medians.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(BENCH_DIR, '..');
/** Where results go; TABULA_BENCH_RESULTS_DIR redirects them (for experiments that must not replace the figures). */
export const RESULTS_DIR = process.env.TABULA_BENCH_RESULTS_DIR ?? join(BENCH_DIR, 'results');

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly ramGiB: number;
  readonly node: string;
  readonly os: string;
}

/** os.loadavg() when this module was loaded (the benchmark's start), for BenchResult.loadAverage. */
export const LOAD_AT_START: readonly number[] = os.loadavg().map((x) => Math.round(x * 100) / 100);

export function loadAverage(): { start: readonly number[]; end: readonly number[] } {
  return { start: LOAD_AT_START, end: os.loadavg().map((x) => Math.round(x * 100) / 100) };
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

export function describeMachine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, Node ${m.node}, ${m.os}`;
}

/** The command that reproduces this run, as typed from the repository root. */
export function commandLine(): string {
  const script = relative(REPO_ROOT, process.argv[1] ?? '');
  const args = process.argv.slice(2).map((a) => (/^[\w./=,:@+-]+$/.test(a) ? a : JSON.stringify(a)));
  const direct = ['npx tsx', script, ...args].join(' ');
  // bench/run.ts says how it was started (e.g. `npm run bench:codec -- --quick`).
  const via = process.env.TABULA_BENCH_VIA;
  return via ? `${direct} (run by: ${via})` : direct;
}

// ---- flags --------------------------------------------------------------------------------------------------

/** "80000,1.6e6,2M" -> numbers; k/M suffixes allowed. */
export function numberList(text: string, flag: string): number[] {
  return text.split(',').map((part) => {
    const t = part.trim();
    const m = /^([0-9.e+]+)([kKmM]?)$/.exec(t);
    const n = m ? Number(m[1]) * (m[2] === 'k' || m[2] === 'K' ? 1e3 : m[2] === 'm' || m[2] === 'M' ? 1e6 : 1) : Number.NaN;
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag}: "${part}" is not a positive number`);
    return Math.round(n);
  });
}

export function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag}: expected a positive integer, got "${text}"`);
  return n;
}

export function failUsage(message: string, help: string): never {
  console.error(`${message}\n\n${help}`);
  process.exit(2);
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;
const SHARED_FLAGS = { quick: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } as const;

/**
 * A benchmark's own flags plus the shared --quick and --help: a bad flag prints its message and the help (exit
 * 2), --help prints the help (exit 0).
 */
export function parseFlags<O extends FlagOptions>(options: O, help: string) {
  let values;
  try {
    ({ values } = parseArgs({ options: { ...options, ...SHARED_FLAGS }, strict: true }));
  } catch (error) {
    failUsage((error as Error).message, help);
  }
  if ((values as { help?: boolean }).help) {
    console.log(help);
    process.exit(0);
  }
  return values;
}

// ---- statistics ---------------------------------------------------------------------------------------------

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function min(xs: readonly number[]): number {
  return xs.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
}

/** Relative spread of samples: (max - min) / median, a quick noise indicator. */
export function spread(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  return (Math.max(...xs) - Math.min(...xs)) / median(xs);
}

/**
 * Median over repetitions of `a[i] / b[i]`: samples of the same repetition ran next to each other in time, so
 * their ratio cancels slow drifts in machine load that a ratio of two medians would not.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.map((x, i) => x / b[i]!));
}

/**
 * Runs each contender `reps` times, round-robin, rotating the starting contender every repetition so that none
 * always runs first (after GC) or last. `run` returns a measured duration in ms. Returns durations per contender.
 */
export async function interleave<K extends string>(
  contenders: readonly K[],
  reps: number,
  run: (contender: K, rep: number) => number | Promise<number>,
): Promise<Record<K, number[]>> {
  const samples = Object.fromEntries(contenders.map((c) => [c, [] as number[]])) as Record<K, number[]>;
  for (let rep = 0; rep < reps; rep++) {
    for (let j = 0; j < contenders.length; j++) {
      const c = contenders[(rep + j) % contenders.length]!;
      samples[c].push(await run(c, rep));
    }
  }
  return samples;
}

// ---- data ---------------------------------------------------------------------------------------------------

/** mulberry32: deterministic, fast, good enough for benchmark inputs. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A delta-like vector: normal(0, scale) values (Box-Muller). */
export function gaussianVector(length: number, seed: number, scale = 0.01): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i += 2) {
    const u = Math.max(next(), 1e-12);
    const v = next();
    const r = scale * Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

// ---- memory -------------------------------------------------------------------------------------------------

let gcFn: (() => void) | null = null;

/** A full, synchronous garbage collection, without needing `node --expose-gc` on the command line. */
export function fullGc(): void {
  if (!gcFn) {
    const existing = (globalThis as { gc?: () => void }).gc;
    if (existing) gcFn = existing;
    else {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    }
  }
  gcFn();
  gcFn();
}

export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly arrayBuffers: number;
  readonly external: number;
}

/** Memory after a full GC: what is really retained. */
export function retainedMemory(): MemorySample {
  fullGc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, external: m.external };
}

/** Rejects with a message naming `what` when `promise` takes longer than `ms`: every wait in a benchmark is bounded. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts `http` on a free loopback port; resolves to its base URL. */
export function listen(http: HttpServer): Promise<string> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(http.address() as AddressInfo).port}`));
  });
}

export const MB = 1e6;
export const MiB = 2 ** 20;

// ---- output -------------------------------------------------------------------------------------------------

export type Cell = string | number;

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** Printed under the table. */
  readonly note?: string;
}

export interface BenchResult {
  readonly name: string;
  readonly title: string;
  /** What is measured and why, one paragraph. */
  readonly description: string;
  readonly command: string;
  readonly date: string;
  readonly quick: boolean;
  readonly machine: Machine;
  readonly seconds: number;
  /** os.loadavg() (1, 5, 15 min) when the benchmark started and ended: high values mean other work competed. */
  readonly loadAverage?: { readonly start: readonly number[]; readonly end: readonly number[] };
  /** The few numbers that matter, one line each. */
  readonly headline: readonly string[];
  readonly tables: readonly Table[];
  readonly notes: readonly string[];
  /** Raw measurements (samples, parameters) for anyone who wants to recompute. */
  readonly data: unknown;
}

/** 1234567 -> "1,234,567"; fractional numbers get `digits` significant decimals. */
export function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  const abs = Math.abs(x);
  const d = abs >= 100 ? 0 : abs >= 10 ? Math.max(0, digits - 1) : digits;
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function printTable(table: Table): void {
  const cells = [table.columns, ...table.rows].map((row) => row.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = table.columns.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
  console.log(`\n${table.title}`);
  console.log(line(cells[0]!));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
  if (table.note) console.log(table.note);
}

export function writeResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${result.name}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

/** The fields every BenchResult fills the same way: how it was started, when, where, and how long it took. */
export function runInfo(started: number, quick: boolean): Pick<BenchResult, 'command' | 'date' | 'quick' | 'machine' | 'seconds'> {
  return {
    command: commandLine(),
    date: new Date().toISOString(),
    quick,
    machine: machine(),
    seconds: (performance.now() - started) / 1000,
  };
}

/** Prints the headline and notes, writes the JSON, and says where. */
export function finish(result: BenchResult): void {
  console.log(`\n${result.title}: headline`);
  for (const h of result.headline) console.log(`  - ${h}`);
  for (const n of result.notes) console.log(`  note: ${n}`);
  const path = writeResult({ ...result, loadAverage: result.loadAverage ?? loadAverage() });
  console.log(`\nwrote ${relative(process.cwd(), path) || path} (${result.seconds.toFixed(1)} s)`);
}

/** Gives the event loop a turn (lets timers and I/O run between measurements). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Fine-tuning learning rates a simulation chooses from on its validation participants (SimOptions.adaptLrs): the
 * inner lr times these factors. bench/learning.ts and bench/tune.ts share them, so a tuned preset is judged as run.
 */
export const ADAPT_LR_FACTORS = [0.1, 0.3, 1, 3, 10] as const;
/** The factors of results recorded before ×10 joined (a head fitted from zero wants larger steps than fine-tuning). */
export const ADAPT_LR_FACTORS_BEFORE = [0.1, 0.3, 1, 3] as const;

export function adaptLrsAround(innerLr: number): number[] {
  return ADAPT_LR_FACTORS.map((f) => Number((innerLr * f).toPrecision(3)));
}

/**
 * Renders each SVG to RESULTS_DIR/NAME.png in Debian's Chromium (CHROMIUM_PATH overrides /usr/bin/chromium), for the
 * plots RESULTS.md shows. Returns the paths written, in order.
 */
export async function renderPngs(svgs: readonly { name: string; svg: string }[]): Promise<string[]> {
  if (!svgs.length) return [];
  const { chromium } = await import('@playwright/test');
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--disable-sync'] });
  const written: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 }, deviceScaleFactor: 1.5 });
    for (const { name, svg } of svgs) {
      await page.setContent(`<!doctype html><html><body style="margin:0;background:white">${svg}</body></html>`);
      const path = join(RESULTS_DIR, `${name}.png`);
      await page.locator('svg').first().screenshot({ path });
      written.push(path);
    }
  } finally {
    await browser.close();
  }
  return written;
}

/** Two-sided 95% quantile of Student's t, df 1..30 (beyond: 1.96). */
export const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export interface Estimate {
  readonly mean: number;
  /** Half-width of the 95% t interval; NaN with one sample. */
  readonly half: number;
  readonly n: number;
}

/** Mean and 95% t interval over seeds (or any small sample). */
export function estimate(xs: readonly number[]): Estimate {
  const n = xs.length;
  if (n === 0) return { mean: Number.NaN, half: Number.NaN, n };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, half: Number.NaN, n };
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, half: (T975[n - 2] ?? 1.96) * Math.sqrt(variance / n), n };
}
