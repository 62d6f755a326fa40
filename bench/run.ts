/**
 * `npm run bench [-- NAME…] [--format table|json] [--cpu-prof]`: runs every registered
 * benchmark in turn, or only the named ones. Each benchmark is a module exporting one
 * function that returns a BenchReport; adding one is one line in BENCHMARKS.
 *
 * Environment: STRATA_BENCH_RUNS (measured runs, default 3), STRATA_BENCH_SIZE_MIB
 * (image size, default 1024), STRATA_BENCH_CLEAN=1 (also remove the cached image),
 * STRATA_BENCH_FORMAT=json, STRATA_BENCH_CACHE_DIR (where generated images are kept).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runLoadBench } from './load-bench.js';
import { run } from './measure.js';
import { renderHeader, renderJson, renderTable, type BenchContext, type BenchReport } from './report.js';

const BENCHMARKS: Record<string, (ctx: BenchContext) => Promise<BenchReport>> = {
  load: runLoadBench,
  resolver: async (ctx) => (await import('./resolver-bench.js')).runResolverBench(ctx),
  df: async (ctx) => (await import('./df-bench.js')).runDfBench(ctx),
  save: async (ctx) => (await import('./save-bench.js')).runSaveBench(ctx),
  commit: async (ctx) => (await import('./commit-bench.js')).runCommitBench(ctx),
  'df-scale': async (ctx) => (await import('./df-scale-bench.js')).runDfScaleBench(ctx),
  report: async (ctx) => (await import('./report-bench.js')).runReportBench(ctx),
  startup: async (ctx) => (await import('./startup-bench.js')).runStartupBench(ctx),
  pull: async (ctx) => (await import('./pull-bench.js')).runPullBench(ctx),
  run: async (ctx) => (await import('./run-bench.js')).runRunBench(ctx),
  mount: async (ctx) => (await import('./mount-bench.js')).runMountBench(ctx),
};

// dist/bench/run.js → the repository root is two levels up.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  return n;
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string', default: process.env.STRATA_BENCH_FORMAT || 'table' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm run bench [-- NAME… [--format table|json] [--cpu-prof]]\nbenchmarks: ${Object.keys(BENCHMARKS).join(', ')}\n`,
    );
    return 0;
  }
  if (values.format !== 'table' && values.format !== 'json')
    throw new UsageError(`--format must be table or json, not ${JSON.stringify(values.format)}`);
  const unknown = positionals.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) throw new UsageError(`unknown benchmark ${unknown.join(', ')} (known: ${Object.keys(BENCHMARKS).join(', ')})`);
  const names = positionals.length > 0 ? positionals : Object.keys(BENCHMARKS);

  const ctx: BenchContext = {
    repoRoot,
    runs: positiveInt('STRATA_BENCH_RUNS', 3),
    sizeMiB: positiveInt('STRATA_BENCH_SIZE_MIB', 1024),
    clean: process.env.STRATA_BENCH_CLEAN === '1',
    // bench/out/ is git-ignored: profiles are artefacts, never committed.
    cpuProfDir: values['cpu-prof'] ? path.join(repoRoot, 'bench', 'out', 'cpu-prof') : null,
    log: (line) => process.stderr.write(`bench: ${line}\n`),
  };
  const source = await sourceState();
  if (values.format === 'table') process.stdout.write(renderHeader(source));
  const reports: BenchReport[] = [];
  for (const name of names) {
    ctx.log(`${name}: starting (${ctx.runs} runs, ${ctx.sizeMiB} MiB)`);
    const report = await BENCHMARKS[name]!(ctx);
    reports.push(report);
    if (values.format === 'table') process.stdout.write(`${renderTable(report)}\n`);
  }
  if (values.format === 'json') process.stdout.write(renderJson(reports, source));
  return 0;
}

/** Which code was measured: figures from a dirty tree are not figures for the commit. */
async function sourceState(): Promise<string> {
  try {
    const git = (...args: string[]) => run({ file: 'git', args, cwd: repoRoot });
    const commit = (await git('rev-parse', '--short', 'HEAD')).trim();
    const dirty = (await git('status', '--porcelain', '--', 'src', 'bin')).split('\n').filter(Boolean).length;
    return `strata at commit ${commit}${dirty > 0 ? ` + ${dirty} uncommitted changes in src/ and bin/` : ''}`;
  } catch {
    return 'strata (not a git checkout)';
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  const parseError = String((err as NodeJS.ErrnoException).code ?? '').startsWith('ERR_PARSE_ARGS');
  process.exitCode = err instanceof UsageError || parseError ? 2 : 1;
}
