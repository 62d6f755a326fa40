/**
 * `npm run bench -- run`: what strata adds around the runtime. `strata run --rm
 * IMAGE true` (create, user and command checks, mount points, kernel mount, bundle,
 * runc run, unmount, records, removal) against `runc run` of a bundle prepared once
 * on a plain directory holding the same files — the runtime alone, the floor any
 * runner on runc has. Rounds are interleaved so background load hits both alike;
 * each row is the median of RUN_CALLS_PER_BENCH_RUN × STRATA_BENCH_RUNS calls.
 * Needs root, runc and a static /bin/busybox (Debian's busybox-static).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { imageArchiveEntries } from '../src/archive/image-builder.js';
import { writeArchive } from '../src/archive/image-writer.js';
import { FIXED_MTIME } from '../src/archive/layer-spec.js';
import { normalizeReference } from '../src/image/reference.js';
import { available, makeScratchDir, measure, median, removeTree, run, type Command, type Sample } from './measure.js';
import { summarize, type BenchContext, type BenchReport, type ContenderResult, type TargetResult } from './report.js';

const execFileP = promisify(execFile);

/** The target of the issue; it lives here, never in tests. */
export const RUN_TARGETS = { maxRatioVsRuncAlone: 1.5 } as const;

/** A run is ~100 ms: each STRATA_BENCH_RUNS counts for this many calls. */
const RUN_CALLS_PER_BENCH_RUN = 10;

const BUSYBOX = '/bin/busybox';

export async function runRunBench(ctx: BenchContext): Promise<BenchReport> {
  const missing = await missingPrerequisite();
  if (missing !== null) return skipped(missing);
  const scratch = await makeScratchDir('strata-bench-run');
  try {
    const root = path.join(scratch, 'store');
    const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
    const env = { ...process.env, STRATA_WHITEOUT_FORMAT: 'overlay' };
    const strata = (...args: string[]): Command => ({
      file: process.execPath,
      args: [bin, '--root', root, ...args],
      cwd: ctx.repoRoot,
      env,
    });
    const archive = path.join(scratch, 'bb.tar');
    await writeBusyboxImage(scratch, archive);
    await run(strata('load', '-q', '-i', archive));
    const bundle = await prepareBundle(scratch);
    const runcRoot = path.join(scratch, 'runc-state');
    const rows: { name: string; command: Command }[] = [
      {
        name: 'runc run (prepared bundle, baseline)',
        command: { file: 'runc', args: ['--root', runcRoot, 'run', '--bundle', bundle, 'bench'] },
      },
      { name: 'strata run --rm bb true', command: strata('run', '--rm', 'bb', 'true') },
    ];
    const runs = ctx.runs * RUN_CALLS_PER_BENCH_RUN;
    ctx.log(`run: ${runs} calls of each of ${rows.length} rows, interleaved`);
    const samples: Sample[][] = rows.map(() => []);
    for (const row of rows) await measure(row.command, scratch); // warm-up: page cache
    for (let round = 0; round < runs; round++) {
      for (const [i, row] of rows.entries()) samples[i]!.push(await measure(row.command, scratch));
    }
    if ((await run(strata('ps', '-aq'))) !== '') throw new Error('strata run --rm left a container behind');
    const baseWall = median(samples[0]!.map((s) => s.wallS));
    const baseCpu = meanCpu(samples[0]!);
    const results = rows.map((row, i) => {
      const describe = [
        path.basename(row.command.file),
        ...row.command.args.map((a) => (a.startsWith(scratch) ? `<${path.basename(a)}>` : a)),
      ].join(' ');
      const result = summarize(row.name, describe, samples[i]!, baseWall);
      const cpuS = meanCpu(samples[i]!);
      return { ...result, cpuS, cpuRatio: cpuS / baseCpu };
    });
    return {
      name: 'run',
      title: `strata run --rm IMAGE true vs runc run of a prepared bundle (${runs} interleaved calls each)`,
      contenders: results,
      targets: targets(results),
      notes: [
        "the baseline bundle is `runc spec`'s config on a plain directory with the same files: no overlay mount, no /etc bind mounts, no cgroup mount",
        'CPU s is a mean over the calls (GNU time counts in 10 ms ticks) and includes runc and the container',
        `medians in ms: ${results.map((r) => `${r.name} ${(r.wallS! * 1000).toFixed(1)}`).join(', ')}`,
      ],
    };
  } finally {
    await removeTree(scratch);
  }
}

async function missingPrerequisite(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'needs root (runc and kernel overlay mounts)';
  if (!(await available('runc'))) return 'runc is not installed (Debian package runc)';
  if (!(await fs.stat(BUSYBOX).catch(() => null))) return `${BUSYBOX} is missing (Debian package busybox-static)`;
  return null;
}

function skipped(reason: string): BenchReport {
  return {
    name: 'run',
    title: 'strata run --rm IMAGE true vs runc run of a prepared bundle',
    contenders: [],
    targets: [{ status: 'SKIP', target: `strata run within ${RUN_TARGETS.maxRatioVsRuncAlone}x of runc run alone`, found: reason }],
    notes: [],
  };
}

/** bb:latest: busybox and its `true` link, nothing else. */
async function writeBusyboxImage(scratch: string, file: string): Promise<void> {
  const work = path.join(scratch, 'image-work');
  await fs.mkdir(work);
  const { entries } = await imageArchiveEntries(work, {
    format: 'oci',
    tags: [{ name: 'bb', ...normalizeReference('bb') }],
    layers: [
      [
        { path: 'bin/', mode: 0o755 },
        { path: 'bin/busybox', content: await fs.readFile(BUSYBOX), mode: 0o755 },
        { path: 'bin/true', type: 'symlink', linkname: 'busybox' },
      ],
    ],
    config: { config: { Cmd: ['true'], Env: ['PATH=/bin'] } },
  });
  const out = (await import('node:fs')).createWriteStream(file);
  await writeArchive(entries, out, { mtime: FIXED_MTIME, gzip: false });
  await removeTree(work);
}

/** A bundle runc runs as it is: `runc spec`'s config with `true` as the process, on a plain copy of the image's files. */
async function prepareBundle(scratch: string): Promise<string> {
  const bundle = path.join(scratch, 'bundle');
  const rootfs = path.join(bundle, 'rootfs');
  await fs.mkdir(path.join(rootfs, 'bin'), { recursive: true });
  await fs.copyFile(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
  await fs.chmod(path.join(rootfs, 'bin', 'busybox'), 0o755);
  await fs.symlink('busybox', path.join(rootfs, 'bin', 'true'));
  await execFileP('runc', ['spec', '--bundle', bundle]);
  const configFile = path.join(bundle, 'config.json');
  const config = JSON.parse(await fs.readFile(configFile, 'utf8')) as { process: Record<string, unknown>; root: Record<string, unknown> };
  config.process.terminal = false;
  config.process.args = ['/bin/true'];
  config.root = { path: rootfs, readonly: false };
  await fs.writeFile(configFile, JSON.stringify(config));
  return bundle;
}

function targets(results: ContenderResult[]): TargetResult[] {
  const [base, ours] = results as [ContenderResult, ContenderResult];
  return [
    {
      status: ours.ratio! <= RUN_TARGETS.maxRatioVsRuncAlone ? 'PASS' : 'MISS',
      target: `strata run --rm within ${RUN_TARGETS.maxRatioVsRuncAlone}x of runc run alone`,
      found: `${ours.ratio!.toFixed(2)}x (${(ours.wallS! * 1000).toFixed(1)} ms vs ${(base.wallS! * 1000).toFixed(1)} ms)`,
    },
  ];
}

function meanCpu(samples: Sample[]): number {
  return samples.reduce((sum, s) => sum + s.userS + s.sysS, 0) / samples.length;
}
