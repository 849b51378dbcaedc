/**
 * bench/dashboard.ts — whether the admin dashboard stays responsive while many participants change state.
 *
 *   npx tsx bench/dashboard.ts [--participants 500,2000,5000] [--rate 400] [--seconds 10] [--timeout-s 600] [--quick]
 *
 * Why: every participant reports its state (waiting, downloading, training, uploading) several times a round,
 * and the hub forwards those changes to every open dashboard. With thousands of participants that stream can
 * freeze the dashboard's main thread (the page stops answering clicks and scrolling) and cost the hub's
 * bandwidth. Measured per participant count N:
 *
 *   - a real hub (createHub, temp data dir, 127.0.0.1 port 0) serving the dashboard built from this tree (vite
 *     build into a temp dir, so the numbers are always this source's, and apps/web/dist is left alone);
 *   - N scripted participants saying hello over real socket.io connections from a second process
 *     (bench/ingest-clients.ts), then reporting state changes at `rate` per second in all, each from a random one;
 *   - the dashboard in Debian's Chromium (headless), signed in with the token: a probe in the page measures the
 *     main thread's delay (a 10 ms timer's lateness, p50/p95/max; frame gaps; long tasks), and the hub counts
 *     the bytes it sends the dashboard's connection; after the churn stops, the rows the dashboard shows are
 *     compared with the hub's registry (they must agree: fast but stale would not count);
 *   - rows of the same script run on the tree before the dashboard's updates were coalesced as diffs and its
 *     table paged, if bench/baselines/dashboard-before.json exists (measured earlier, on this machine).
 *
 * Chromium, the hub and the clients share this machine's cores, as on a small server with a dashboard open on
 * it; every wait is bounded and the process exits by itself.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium, type Browser, type Page } from '@playwright/test';
import { createHub, type Hub } from '../apps/server/src/hub.js';
import {
  BENCH_DIR,
  REPO_ROOT,
  finish,
  listen,
  numberList,
  parseFlags,
  positiveInt,
  printTable,
  runInfo,
  withTimeout,
  type BenchResult,
  type Cell,
  type Table,
} from './lib.js';
import { ClientProcess } from './ingest-clients.js';

const HELP = `Usage: npx tsx bench/dashboard.ts [options]
  --participants LIST  registered participants per phase           [500,2000,5000; quick 100,300]
  --rate N             state changes per second, all together      [400; quick 200]
  --seconds N          measured seconds of churn per phase         [10; quick 3]
  --timeout-s N        hard limit for the whole benchmark          [600]
  --quick              small sizes: runs in well under a minute
  -h, --help`;

const TOKEN = 'bench-admin-token-0123456789';
const WEB_DIR = join(REPO_ROOT, 'apps/web');
const BASELINE = join(BENCH_DIR, 'baselines/dashboard-before.json');
/** Churn before the measured window, so the window sees the steady state and not the start. */
const WARM_UP_MS = 2_000;
/** After the churn stops: long enough for any coalescing interval to have sent the last changes. */
const SETTLE_MS = 1_500;

/** What the probe in the page gathered over the window. */
interface PageSample {
  /** How late a 10 ms timer fired, ms, one per firing. */
  lags: number[];
  /** Gaps between animation frames, ms. */
  gaps: number[];
  longTaskMs: number;
  longTasks: number;
}

interface PhaseResult {
  participants: number;
  rate: number;
  seconds: number;
  /** Status messages the clients sent in the window (rate check). */
  sentPerSecond: number;
  /** Bytes (socket.io packets as encoded) the hub sent the dashboard's connection per second, and messages. */
  bytesPerSecond: number;
  participantMessagesPerSecond: number;
  /** Size of the whole participant list as JSON: what one full-list message costs at this N. */
  fullListBytes: number;
  lagMs: { p50: number; p95: number; max: number };
  frameGapMs: { p95: number; max: number };
  longTaskMsPerSecond: number;
  /** Fraction of the window the hub's process (this one) spent busy. */
  hubEventLoopUtilization: number;
  /** <tr> elements in the participants table at the end, and how many of those disagreed with the hub. */
  domRows: number;
  staleRows: number;
}

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Builds the web app from this tree into a temp dir, so a stale apps/web/dist is never what is measured. */
function buildWeb(): string {
  const outDir = mkdtempSync(join(tmpdir(), 'tabula-bench-dashboard-web-'));
  const built = spawnSync(join(WEB_DIR, 'node_modules/.bin/vite'), ['build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: WEB_DIR,
    stdio: 'inherit',
  });
  if (built.status !== 0) throw new Error(`vite build failed (${built.error?.message ?? `exit ${built.status}`})`);
  return outDir;
}

function gitCommit(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim();
  const dirty =
    spawnSync('git', ['status', '--porcelain', '--', 'apps', 'packages'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim() !== '';
  return `${head || 'unknown'}${dirty ? ' + uncommitted changes' : ''}`;
}

/**
 * Installed in the page once signed in; `benchProbe.reset()` starts the window. Plain JavaScript source: tsx
 * would wrap a TypeScript function's inner functions in a `__name` helper the page does not have.
 */
const PROBE = `(() => {
  const sample = { lags: [], gaps: [], longTaskMs: 0, longTasks: 0 };
  let expected = performance.now() + 10;
  const tick = () => {
    const now = performance.now();
    sample.lags.push(Math.max(0, now - expected));
    expected = now + 10;
    setTimeout(tick, 10);
  };
  setTimeout(tick, 10);
  let last = performance.now();
  const frame = (t) => {
    sample.gaps.push(t - last);
    last = t;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      sample.longTaskMs += entry.duration;
      sample.longTasks++;
    }
  }).observe({ type: 'longtask' });
  window.benchProbe = {
    reset() {
      sample.lags = [];
      sample.gaps = [];
      sample.longTaskMs = 0;
      sample.longTasks = 0;
    },
    read: () => sample,
  };
})()`;

const probe = (page: Page, op: 'reset' | 'read') =>
  page.evaluate<PageSample | undefined>(op === 'read' ? 'window.benchProbe.read()' : 'window.benchProbe.reset()');

/** Counts what the hub sends each admin connection, as encoded socket.io packets (before WebSocket framing). */
function countAdminTraffic(hub: Hub): { bytes: number; participantMessages: number } {
  const counter = { bytes: 0, participantMessages: 0 };
  hub.io.on('connection', (socket) => {
    if (socket.data.role !== 'admin') return;
    socket.conn.on('packetCreate', (packet: { data?: unknown }) => {
      const data = packet.data;
      if (typeof data === 'string') {
        counter.bytes += Buffer.byteLength(data);
        if (data.startsWith('2["admin:participants"')) counter.participantMessages++;
      } else if (data instanceof Uint8Array || data instanceof ArrayBuffer) counter.bytes += data.byteLength;
    });
  });
  return counter;
}

async function phase(browser: Browser, webRoot: string, N: number, rate: number, seconds: number): Promise<PhaseResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tabula-bench-dashboard-'));
  const clients = new ClientProcess();
  let hub: Hub | null = null;
  const context = await browser.newContext();
  try {
    hub = await createHub({ dataDir, adminToken: TOKEN, webRoot });
    const traffic = countAdminTraffic(hub);
    const url = await listen(hub.http);
    const t = performance.now();
    await clients.request({ op: 'connect-hub', url, count: N, first: 0, length: 0, segments: [] }, 60_000 + 100 * N);
    console.log(`  N ${N}: ${N} participants connected in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    if (hub.registry.connected().length !== N)
      throw new Error(`the hub sees ${hub.registry.connected().length} participants, expected ${N}`);

    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${url}/admin/`);
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`${N} connected of ${N} known`).waitFor({ timeout: 60_000 });
    await page.evaluate(PROBE);

    await clients.request({ op: 'churn', perSecond: rate });
    await sleep(WARM_UP_MS);
    // Restarted at the window's start, the churn's count is the window's.
    await clients.request({ op: 'churn', perSecond: rate });
    await probe(page, 'reset');
    const bytes0 = traffic.bytes;
    const messages0 = traffic.participantMessages;
    const elu0 = performance.eventLoopUtilization();
    const w0 = performance.now();
    await sleep(seconds * 1000);
    const sample = await withTimeout(probe(page, 'read'), 60_000, 'the page probe');
    const windowS = (performance.now() - w0) / 1000;
    const elu = performance.eventLoopUtilization(elu0);
    const bytes = traffic.bytes - bytes0;
    const messages = traffic.participantMessages - messages0;
    const sent = (await clients.request({ op: 'churn', perSecond: 0 })).sent ?? 0;
    const churnS = (performance.now() - w0) / 1000;
    if (!sample) throw new Error('the page probe returned nothing');

    await sleep(SETTLE_MS);
    const rows = await withTimeout(
      page.evaluate<[string, string][]>(
        `Array.from(document.querySelectorAll('[data-testid=participants] tbody tr[data-participant]'), (tr) => [tr.dataset.participant, tr.dataset.state])`,
      ),
      60_000,
      'the table rows',
    );
    const theHub = hub;
    const staleRows = rows.filter(([id, state]) => theHub.registry.get(id)?.state !== state).length;
    if (pageErrors.length) throw new Error(`the dashboard threw: ${pageErrors.slice(0, 3).join(' | ')}`);
    const result: PhaseResult = {
      participants: N,
      rate,
      seconds: windowS,
      sentPerSecond: sent / churnS,
      bytesPerSecond: bytes / windowS,
      participantMessagesPerSecond: messages / windowS,
      fullListBytes: Buffer.byteLength(JSON.stringify(hub.registry.list())),
      lagMs: { p50: percentile(sample.lags, 0.5), p95: percentile(sample.lags, 0.95), max: Math.max(...sample.lags) },
      frameGapMs: { p95: percentile(sample.gaps, 0.95), max: Math.max(...sample.gaps) },
      longTaskMsPerSecond: sample.longTaskMs / windowS,
      hubEventLoopUtilization: elu.utilization,
      domRows: rows.length,
      staleRows,
    };
    console.log(
      `  N ${N}: delay p50 ${result.lagMs.p50.toFixed(1)} / p95 ${result.lagMs.p95.toFixed(0)} / max ${result.lagMs.max.toFixed(0)} ms · ${(result.bytesPerSecond / 1e3).toFixed(0)} kB/s to the dashboard · ${rows.length} rows, ${staleRows} stale`,
    );
    return result;
  } finally {
    await context.close().catch((e: unknown) => console.error(String(e)));
    await clients.request({ op: 'close' }, 30_000).catch((e: unknown) => console.error(String(e)));
    clients.close();
    if (hub) await withTimeout(hub.close(), 30_000, 'the hub to close').catch((e: unknown) => console.error(String(e)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Rows of the same script's run on the earlier dashboard, if recorded. */
function baseline(): { label: string; phases: PhaseResult[] } | null {
  if (!existsSync(BASELINE)) return null;
  const before = JSON.parse(readFileSync(BASELINE, 'utf8')) as BenchResult & { data: { commit: string; phases: PhaseResult[] } };
  return { label: `before (${before.data.commit}, ${before.date.slice(0, 10)})`, phases: before.data.phases };
}

function row(label: string, p: PhaseResult): Cell[] {
  return [
    p.participants,
    label,
    Math.round(p.sentPerSecond),
    p.lagMs.p50,
    p.lagMs.p95,
    p.lagMs.max,
    p.frameGapMs.p95,
    p.longTaskMsPerSecond,
    p.bytesPerSecond / 1e3,
    p.participantMessagesPerSecond,
    p.fullListBytes / 1e3,
    p.hubEventLoopUtilization * 100,
    p.domRows,
    p.staleRows,
  ];
}

async function main(): Promise<void> {
  const values = parseFlags(
    { participants: { type: 'string' }, rate: { type: 'string' }, seconds: { type: 'string' }, 'timeout-s': { type: 'string' } },
    HELP,
  );
  const quick = values.quick === true;
  const counts = numberList(values.participants ?? (quick ? '100,300' : '500,2000,5000'), 'participants');
  const rate = positiveInt(values.rate ?? (quick ? '200' : '400'), 'rate');
  const seconds = positiveInt(values.seconds ?? (quick ? '3' : '10'), 'seconds');
  const timeoutS = positiveInt(values['timeout-s'] ?? '600', 'timeout-s');
  const started = performance.now();
  setTimeout(() => {
    console.error(`dashboard: hard limit of ${timeoutS} s reached; exiting`);
    process.exit(3);
  }, timeoutS * 1000).unref();

  const commit = gitCommit();
  console.log(`dashboard: participants ${counts.join(', ')} · ${rate} state changes/s · ${seconds} s measured each · tree ${commit}`);
  const webRoot = buildWeb();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--disable-sync'] });
  const phases: PhaseResult[] = [];
  const skipped: string[] = [];
  try {
    for (const N of counts) {
      try {
        phases.push(await phase(browser, webRoot, N, rate, seconds));
      } catch (error) {
        const message = `N = ${N} could not be measured: ${error instanceof Error ? error.message : String(error)}`;
        console.error(`dashboard: ${message}`);
        skipped.push(message);
      }
    }
  } finally {
    await browser.close();
    rmSync(webRoot, { recursive: true, force: true });
  }

  const before = baseline();
  const table: Table = {
    title: `Dashboard under churn: ${rate} state changes/s from N participants, ${seconds} s measured after ${WARM_UP_MS / 1000} s of warm-up`,
    columns: [
      'participants',
      'dashboard',
      'changes/s sent',
      'delay p50 ms',
      'delay p95 ms',
      'delay max ms',
      'frame gap p95 ms',
      'long tasks ms/s',
      'kB/s to dashboard',
      'participant msgs/s',
      'full list kB',
      'hub busy %',
      'table rows in DOM',
      'rows stale',
    ],
    rows: counts.flatMap((N) => [
      ...(before?.phases.filter((p) => p.participants === N).map((p) => row(before.label, p)) ?? []),
      ...phases.filter((p) => p.participants === N).map((p) => row(`this tree (${commit})`, p)),
    ]),
    note: "delay = how late a 10 ms timer in the page fires (the main thread was busy); frame gap = time between animation frames; long tasks = main-thread tasks over 50 ms. kB/s = socket.io packets the hub sent the dashboard's connection; participant msgs/s = admin:participants messages. full list = the whole participant list as JSON, what one full-list message costs at that N. hub busy = event-loop utilization of the hub's process. rows stale = rows in the DOM whose state disagrees with the hub 1.5 s after the churn stopped.",
  };
  printTable(table);
  const headline = [
    // The largest count first: RESULTS.md's contents line quotes the first.
    ...[...phases]
      .sort((a, b) => b.participants - a.participants)
      .map((p) => {
        const old = before?.phases.find((b) => b.participants === p.participants);
        const then = old
          ? `; before: p95 ${old.lagMs.p95.toFixed(0)} ms, max ${old.lagMs.max.toFixed(0)} ms, ${(old.bytesPerSecond / 1e3).toFixed(0)} kB/s`
          : '';
        return `${p.participants.toLocaleString('en-US')} participants, ${Math.round(p.sentPerSecond)} changes/s: dashboard main-thread delay p95 ${p.lagMs.p95.toFixed(0)} ms, max ${p.lagMs.max.toFixed(0)} ms; ${(p.bytesPerSecond / 1e3).toFixed(0)} kB/s to the dashboard${then}`;
      }),
    ...skipped,
  ];
  const notes = [
    "Chromium (headless, its renderer included), the hub and the scripted participants' process share this machine's cores: delays include that competition, as they would on a small server with the dashboard open on it.",
    ...(before
      ? [
          `"${before.label}" rows: the same script, run on this machine on the tree before the dashboard took diffs and paged its table (the hub sent the whole list to every dashboard every 200 ms while anything changed, and the table rebuilt every row). Measured at another time: compare them loosely, not to the millisecond.`,
        ]
      : []),
    // Why diffs and not coalesced snapshots: what a whole list per message would cost at the same message rate.
    ...phases.map(
      (p) =>
        `${p.participants} participants: a whole list per message (${(p.fullListBytes / 1e3).toFixed(0)} kB) at the ${p.participantMessagesPerSecond.toFixed(1)} messages/s measured would be ${((p.fullListBytes * p.participantMessagesPerSecond) / 1e3).toFixed(0)} kB/s, and a full re-read of the list each time; the diffs were ${(p.bytesPerSecond / 1e3).toFixed(0)} kB/s in all.`,
    ),
    ...phases
      .filter((p) => p.staleRows > 0)
      .map(
        (p) =>
          `${p.participants} participants: ${p.staleRows} of ${p.domRows} rows still disagreed with the hub ${SETTLE_MS / 1000} s after the churn stopped.`,
      ),
  ];
  finish({
    name: 'dashboard',
    title: 'Dashboard under participant churn',
    description:
      "A real hub (createHub, port 0) serves the dashboard built from this tree to headless Chromium, signed in; N scripted socket.io participants (a second process) report state changes at a fixed total rate. Measured over a window: how late the page's main thread runs a 10 ms timer (p50/p95/max), frame gaps, long tasks, the bytes the hub sends the dashboard, the hub's event-loop load; afterwards, whether the rows shown agree with the hub.",
    ...runInfo(started, quick),
    headline,
    tables: [table],
    notes,
    data: { commit, rate, seconds, warmUpMs: WARM_UP_MS, phases, skipped },
  });
  if (phases.length === 0) process.exitCode = 1;
  setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
