/**
 * `npm run bench -- load`: `strata load` of a generated ~1 GiB image against what the
 * same work costs with the standard tools, and against umoci, in the same run.
 *
 *  - baseline: per layer, in order, one read of the blob → sha256sum (the blob digest),
 *    gzip -dc → sha256sum (the diffID) and tar -x into one directory. That is
 *    `tar -xzf` plus the two digests strata verifies, each byte decompressed once.
 *  - parallel GNU baseline: the same pipeline, one per layer, all at once, each
 *    layer into its own directory (as strata unpacks them): an equally parallel floor.
 *  - strata: `strata --root <fresh store> load -q -i image.tar`, a child process.
 *  - umoci: `umoci unpack --rootless` of the same image as an OCI layout.
 *  - strata on one core: the same load under `taskset -c 0` (one import lane, and
 *    zlib's thread pool on the same core), for "a 1-core machine is no slower".
 *
 * Inputs are prepared outside the timing (the layout is extracted once), every
 * contender gets a fresh output directory per run, and rounds are interleaved so
 * background noise hits all contenders alike. README.md says what each one includes.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCH_TAG, ensureBenchImage, removeBenchImage, type BenchImage } from './bench-image.js';
import { available, gnuTimeProblem, makeScratchDir, removeTree, run, settleDisk } from './measure.js';
import { runInterleaved, type OutputContender } from './interleaved-runs.js';
import { skipped, summarize, type BenchContext, type BenchReport, type ContenderResult, type TargetResult } from './report.js';
import { summarizeCpuProfile } from './cpu-profile.js';
import { describeHashPasses, measureHashPasses } from './hash-passes.js';

/**
 * The targets of the issues; they live here, never in tests. `maxOneCoreVsTarCpu`: on
 * one core wall time is CPU time, and before the parallel import strata used at most
 * 1.16x the baseline's CPU (bench/README.md, 2026-12-03) — one core must not be slower.
 */
export const LOAD_TARGETS = { maxRatioVsTar: 0.8, maxPeakRssMiB: 300, maxOneCoreVsTarCpu: 1.16 } as const;

/**
 * One fifo per digest so the blob is read once and decompressed once, as strata
 * does it; `wait` collects both sha256sum processes before the next layer.
 */
const BASELINE_SCRIPT = `set -euo pipefail
root=$1; out=$2; shift 2
i=0
for blob in "$@"; do
  i=$((i + 1))
  mkfifo "$out/blob.$i" "$out/diff.$i"
  sha256sum < "$out/blob.$i" > "$out/$i.digest" &
  sha256sum < "$out/diff.$i" > "$out/$i.diffid" &
  tee "$out/blob.$i" < "$blob" | gzip -dc | tee "$out/diff.$i" | tar -xf - -C "$root"
  wait
done`;

/** BASELINE_SCRIPT with every layer's pipeline in the background at once, each into its own directory. */
const PARALLEL_BASELINE_SCRIPT = `set -euo pipefail
root=$1; out=$2; shift 2
i=0
for blob in "$@"; do
  i=$((i + 1))
  mkdir "$root/$i"
  mkfifo "$out/blob.$i" "$out/diff.$i"
  sha256sum < "$out/blob.$i" > "$out/$i.digest" &
  sha256sum < "$out/diff.$i" > "$out/$i.diffid" &
  { tee "$out/blob.$i" < "$blob" | gzip -dc | tee "$out/diff.$i" | tar -xf - -C "$root/$i"; } &
done
wait`;

export async function runLoadBench(ctx: BenchContext): Promise<BenchReport> {
  const noTime = await gnuTimeProblem();
  if (noTime !== null) throw new Error(`load benchmark needs GNU time: ${noTime}`);
  const image = await ensureBenchImage(ctx.sizeMiB, ctx.log);
  const scratch = await makeScratchDir('strata-bench-load');
  try {
    ctx.log('extracting the image as an OCI layout for the baseline and umoci (not timed) …');
    const layout = path.join(scratch, 'layout');
    await fsp.mkdir(layout);
    await run({ file: 'tar', args: ['-xf', image.file, '-C', layout] });
    const blobs = image.info.layers.map((l) => path.join(layout, 'blobs', 'sha256', l.digest.slice('sha256:'.length)));

    const contenders: OutputContender[] = [baseline(image, blobs), parallelBaseline(image, blobs), strata(ctx, image)];
    const umociMissing = (await available('umoci')) ? null : 'umoci is not installed (Debian: apt-get install umoci)';
    if (umociMissing === null) contenders.push(umoci(layout));
    const tasksetMissing = (await available('taskset')) ? null : 'taskset is not installed (Debian: util-linux)';
    if (tasksetMissing === null) contenders.push(strata(ctx, image, true));

    const { samples, outputsNote } = await runInterleaved(ctx, scratch, contenders, image.info.contentBytes);

    const base = summarize('', '', samples.get(contenders[0]!.name)!, null);
    const results: ContenderResult[] = contenders.map((c) => summarize(c.name, c.describe, samples.get(c.name)!, base.wallS, base.cpuS));
    if (umociMissing !== null) results.push(skipped('umoci unpack', 'umoci unpack --rootless', umociMissing));
    if (tasksetMissing !== null) results.push(skipped(ONE_CORE, 'taskset -c 0 node bin/strata.js …', tasksetMissing));

    const notes = [
      `image: ${describeImage(image)}`,
      `${ctx.runs} measured runs per contender after one warm-up run each (inputs in the page cache), rounds interleaved; wall time is the median, peak RSS the largest run`,
      outputsNote,
      'baseline = per layer: sha256sum(blob) + gzip -dc | sha256sum (diffID) + tar -x, one read and one decompression; it keeps no copy of the blob and fsyncs nothing, strata does both',
      'parallel GNU baseline = the baseline with every layer at once, each into its own directory; strata imports one layer per CPU (os.availableParallelism())',
    ];
    ctx.log('timing the sha256 passes of a load over the same layers (in-process) …');
    notes.push(describeHashPasses(await measureHashPasses(blobs)));
    const details = ctx.cpuProfDir !== null ? await profileStrata(ctx, image, scratch) : undefined;
    return {
      name: 'load',
      title: `strata load of a ${ctx.sizeMiB} MiB image vs tar -xzf + sha256sum and umoci unpack`,
      contenders: results,
      targets: targets(results),
      notes,
      ...(details ? { details } : {}),
    };
  } finally {
    await removeTree(scratch);
    if (ctx.clean) await removeBenchImage(image);
  }
}

function baseline(image: BenchImage, blobs: string[]): OutputContender {
  return {
    name: 'tar+sha256sum (baseline)',
    describe: 'per layer: tee blob | sha256sum; gzip -dc | tee | sha256sum; tar -xf - -C root',
    async command(target) {
      await fsp.mkdir(path.join(target, 'root'), { recursive: true });
      await fsp.mkdir(path.join(target, 'out'));
      return { file: 'bash', args: ['-c', BASELINE_SCRIPT, 'baseline', path.join(target, 'root'), path.join(target, 'out'), ...blobs] };
    },
    async verify(target) {
      for (const [i, layer] of image.info.layers.entries()) {
        const digest = `sha256:${(await fsp.readFile(path.join(target, 'out', `${i + 1}.digest`), 'utf8')).split(' ')[0]}`;
        const diffId = `sha256:${(await fsp.readFile(path.join(target, 'out', `${i + 1}.diffid`), 'utf8')).split(' ')[0]}`;
        if (digest !== layer.digest || diffId !== layer.diffId) throw new Error(`baseline computed wrong digests for layer ${i + 1}`);
      }
    },
  };
}

const ONE_CORE = 'strata load, 1 core';

function parallelBaseline(image: BenchImage, blobs: string[]): OutputContender {
  const serial = baseline(image, blobs);
  return {
    name: 'parallel GNU baseline',
    describe: 'the baseline pipeline for every layer at once (background jobs), each into root/<n>',
    async command(target) {
      const command = await serial.command(target);
      return { ...command, args: ['-c', PARALLEL_BASELINE_SCRIPT, ...command.args.slice(2)] };
    },
    verify: serial.verify,
  };
}

/** `oneCore`: under `taskset -c 0`, where os.availableParallelism() is 1 and the import runs on one lane. */
function strata(ctx: BenchContext, image: BenchImage, oneCore = false): OutputContender {
  const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
  const load = [bin, '--root', '<store>', 'load', '-q', '-i', image.file];
  return {
    name: oneCore ? ONE_CORE : 'strata load',
    describe: `${oneCore ? 'taskset -c 0 ' : ''}node bin/strata.js --root <fresh store> load -q -i image.tar`,
    command: async (target) => {
      const args = load.map((a) => (a === '<store>' ? target : a));
      return oneCore
        ? { file: 'taskset', args: ['-c', '0', process.execPath, ...args], cwd: ctx.repoRoot }
        : { file: process.execPath, args, cwd: ctx.repoRoot };
    },
    async verify(target) {
      const ids = await run({ file: process.execPath, args: [bin, '--root', target, 'images', '-q', '--no-trunc'], cwd: ctx.repoRoot });
      if (!ids.includes('sha256:')) throw new Error(`strata load left no image in the store (images -q printed ${JSON.stringify(ids)})`);
    },
  };
}

function umoci(layout: string): OutputContender {
  const tag = BENCH_TAG.split(':')[1]!;
  return {
    name: 'umoci unpack',
    describe: `umoci unpack --rootless --image <layout>:${tag} <fresh bundle>`,
    command: async (target) => ({ file: 'umoci', args: ['unpack', '--rootless', '--image', `${layout}:${tag}`, target] }),
    async verify(target) {
      await fsp.access(path.join(target, 'rootfs', 'app', 'data', 'model.bin'));
    },
  };
}

function targets(results: ContenderResult[]): TargetResult[] {
  const byName = (name: string) => results.find((r) => r.name === name)!;
  const [base, ours, theirs, oneCore] = [results[0]!, byName('strata load'), byName('umoci unpack'), byName(ONE_CORE)];
  const out: TargetResult[] = [];
  out.push({
    status: ours.ratio! <= LOAD_TARGETS.maxRatioVsTar ? 'PASS' : 'MISS',
    target: `strata within ${LOAD_TARGETS.maxRatioVsTar}x of the (serial) tar baseline's wall time`,
    found: `${ours.ratio!.toFixed(2)}x (${ours.wallS!.toFixed(2)} s vs ${base.wallS!.toFixed(2)} s; CPU ${ours.cpuRatio!.toFixed(2)}x)`,
  });
  out.push(
    theirs.skipped !== undefined
      ? { status: 'SKIP', target: 'strata faster than umoci', found: theirs.skipped }
      : {
          status: ours.wallS! < theirs.wallS! ? 'PASS' : 'MISS',
          target: 'strata faster than umoci',
          found: `${(ours.wallS! / theirs.wallS!).toFixed(2)}x of umoci's time (${ours.wallS!.toFixed(2)} s vs ${theirs.wallS!.toFixed(2)} s)`,
        },
  );
  out.push({
    status: ours.peakRssMiB! < LOAD_TARGETS.maxPeakRssMiB ? 'PASS' : 'MISS',
    target: `strata peak RSS under ${LOAD_TARGETS.maxPeakRssMiB} MiB`,
    found: `${ours.peakRssMiB!.toFixed(1)} MiB`,
  });
  const oneCoreRatio = oneCore.skipped === undefined ? oneCore.wallS! / base.cpuS! : null;
  out.push(
    oneCoreRatio === null
      ? { status: 'SKIP', target: 'strata on one core no slower than before the parallel import', found: oneCore.skipped! }
      : {
          status: oneCoreRatio <= LOAD_TARGETS.maxOneCoreVsTarCpu ? 'PASS' : 'MISS',
          target: `strata on one core no slower than before the parallel import: wall within ${LOAD_TARGETS.maxOneCoreVsTarCpu}x of the baseline's CPU time`,
          found: `${oneCoreRatio.toFixed(2)}x (${oneCore.wallS!.toFixed(2)} s vs ${base.cpuS!.toFixed(2)} s of CPU)`,
        },
  );
  return out;
}

function describeImage(image: BenchImage): string {
  const i = image.info;
  const mib = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;
  const compressed = i.layers.reduce((sum, l) => sum + l.size, 0);
  const where = path.join('$TMPDIR', path.relative(os.tmpdir(), path.dirname(image.file)));
  return (
    `${mib(i.contentBytes)} of file content in ${i.layers.length} gzip layers (${mib(compressed)} compressed, tarball ${mib(i.tarBytes)}): ` +
    `${i.smallFiles.toLocaleString('en-US')} small files (100 B–16 KiB), ${i.largeFiles} large, ${i.directories.toLocaleString('en-US')} directories; ` +
    (image.cached
      ? `cached image reused from ${where} (generated in ${i.generatedS.toFixed(0)} s; STRATA_BENCH_CLEAN=1 removes it)`
      : `generated in ${i.generatedS.toFixed(0)} s and cached in ${where} for the next run`)
  );
}

/** One extra, unmeasured strata run under --cpu-prof; the summary goes into the notes. */
async function profileStrata(ctx: BenchContext, image: BenchImage, scratch: string): Promise<string[]> {
  const dir = ctx.cpuProfDir!;
  await fsp.mkdir(dir, { recursive: true });
  const target = path.join(scratch, 'profiled-store');
  const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
  ctx.log(`profiling one more strata load into ${path.relative(ctx.repoRoot, dir) || dir} …`);
  await settleDisk();
  const before = new Set(await fsp.readdir(dir));
  await run({
    file: process.execPath,
    args: ['--cpu-prof', '--cpu-prof-dir', dir, bin, '--root', target, 'load', '-q', '-i', image.file],
    cwd: ctx.repoRoot,
  });
  await removeTree(target);
  const written = (await fsp.readdir(dir)).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  if (written.length === 0) return ['cpu profile: node wrote no profile'];
  const file = path.join(dir, written[0]!);
  return [
    `cpu profile of one extra strata load (main thread only; zlib and async fs run on the thread pool): ${path.relative(ctx.repoRoot, file)}`,
    ...(await summarizeCpuProfile(file, ctx.repoRoot)),
  ];
}
