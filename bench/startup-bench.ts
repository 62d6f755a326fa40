/**
 * `npm run bench -- startup`: what one CLI call costs against a bare `node -e ''`,
 * measured in the same run. Every small command pays for Node's own start plus
 * strata's module graph; the bare start is the floor nothing written in Node can beat.
 *
 * The store is tiny and made afresh (fixtures/demo.tar loaded, one container created),
 * so what is measured is start-up, not the command's work. Rounds are interleaved
 * (bare, bare printing a line, --version, images, ps -a, inspect, bare, …) so background load hits every row
 * alike; each row is the median of STARTUP_RUNS_PER_BENCH_RUN × STRATA_BENCH_RUNS calls.
 */
import path from 'node:path';
import { makeScratchDir, measure, median, removeTree, run, type Command, type Sample } from './measure.js';
import { summarize, type BenchContext, type BenchReport, type ContenderResult, type TargetResult } from './report.js';

/** The target of the issue; it lives here, never in tests. */
export const STARTUP_TARGETS = { maxRatioVsBareNode: 1.3 } as const;

/** A start-up is ~50 ms, so one run tells little: each STRATA_BENCH_RUNS counts for this many calls. */
const STARTUP_RUNS_PER_BENCH_RUN = 20;

/** The rows the target applies to: commands that read a few records and print. */
const TARGET_ROWS = ['strata images', 'strata ps -a', 'strata inspect demo'];

export async function runStartupBench(ctx: BenchContext): Promise<BenchReport> {
  const scratch = await makeScratchDir('strata-bench-startup');
  try {
    const root = path.join(scratch, 'store');
    const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
    const strata = (...args: string[]): Command => ({ file: process.execPath, args: [bin, '--root', root, ...args], cwd: ctx.repoRoot });
    await run(strata('load', '-q', '-i', path.join(ctx.repoRoot, 'fixtures', 'demo.tar')));
    await run(strata('create', '--name', 'bench', 'demo'));
    const rows: { name: string; command: Command }[] = [
      { name: "node -e '' (baseline)", command: { file: process.execPath, args: ['-e', ''] } },
      // Not a target: the floor for any command that prints, as opening a piped stdout costs Node a few ms.
      { name: 'node printing a line', command: { file: process.execPath, args: ['-e', "process.stdout.write('x\\n')"] } },
      { name: 'strata --version', command: strata('--version') },
      { name: 'strata images', command: strata('images') },
      { name: 'strata ps -a', command: strata('ps', '-a') },
      { name: 'strata inspect demo', command: strata('inspect', 'demo') },
    ];
    // The commands must do their job, not fail fast: a failing call would look quick.
    if (!(await run(strata('images'))).includes('demo')) throw new Error('strata images does not list the demo image');
    if (!(await run(strata('ps', '-a'))).includes('bench')) throw new Error('strata ps -a does not list the bench container');
    await run(strata('inspect', 'demo'));

    const runs = ctx.runs * STARTUP_RUNS_PER_BENCH_RUN;
    ctx.log(`startup: ${runs} calls of each of ${rows.length} rows, interleaved`);
    const samples: Sample[][] = rows.map(() => []);
    for (const row of rows) await measure(row.command, scratch); // warm-up: page cache
    for (let round = 0; round < runs; round++) {
      for (const [i, row] of rows.entries()) samples[i]!.push(await measure(row.command, scratch));
    }
    const baseWall = median(samples[0]!.map((s) => s.wallS));
    const baseCpu = meanCpu(samples[0]!);
    const describe = (c: Command) =>
      ['node', ...c.args.map((a) => (a === root ? '<store>' : a.startsWith(ctx.repoRoot) ? path.relative(ctx.repoRoot, a) : a))].join(' ');
    const results = rows.map((row, i) => {
      const result = summarize(row.name, describe(row.command), samples[i]!, baseWall);
      const cpuS = meanCpu(samples[i]!);
      return { ...result, cpuS, cpuRatio: cpuS / baseCpu };
    });
    return {
      name: 'startup',
      title: `one CLI call on a tiny store vs a bare node -e '' (${runs} interleaved calls each)`,
      contenders: results,
      targets: targets(results),
      notes: [
        'every call runs under GNU time, which adds the same ~1 ms to each row',
        'CPU s is a mean, not a median: GNU time counts CPU in 10 ms ticks, which a median of 50 ms calls cannot resolve and a mean of many can',
        `medians in ms: ${results.map((r) => `${r.name} ${(r.wallS! * 1000).toFixed(1)}`).join(', ')}`,
      ],
    };
  } finally {
    await removeTree(scratch);
  }
}

function targets(results: ContenderResult[]): TargetResult[] {
  const base = results[0]!;
  return results
    .filter((r) => TARGET_ROWS.includes(r.name))
    .map((r) => ({
      status: r.ratio! <= STARTUP_TARGETS.maxRatioVsBareNode ? 'PASS' : 'MISS',
      target: `${r.name} within ${STARTUP_TARGETS.maxRatioVsBareNode}x of a bare node start`,
      found: `${r.ratio!.toFixed(2)}x (${(r.wallS! * 1000).toFixed(1)} ms vs ${(base.wallS! * 1000).toFixed(1)} ms)`,
    }));
}

/** User + sys over the calls, averaged. */
function meanCpu(samples: Sample[]): number {
  return samples.reduce((sum, s) => sum + s.userS + s.sysS, 0) / samples.length;
}
