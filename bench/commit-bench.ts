/**
 * `npm run bench -- commit`: `strata commit` of a container holding ~1 GiB of changes
 * (the load benchmark's image content: ~40,000 small files and six large ones, written
 * into the container's upper directory) against the same upper archived by the
 * standard tools, in the same run.
 *
 *  - baseline: `tar -cf - -C upper . | gzip | sha256sum`: one walk, one gzip, one digest —
 *    the least a gzip commit must do (strata also hashes the plain tar for the diffID,
 *    writes the blob, unpacks the layer and fsyncs).
 *  - strata: `node bin/strata.js --root <store> commit <container> bench:committed`.
 *
 * Every run gets its own store (a small base image, one container, the bench layers
 * extracted into its upper, not timed), kept until the end when the disk has room:
 * deleting 40,000 files between runs would slow the next run (INODE_REUSE_COOLDOWN_S),
 * and a commit into the store of an earlier run would find its layer already there.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ensureBenchImage, removeBenchImage, type BenchImage } from './bench-image.js';
import {
  INODE_REUSE_COOLDOWN_S,
  freeBytes,
  gnuTimeProblem,
  makeScratchDir,
  measure,
  removeTree,
  run,
  settleDisk,
  sleep,
  type Command,
  type Sample,
} from './measure.js';
import { summarize, type BenchContext, type BenchReport, type TargetResult } from './report.js';
import { writeImage } from '../src/archive/image-builder.js';
import { normalizeReference } from '../src/image/reference.js';
import { openStore } from '../src/store/root.js';
import { loadImages } from '../src/transfer/load.js';
import { createContainer } from '../src/container/create.js';
import { containerDirs } from '../src/container/record.js';

/** The targets of the issue; they live here, never in tests. */
export const COMMIT_TARGETS = { maxRatioVsTarGzip: 1.2, maxPeakRssMiB: 300 } as const;

const BASE_TAG = 'bench-base:1';
const CONTAINER = 'bench-commit';

interface Prepared {
  store: string;
  upper: string;
}

export async function runCommitBench(ctx: BenchContext): Promise<BenchReport> {
  const noTime = await gnuTimeProblem();
  if (noTime !== null) throw new Error(`commit benchmark needs GNU time: ${noTime}`);
  const image = await ensureBenchImage(ctx.sizeMiB, ctx.log);
  const scratch = await makeScratchDir('strata-bench-commit');
  const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
  try {
    ctx.log('extracting the bench image layers once (not timed) …');
    const layout = path.join(scratch, 'layout');
    await fsp.mkdir(layout);
    await run({ file: 'tar', args: ['-xf', image.file, '-C', layout] });
    const blobs = image.info.layers.map((l) => path.join(layout, 'blobs', 'sha256', l.digest.slice('sha256:'.length)));
    const baseImage = path.join(scratch, 'base.tar');
    await writeImage(baseImage, {
      format: 'docker25',
      tags: [{ name: BASE_TAG, ...normalizeReference(BASE_TAG) }],
      compression: 'gzip',
      layers: [
        {
          entries: [
            { path: 'etc/', type: 'dir' },
            { path: 'etc/motd', content: 'base\n' },
            { path: 'usr/', type: 'dir' },
            { path: 'usr/bin/', type: 'dir' },
            { path: 'usr/bin/sh', content: '#!sh\n', mode: 0o755 },
          ],
          createdBy: 'bench base',
        },
      ],
    });

    // (runs + 1) stores of upper + unpacked layer + gzip blob, each about the content size.
    const needed = (ctx.runs + 1) * image.info.contentBytes * 2.6 + 2 * 1024 ** 3;
    const keepStores = (await freeBytes(scratch)) > needed;
    if (!keepStores) ctx.log(`not enough free disk to keep every run's store: deleting each, then waiting ${INODE_REUSE_COOLDOWN_S} s`);

    const samples = { baseline: [] as Sample[], strata: [] as Sample[] };
    for (let round = 0; round <= ctx.runs; round++) {
      const prepared = await prepareStore(path.join(scratch, `run-${round}`), baseImage, blobs);
      await settleDisk();
      const base = await measure(baselineCommand(prepared.upper, path.join(scratch, `run-${round}.sha256`)), scratch);
      await settleDisk();
      const ours = await measure(strataCommand(bin, prepared.store, ctx.repoRoot), scratch);
      await verify(bin, prepared.store, ctx.repoRoot);
      if (round > 0) {
        samples.baseline.push(base);
        samples.strata.push(ours);
      }
      const label = round === 0 ? 'warm-up' : `run ${round}/${ctx.runs}`;
      ctx.log(
        `${label}  tar|gzip|sha256sum ${base.wallS.toFixed(2)} s   strata commit ${ours.wallS.toFixed(2)} s  ${ours.peakRssMiB.toFixed(1)} MiB`,
      );
      if (!keepStores) {
        await removeTree(prepared.store);
        await sleep(INODE_REUSE_COOLDOWN_S);
      }
    }

    const baseline = summarize(
      'tar | gzip | sha256sum (baseline)',
      'bash -o pipefail -c "tar -cf - -C upper . | gzip | sha256sum"',
      samples.baseline,
      null,
    );
    const strata = summarize(
      'strata commit',
      `node bin/strata.js --root <store> commit ${CONTAINER} bench:committed`,
      samples.strata,
      baseline.wallS,
      baseline.cpuS,
    );
    const targets: TargetResult[] = [
      {
        status: strata.ratio! <= COMMIT_TARGETS.maxRatioVsTarGzip ? 'PASS' : 'MISS',
        target: `strata commit within ${COMMIT_TARGETS.maxRatioVsTarGzip}x of tar | gzip | sha256sum`,
        found: `${strata.ratio!.toFixed(2)}x (${strata.wallS!.toFixed(2)} s vs ${baseline.wallS!.toFixed(2)} s)`,
      },
      {
        status: strata.peakRssMiB! < COMMIT_TARGETS.maxPeakRssMiB ? 'PASS' : 'MISS',
        target: `strata commit peak RSS under ${COMMIT_TARGETS.maxPeakRssMiB} MiB`,
        found: `${strata.peakRssMiB!.toFixed(1)} MiB`,
      },
    ];
    return {
      name: 'commit',
      title: `strata commit of ${ctx.sizeMiB} MiB of changes vs tar | gzip | sha256sum of the same upper`,
      contenders: [baseline, strata],
      targets,
      notes: [
        `changes: the load benchmark's image content (${describe(image)}) extracted into the upper of a container of a one-layer base image, not timed; the whiteout file of its last layer is left out`,
        `${ctx.runs} measured rounds after one warm-up round; each round prepares a fresh store and upper, then times the baseline and strata on that same upper (in the page cache: it was just written)`,
        keepStores
          ? 'every round keeps its store until the end (no deletes between runs: see INODE_REUSE_COOLDOWN_S)'
          : `each round's store was deleted right after it, then ${INODE_REUSE_COOLDOWN_S} s of cool-down (not enough free disk to keep them)`,
        'baseline = one tar walk, gzip -6, sha256 of the gzip stream; strata also hashes the plain tar (diffID), stores the blob, unpacks the layer from the same tar and fsyncs',
      ],
    };
  } finally {
    await removeTree(scratch);
    if (ctx.clean) await removeBenchImage(image);
  }
}

/** A store with the base image and one container whose upper holds the bench image's files. */
async function prepareStore(dir: string, baseImage: string, blobs: string[]): Promise<Prepared> {
  const store = await openStore({ root: path.join(dir, 'store') });
  await loadImages(store, { path: baseImage });
  const container = await createContainer(store, BASE_TAG, { name: CONTAINER });
  const { upper } = containerDirs(store, container.id);
  for (const blob of blobs) {
    // A layer's whiteout is a .wh. file on disk, which commit refuses as a name the container made.
    await run({ file: 'tar', args: ['-xzf', blob, '-C', upper, '--exclude=.wh.*', '--exclude=*/.wh.*'] });
  }
  return { store: store.root, upper };
}

function baselineCommand(upper: string, out: string): Command {
  return { file: 'bash', args: ['-o', 'pipefail', '-c', 'tar -cf - -C "$0" . | gzip | sha256sum > "$1"', upper, out] };
}

function strataCommand(bin: string, store: string, cwd: string): Command {
  return { file: process.execPath, args: [bin, '--root', store, 'commit', CONTAINER, 'bench:committed'], cwd };
}

/** A fast wrong answer is no answer: the committed image is there, one layer above the base. */
async function verify(bin: string, store: string, cwd: string): Promise<void> {
  const out = await run({
    file: process.execPath,
    args: [bin, '--root', store, 'image', 'inspect', '--format', '{{len .RootFS.Layers}}', 'bench:committed'],
    cwd,
  });
  if (out.trim() !== '2') throw new Error(`the committed image has ${out.trim()} layers, not 2 (base + the commit)`);
}

function describe(image: BenchImage): string {
  const i = image.info;
  return `${(i.contentBytes / 1024 ** 2).toFixed(0)} MiB in ${i.smallFiles.toLocaleString('en-US')} small files and ${i.largeFiles} large ones, ${i.directories.toLocaleString('en-US')} directories`;
}
