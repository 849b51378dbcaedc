/**
 * bench/run.ts — runs the selected benchmarks (all by default), each in its own Node process so that one's
 * heap does not disturb another's memory figures, then regenerates bench/RESULTS.md from bench/results/*.json.
 *
 *   npx tsx bench/run.ts [aggregate] [codec] [ingest] [--quick] [--report-only] [other flags...]
 *   npm run bench            # all of them (several minutes)
 *   npm run bench:codec -- --quick
 *
 * Flags other than --report-only and --help are passed to every selected benchmark (so pass a benchmark's own
 * flags, e.g. --clients, when running that one alone). A benchmark that fails does not stop the others; the
 * exit status is non-zero if any failed. RESULTS.md always shows the latest JSON of every benchmark, each with
 * its own machine, date and command.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BENCH_DIR, REPO_ROOT, RESULTS_DIR, describeMachine, fmt, machine, type BenchResult, type Cell } from './lib.js';

/** Every bench/<name>.ts but the helpers is a benchmark; these come first, in this order. */
const PREFERRED = ['aggregate', 'codec', 'ingest'];
const HELPERS = new Set(['lib', 'run', 'ingest-clients', 'first-round']);
const BENCHMARKS: readonly string[] = readdirSync(BENCH_DIR)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .filter((name) => !HELPERS.has(name))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
type Name = string;

function rank(name: string): number {
  const i = PREFERRED.indexOf(name);
  return i < 0 ? PREFERRED.length : i;
}

const HELP = `Usage: npx tsx bench/run.ts [${BENCHMARKS.join('] [')}] [--quick] [--report-only] [benchmark flags...]
  (no names)       run every benchmark (every bench/<name>.ts but lib.ts and run.ts)
  --quick          smoke-test sizes (seconds each); RESULTS.md marks those sections as quick
  --report-only    do not run anything: regenerate bench/RESULTS.md from bench/results/*.json
  -h, --help       this text; each benchmark also answers --help (npx tsx bench/<name>.ts --help)`;

/** How the user started this, for RESULTS.md: the npm script if it came through one. */
function invocation(args: readonly string[]): string {
  const event = process.env.npm_lifecycle_event;
  const quote = (list: readonly string[]) => list.map((a) => (/^[\w./=,:@+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
  const quoted = quote(args);
  if (event && event.startsWith('bench')) {
    // `bench:codec` is `tsx bench/run.ts codec`: the script's own name argument is not the user's.
    const own = event.split(':')[1];
    const user = own && args[0] === own ? args.slice(1) : args;
    return `npm run ${event}${user.length ? ` -- ${quote(user)}` : ''}`;
  }
  return `npx tsx bench/run.ts${quoted ? ` ${quoted}` : ''}`;
}

function runBenchmark(name: Name, forward: readonly string[], via: string): boolean {
  const file = join(BENCH_DIR, `${name}.ts`);
  console.log(`\n=== ${name}: npx tsx ${relative(REPO_ROOT, file)} ${forward.join(' ')}`.trimEnd());
  const started = performance.now();
  // process.execArgv carries tsx's loader, so the child runs TypeScript exactly as this process does.
  const child = spawnSync(process.execPath, [...process.execArgv, file, ...forward], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    env: { ...process.env, TABULA_BENCH_VIA: via },
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (child.status === 0) {
    console.log(`=== ${name}: done in ${seconds} s`);
    return true;
  }
  console.error(`=== ${name}: FAILED (${child.error?.message ?? `exit ${child.status ?? child.signal}`}) after ${seconds} s`);
  return false;
}

// ---- RESULTS.md ---------------------------------------------------------------------------------------------

function cell(c: Cell): string {
  return (typeof c === 'number' ? fmt(c) : c).replace(/\|/g, '\\|');
}

function markdownTable(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const head = `| ${columns.map(cell).join(' | ')} |`;
  const rule = `|${columns.map((_, j) => (j === 0 ? ' --- ' : ' ---: ')).join('|')}|`;
  return [head, rule, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

function section(r: BenchResult): string {
  const out: string[] = [];
  out.push(`## ${r.title}${r.quick ? ' (quick mode: smoke-test sizes, not reference figures)' : ''}`);
  out.push('');
  out.push(`- Command: \`${r.command}\``);
  out.push(`- Date: ${r.date} · took ${r.seconds.toFixed(0)} s`);
  out.push(`- Machine: ${describeMachine(r.machine)}`);
  if (r.loadAverage)
    out.push(
      `- Load average (1 min) at start / end: ${r.loadAverage.start[0]} / ${r.loadAverage.end[0]} on ${r.machine.cores} cores${Math.max(r.loadAverage.start[0] ?? 0, r.loadAverage.end[0] ?? 0) > r.machine.cores ? ' (other work competed for the CPU: expect noisier figures)' : ''}`,
    );
  out.push('');
  out.push(r.description);
  out.push('');
  out.push('**Headline**');
  out.push('');
  for (const h of r.headline) out.push(`- ${h}`);
  for (const t of r.tables) {
    out.push('');
    out.push(`**${t.title}**`);
    out.push('');
    out.push(markdownTable(t.columns, t.rows));
    if (t.note) {
      out.push('');
      out.push(`_${t.note}_`);
    }
  }
  if (r.notes.length) {
    out.push('');
    out.push('Notes:');
    out.push('');
    for (const n of r.notes) out.push(`- ${n}`);
  }
  out.push('');
  return out.join('\n');
}

export function writeReport(): string {
  const results: BenchResult[] = [];
  const missing: string[] = [];
  // Every result file, also of a benchmark that has no script here any more; known ones first.
  const stored = existsSync(RESULTS_DIR)
    ? readdirSync(RESULTS_DIR)
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -5))
    : [];
  const names = [...new Set([...BENCHMARKS, ...stored])].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const name of names) {
    const path = join(RESULTS_DIR, `${name}.json`);
    if (existsSync(path)) results.push(JSON.parse(readFileSync(path, 'utf8')) as BenchResult);
    else missing.push(name);
  }
  const m = machine();
  const lines = [
    '# Tabula benchmarks',
    '',
    `Generated by \`bench/run.ts\` from \`bench/results/*.json\` on ${new Date().toISOString()} (this machine: ${describeMachine(m)}). Do not edit by hand: run \`npm run bench\` (everything: the learning benchmark alone takes 20-60 minutes, depending on its flags), \`npm run bench:aggregate\` / \`bench:codec\` / \`bench:ingest\`, \`npx tsx bench/run.ts backends|dashboard|engine|learning|robustness|tune\`, add \`-- --quick\` for a smoke run, or \`npx tsx bench/run.ts --report-only\` to rebuild this page from the JSON.`,
    '',
    'How to read these numbers: the machine is small and shared (2 cores, other work running at the same time), so absolute timings move by tens of percent from run to run. Every comparison below is measured side by side in one process, with the contenders interleaved and medians taken over several repetitions; trust the ratios more than the absolute figures, and compare absolute figures only within one table.',
    '',
    ...results.map(
      (r) =>
        `- [${r.title}](#${r.title
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-')}): ${r.headline[0] ?? ''}`,
    ),
    ...(missing.length ? ['', `Not run yet: ${missing.join(', ')}.`] : []),
    '',
    ...results.map(section),
  ];
  const path = join(BENCH_DIR, 'RESULTS.md');
  writeFileSync(path, `${lines.join('\n').trimEnd()}\n`);
  return path;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(HELP);
    return;
  }
  const names = args.filter((a) => BENCHMARKS.includes(a));
  const reportOnly = args.includes('--report-only');
  // A bare -- (npm's separator, also typed after `bench/run.ts learning`) is not a flag of any benchmark.
  const forward = args.filter((a) => !BENCHMARKS.includes(a) && a !== '--report-only' && a !== '--');
  const unknownName = forward.find((a, i) => !a.startsWith('-') && !(forward[i - 1]?.startsWith('--') && !forward[i - 1]!.includes('=')));
  if (unknownName) {
    console.error(`run: unknown benchmark "${unknownName}" (one of ${BENCHMARKS.join(', ')})\n\n${HELP}`);
    process.exit(2);
  }
  let failed = 0;
  if (!reportOnly) {
    const via = invocation(args);
    for (const name of names.length ? names : BENCHMARKS) if (!runBenchmark(name, forward, via)) failed++;
  }
  const path = writeReport();
  console.log(`\nwrote ${relative(process.cwd(), path)}`);
  if (failed) {
    console.error(`${failed} benchmark(s) failed`);
    process.exit(1);
  }
}

main();
