/**
 * `npm run bench -- commit`: `strata commit` of a container holding ~1 GiB of changes
 * (40,000 small files and a few large ones, written straight into its upper dir)
 * against `tar -cf - -C upper . | gzip | sha256sum` of the same upper, in the same run.
 *
 * The baseline makes and hashes the same gzip stream strata stores; strata also
 * hashes the tar (the diffID), writes and fsyncs the blob, and unpacks the layer into
 * layers/<chainID>/ — the work that makes the commit usable. Every run commits bytes
 * the store does not hold yet (RUN_EPOCH), so every measured run is a first commit.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { openStore } from '../src/store/root.js';
import { loadImages } from '../src/transfer/load.js';
import { createContainer } from '../src/container/create.js';
import { containerDirs } from '../src/container/record.js';
import { makeCorpus } from './bench-image.js';
import {
  INODE_REUSE_COOLDOWN_S,
  gnuTimeProblem,
  makeScratchDir,
  freeBytes,
  measure,
  removeTree,
  run,
  settleDisk,
  waitOutRecentDeletes,
  type Sample,
} from './measure.js';
import { summarize, type BenchContext, type BenchReport, type TargetResult } from './report.js';

/** The targets of the issue; they live here, never in tests. */
export const COMMIT_TARGETS = { maxRatioVsTarGzip: 1.2, maxPeakRssMiB: 300 } as const;

const SMALL_FILES = 40_000;
const FILES_PER_DIR = 100;
const LARGE_FILES = 4;
/**
 * Round N's strata commit uses --source-date-epoch RUN_EPOCH + N (a day in 2001), older
 * than every file the bench writes: every mtime is clamped, so each run's layer is new.
 * Removing the last run's 40,000 files before the next made it pay ext4's scan past
 * recently freed inodes (measure.ts INODE_REUSE_COOLDOWN_S), which the baseline, writing
 * no files, never pays: strata's CPU then swung with the file system's state.
 */
const RUN_EPOCH = 1_000_000_000;

export async function runCommitBench(ctx: BenchContext): Promise<BenchReport> {
  const noTime = await gnuTimeProblem();
  if (noTime !== null) throw new Error(`commit benchmark needs GNU time: ${noTime}`);
  const scratch = await makeScratchDir('strata-bench-commit');
  try {
    const root = path.join(scratch, 'store');
    const store = await openStore({ root });
    await loadImages(store, { path: path.join(ctx.repoRoot, 'fixtures', 'demo.tar') });
    const record = await createContainer(store, 'demo', { name: 'bench' });
    const upper = containerDirs(store, record.id).upper;
    ctx.log(`writing ${ctx.sizeMiB} MiB of changes into the container's upper dir (not timed) …`);
    const shape = await writeChanges(upper, ctx.sizeMiB * 1024 ** 2);

    const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
    const strata = (...args: string[]) => ({ file: process.execPath, args: [bin, '--root', root, ...args], cwd: ctx.repoRoot });
    // Each run commits other bytes (every mtime clamped to its own epoch), so no run finds its
    // layer already stored; when the disk has room every run's image is kept until the end.
    const commitRun = (round: number) => strata('commit', '--source-date-epoch', String(RUN_EPOCH + round), 'bench', `bench:run${round}`);
    const keepCommits = (await freeBytes(scratch)) > (ctx.runs + 1) * ctx.sizeMiB * 1024 ** 2 * 1.6 + 2 * 1024 ** 3;
    if (!keepCommits) ctx.log(`not enough free disk to keep every run's commit: removing each, then waiting ${INODE_REUSE_COOLDOWN_S} s`);
    const contenders = [
      {
        name: 'tar | gzip | sha256sum (baseline)',
        describe: 'tar -cf - -C upper . | gzip | sha256sum',
        command: (_round: number) => ({
          file: 'bash',
          args: ['-c', 'set -o pipefail; tar -cf - -C "$1" . | gzip | sha256sum > /dev/null', 'baseline', upper],
        }),
        after: async (_round: number) => {},
      },
      {
        name: 'strata commit',
        describe: 'node bin/strata.js --root <store> commit --source-date-epoch <per run> bench bench:runN',
        command: commitRun,
        after: async (round: number) => {
          if (keepCommits) return;
          await run(strata('rmi', `bench:run${round}`));
          await run(strata('gc'));
          await waitOutRecentDeletes(ctx.log);
        },
      },
    ];
    const samples = new Map<string, Sample[]>(contenders.map((c) => [c.name, []]));
    await waitOutRecentDeletes(ctx.log); // each run unpacks its layer: 40,000 new files
    for (let round = 0; round <= ctx.runs; round++) {
      for (const c of contenders) {
        await settleDisk();
        const sample = await measure(c.command(round), scratch);
        await c.after(round);
        if (round > 0) samples.get(c.name)!.push(sample);
        ctx.log(
          `${round === 0 ? 'warm-up' : `run ${round}/${ctx.runs}`}  ${c.name.padEnd(36)} ${sample.wallS.toFixed(2)} s  ${sample.peakRssMiB.toFixed(1)} MiB`,
        );
      }
    }
    const base = summarize('', '', samples.get(contenders[0]!.name)!, null);
    const results = contenders.map((c) => summarize(c.name, c.describe, samples.get(c.name)!, base.wallS, base.cpuS));
    return {
      name: 'commit',
      title: `strata commit of ${ctx.sizeMiB} MiB of changes vs tar | gzip | sha256sum of the upper dir`,
      contenders: results,
      targets: targets(results[0]!, results[1]!),
      notes: [
        `changes: ${shape.smallFiles.toLocaleString('en-US')} small files (100 B–16 KiB) in ${shape.directories} directories and ${LARGE_FILES} large files, ${(shape.bytes / 1024 ** 2).toFixed(0)} MiB of mixed text, binary, zero and incompressible content`,
        `${ctx.runs} measured runs per contender after one warm-up run each, rounds interleaved; wall time is the median, peak RSS the largest run`,
        'strata also hashes the tar, writes and fsyncs the blob and unpacks layers/<chainID>/; the baseline writes nothing',
        keepCommits
          ? 'each strata run commits with its own --source-date-epoch and is kept until the end (no deletes between runs: see INODE_REUSE_COOLDOWN_S)'
          : `not enough free disk to keep every run's commit: each removed and gc'd, then ${INODE_REUSE_COOLDOWN_S} s of cool-down`,
      ],
    };
  } finally {
    await removeTree(scratch);
  }
}

/** Small files of 100 B–16 KiB in directories of 100, then a few large files with the rest of the bytes. */
async function writeChanges(upper: string, bytes: number): Promise<{ smallFiles: number; directories: number; bytes: number }> {
  const corpus = makeCorpus(64 * 1024 ** 2, 7);
  let written = 0;
  let offset = 0;
  const slice = (size: number) => {
    if (offset + size > corpus.length) offset = 0;
    const part = corpus.subarray(offset, offset + size);
    offset += size + 4093; // never the same alignment twice
    return part;
  };
  for (let i = 0; i < SMALL_FILES; i++) {
    const dir = path.join(upper, 'app', `pkg${Math.floor(i / FILES_PER_DIR)}`);
    if (i % FILES_PER_DIR === 0) await fsp.mkdir(dir, { recursive: true });
    const size = 100 + ((i * 7919) % (16 * 1024 - 100));
    await fsp.writeFile(path.join(dir, `f${i % FILES_PER_DIR}.dat`), slice(size));
    written += size;
  }
  const large = Math.max(0, Math.floor((bytes - written) / LARGE_FILES));
  for (let i = 0; i < LARGE_FILES; i++) {
    const handle = await fsp.open(path.join(upper, `large${i}.bin`), 'w');
    for (let left = large; left > 0; left -= Math.min(left, 8 * 1024 ** 2)) await handle.write(slice(Math.min(left, 8 * 1024 ** 2)));
    await handle.close();
    written += large;
  }
  return { smallFiles: SMALL_FILES, directories: SMALL_FILES / FILES_PER_DIR + 1, bytes: written };
}

function targets(base: ReturnType<typeof summarize>, ours: ReturnType<typeof summarize>): TargetResult[] {
  return [
    {
      status: ours.ratio! <= COMMIT_TARGETS.maxRatioVsTarGzip ? 'PASS' : 'MISS',
      target: `strata commit within ${COMMIT_TARGETS.maxRatioVsTarGzip}x of tar | gzip | sha256sum`,
      found: `${ours.ratio!.toFixed(2)}x (${ours.wallS!.toFixed(2)} s vs ${base.wallS!.toFixed(2)} s; CPU ${ours.cpuRatio!.toFixed(2)}x)`,
    },
    {
      status: ours.peakRssMiB! < COMMIT_TARGETS.maxPeakRssMiB ? 'PASS' : 'MISS',
      target: `strata peak RSS under ${COMMIT_TARGETS.maxPeakRssMiB} MiB`,
      found: `${ours.peakRssMiB!.toFixed(1)} MiB`,
    },
  ];
}
