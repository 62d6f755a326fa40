/**
 * `npm run bench -- save`: `strata save` of the loaded ~1 GiB bench image against
 * `tar -cf` of the same blobs, in the same run.
 *
 *  - baseline: `tar -cf OUT -C <store>/blobs/sha256 <config> <manifest> <layer blobs>`,
 *    the bytes a save must move, archived by the standard tool.
 *  - strata save > OUT: the archive on stdout, redirected by bash — like tar -cf, no fsync.
 *  - strata save -o OUT: what users run; the file is fsynced and renamed into place.
 *  - strata save --uncompressed > OUT: every layer decompressed twice (a counting pass
 *    for the tar header, then the written one); no target, shown for its cost.
 *
 * The image is loaded once into a store (not timed); every run writes a fresh file in
 * the scratch directory, removed after it is checked.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { BENCH_TAG, ensureBenchImage, removeBenchImage } from './bench-image.js';
import { gnuTimeProblem, makeScratchDir, measure, removeTree, run, settleDisk, type Command, type Sample } from './measure.js';
import { summarize, type BenchContext, type BenchReport, type TargetResult } from './report.js';

/** The targets of the issue; they live here, never in tests. */
export const SAVE_TARGETS = { maxRatioVsTar: 1.2, maxPeakRssMiB: 300 } as const;

interface Contender {
  name: string;
  describe: string;
  command(out: string): Command;
  /** The archive entries that must be there. */
  expect: string[];
}

export async function runSaveBench(ctx: BenchContext): Promise<BenchReport> {
  const noTime = await gnuTimeProblem();
  if (noTime !== null) throw new Error(`save benchmark needs GNU time: ${noTime}`);
  const image = await ensureBenchImage(ctx.sizeMiB, ctx.log);
  const scratch = await makeScratchDir('strata-bench-save');
  const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
  try {
    ctx.log('loading the bench image into a store (not timed) …');
    const store = path.join(scratch, 'store');
    await run({ file: process.execPath, args: [bin, '--root', store, 'load', '-q', '-i', image.file], cwd: ctx.repoRoot });
    const index = JSON.parse(await run({ file: 'tar', args: ['-xOf', image.file, 'index.json'] })) as {
      manifests: Array<{ digest: string }>;
    };
    const manifestDigest = index.manifests[0]!.digest;
    const configDigest = (
      JSON.parse(await run({ file: 'tar', args: ['-xOf', image.file, `blobs/sha256/${hex(manifestDigest)}`] })) as {
        config: { digest: string };
      }
    ).config.digest;
    const blobs = [configDigest, manifestDigest, ...image.info.layers.map((l) => l.digest)].map(hex);
    const blobsDir = path.join(store, 'blobs', 'sha256');
    const saved = blobs.map((b) => `blobs/sha256/${b}`);
    const strataSave = (extra: string, out: string): Command => ({
      file: 'bash',
      args: ['-c', `exec "$0" "$1" --root "$2" save ${extra} "$3" > "$4"`, process.execPath, bin, store, BENCH_TAG, out],
      cwd: ctx.repoRoot,
    });
    const contenders: Contender[] = [
      {
        name: 'tar -cf (baseline)',
        describe: 'tar -cf OUT -C <store>/blobs/sha256 <config> <manifest> <layers>',
        command: (out) => ({ file: 'tar', args: ['-cf', out, '-C', blobsDir, ...blobs] }),
        expect: blobs,
      },
      {
        name: 'strata save > OUT',
        describe: 'node bin/strata.js --root <store> save strata-bench:latest > OUT (bash redirect, no fsync)',
        command: (out) => strataSave('', out),
        expect: [...saved, 'index.json', 'manifest.json', 'oci-layout'],
      },
      {
        name: 'strata save -o OUT',
        describe: 'node bin/strata.js --root <store> save -o OUT strata-bench:latest (fsync + rename)',
        command: (out) => ({ file: process.execPath, args: [bin, '--root', store, 'save', '-o', out, BENCH_TAG], cwd: ctx.repoRoot }),
        expect: [...saved, 'index.json', 'manifest.json', 'oci-layout'],
      },
      {
        name: 'strata save --uncompressed',
        describe: 'node bin/strata.js --root <store> save --uncompressed strata-bench:latest > OUT',
        command: (out) => strataSave('--uncompressed', out),
        expect: [...image.info.layers.map((l) => `blobs/sha256/${hex(l.diffId)}`), 'index.json', 'manifest.json'],
      },
    ];

    const samples = new Map<string, Sample[]>(contenders.map((c) => [c.name, []]));
    for (let round = 0; round <= ctx.runs; round++) {
      for (const [i, c] of contenders.entries()) {
        const out = path.join(scratch, `run-${round}-${i}.tar`);
        await settleDisk();
        const sample = await measure(c.command(out), scratch);
        await verify(out, c.expect);
        await fsp.rm(out);
        if (round > 0) samples.get(c.name)!.push(sample);
        ctx.log(
          `${round === 0 ? 'warm-up' : `run ${round}/${ctx.runs}`}  ${c.name.padEnd(28)} ${sample.wallS.toFixed(2)} s  ${sample.peakRssMiB.toFixed(1)} MiB`,
        );
      }
    }

    const base = summarize('', '', samples.get(contenders[0]!.name)!, null);
    const results = contenders.map((c) => summarize(c.name, c.describe, samples.get(c.name)!, base.wallS, base.cpuS));
    const [tar, piped, toFile, plain] = [results[0]!, results[1]!, results[2]!, results[3]!];
    const compressed = image.info.layers.reduce((sum, l) => sum + l.size, 0);
    const targets: TargetResult[] = [
      {
        status: piped.ratio! <= SAVE_TARGETS.maxRatioVsTar ? 'PASS' : 'MISS',
        target: `strata save within ${SAVE_TARGETS.maxRatioVsTar}x of tar -cf of its blobs`,
        found: `${piped.ratio!.toFixed(2)}x (${piped.wallS!.toFixed(2)} s vs ${tar.wallS!.toFixed(2)} s; with -o, fsync included: ${toFile.ratio!.toFixed(2)}x)`,
      },
      {
        status: Math.max(piped.peakRssMiB!, toFile.peakRssMiB!, plain.peakRssMiB!) < SAVE_TARGETS.maxPeakRssMiB ? 'PASS' : 'MISS',
        target: `strata save peak RSS under ${SAVE_TARGETS.maxPeakRssMiB} MiB (every form)`,
        found: `${piped.peakRssMiB!.toFixed(1)} MiB (-o ${toFile.peakRssMiB!.toFixed(1)} MiB, --uncompressed ${plain.peakRssMiB!.toFixed(1)} MiB)`,
      },
    ];
    return {
      name: 'save',
      title: `strata save of the ${ctx.sizeMiB} MiB bench image vs tar -cf of its blobs`,
      contenders: results,
      targets,
      notes: [
        `image: the load benchmark's, ${image.info.layers.length} gzip layers, ${(compressed / 1024 ** 2).toFixed(0)} MiB of blobs, loaded once (not timed)`,
        `${ctx.runs} measured runs per contender after one warm-up run each (blobs in the page cache), rounds interleaved; each output is checked with tar -tf and removed`,
        'the target compares the stdout form with tar -cf (neither fsyncs); -o adds an fsync of the whole archive and a rename',
        '--uncompressed decompresses every layer twice (a counting pass for the tar header, then the written pass): no target',
      ],
    };
  } finally {
    await removeTree(scratch);
    if (ctx.clean) await removeBenchImage(image);
  }
}

const hex = (digest: string) => digest.slice('sha256:'.length);

/** A fast wrong answer is no answer: the archive lists every entry it must. */
async function verify(out: string, expect: string[]): Promise<void> {
  const listed = new Set((await run({ file: 'tar', args: ['-tf', out] })).split('\n'));
  const missing = expect.filter((name) => !listed.has(name));
  if (missing.length > 0) throw new Error(`${path.basename(out)} lacks ${missing.join(', ')}`);
}
