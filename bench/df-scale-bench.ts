/**
 * `npm run bench -- df-scale`: does `strata system df` with every cache valid grow with
 * the number of files in the upper dirs? The same store (one image, 10 containers) is
 * made three times, with 1,000, 100,000 and 1,000,000 files written straight into the
 * uppers, and each is measured with `system df -v --format json` and `du -sb` of the
 * whole store. With valid caches df reads one usage.json per container and nothing of
 * the uppers (test/usage/df-cache-reads.test.ts counts that), so its time should stay
 * flat while du's grows; the rows for bare Node and for df of an empty store show the
 * floor any Node CLI stands on.
 *
 * STRATA_BENCH_DF_UPPER_FILES (default `1000,100000,1000000`) picks the sizes; the
 * targets compare the smallest with the largest. Stores are cached under the bench
 * cache dir by their parameters (STRATA_BENCH_CLEAN=1 removes them afterwards).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { openStore } from '../src/store/root.js';
import { loadImages } from '../src/transfer/load.js';
import { createContainer } from '../src/container/create.js';
import { containerDirs } from '../src/container/record.js';
import { writeImage } from '../src/archive/image-builder.js';
import { normalizeReference } from '../src/image/reference.js';
import { benchCacheDir } from './bench-image.js';
import { timeInProcess } from './df-bench.js';
import { makeScratchDir, measure, removeTree, run, settleDisk, type Command, type Sample } from './measure.js';
import { diskUsage } from '../src/usage/df.js';
import { summarize, type BenchContext, type BenchReport, type TargetResult } from './report.js';

/** The issue's targets; they live here, never in tests. */
export const DF_SCALE_TARGETS = { maxGrowth: 1.2, minSpeedupVsDu: 10 } as const;

const GENERATOR_VERSION = 1;
const CONTAINERS = 10;
const FILES_PER_DIR = 1000;
/** One file in this many has content; the rest are empty, so a million files cost inodes, not gigabytes. */
const CONTENT_EVERY = 100;
const IMAGE = 'bench/scale:latest';

interface ScaleStore {
  files: number;
  root: string;
  /** Σ Size of the containers, as df must report it. */
  sizeRw: number;
  cached: boolean;
  generatedS: number;
}

export async function runDfScaleBench(ctx: BenchContext): Promise<BenchReport> {
  const sizes = upperFileCounts();
  const stores: ScaleStore[] = [];
  for (const files of sizes) stores.push(await ensureScaleStore(files, ctx.log));
  const scratch = await makeScratchDir('strata-bench-df-scale');
  try {
    const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
    const df = (root: string): Command => ({
      file: process.execPath,
      args: [bin, '--root', root, 'system', 'df', '-v', '--format', 'json'],
      cwd: ctx.repoRoot,
    });
    for (const s of stores) await verify(await run(df(s.root)), s);
    const empty = path.join(scratch, 'empty-store');
    await run({ ...df(empty), args: [bin, '--root', empty, 'images'] });
    type Side = { name: string; describe: string; once(): Promise<Sample> };
    const child = (command: Command) => () => measure(command, scratch);
    const count = (n: number) => n.toLocaleString('en-US');
    const sides: Side[] = [
      ...stores.flatMap((s): Side[] => [
        {
          name: `system df, ${count(s.files)} files`,
          describe: `node bin/strata.js --root <store> system df -v --format json, every usage.json valid; ${count(s.files)} upper files`,
          once: child(df(s.root)),
        },
        {
          name: `du -sb, ${count(s.files)} files`,
          describe: 'du -sb . in the store root',
          once: child({ file: 'du', args: ['-sb', '.'], cwd: s.root }),
        },
        {
          name: `diskUsage(), ${count(s.files)} files`,
          describe: 'openStore + diskUsage(store) in the bench process: the work alone, no start-up',
          once: () => timeInProcess(async () => diskUsage(await openStore({ root: s.root }))),
        },
      ]),
      { name: 'system df, empty store', describe: 'the same command on an empty store: start-up and imports', once: child(df(empty)) },
      {
        name: "node -e '' (start-up only)",
        describe: "bare node -e '': Node's own start-up, no strata code",
        once: child({ file: process.execPath, args: ['-e', ''], cwd: ctx.repoRoot }),
      },
    ];
    const samples = new Map<string, Sample[]>(sides.map((s) => [s.name, []]));
    for (let round = 0; round <= ctx.runs; round++) {
      for (const side of sides) {
        await settleDisk();
        const sample = await side.once();
        if (round > 0) samples.get(side.name)!.push(sample);
        ctx.log(`${round === 0 ? 'warm-up' : `run ${round}/${ctx.runs}`}  ${side.name.padEnd(28)} ${sample.wallS.toFixed(3)} s`);
      }
    }
    // The baseline is df at the smallest size: every other row says how far it is from it.
    const baseWall = summarize('', '', samples.get(sides[0]!.name)!, null).wallS!;
    const baseCpu = summarize('', '', samples.get(sides[0]!.name)!, null).cpuS!;
    const results = sides.map((s) => summarize(s.name, s.describe, samples.get(s.name)!, baseWall, baseCpu));
    const row = (name: string) => results.find((r) => r.name === name)!;
    const [small, large] = [stores[0]!, stores.at(-1)!];
    const dfSmall = row(`system df, ${count(small.files)} files`).wallS!;
    const dfLarge = row(`system df, ${count(large.files)} files`).wallS!;
    const duLarge = row(`du -sb, ${count(large.files)} files`).wallS!;
    const cpuOf = (s: ScaleStore) => row(`system df, ${count(s.files)} files`).cpuS!;
    const inProcessOf = (s: ScaleStore) => row(`diskUsage(), ${count(s.files)} files`).wallS!;
    const bare = row("node -e '' (start-up only)").wallS!;
    const emptyDf = row('system df, empty store').wallS!;
    const speedups = stores.map(
      (s) =>
        `${count(s.files)}: ${(row(`du -sb, ${count(s.files)} files`).wallS! / row(`system df, ${count(s.files)} files`).wallS!).toFixed(2)}x`,
    );
    const targets: TargetResult[] = [
      {
        status: dfLarge / dfSmall <= DF_SCALE_TARGETS.maxGrowth ? 'PASS' : 'MISS',
        target: `system df (caches valid) at ${count(large.files)} upper files within ${DF_SCALE_TARGETS.maxGrowth}x of its time at ${count(small.files)}`,
        found:
          `${(dfLarge / dfSmall).toFixed(2)}x (${dfLarge.toFixed(3)} s vs ${dfSmall.toFixed(3)} s; CPU ${cpuOf(large).toFixed(2)} s vs ${cpuOf(small).toFixed(2)} s = ${(cpuOf(large) / cpuOf(small)).toFixed(2)}x; ` +
          `the work in process ${(inProcessOf(large) * 1000).toFixed(1)} ms vs ${(inProcessOf(small) * 1000).toFixed(1)} ms = ${(inProcessOf(large) / inProcessOf(small)).toFixed(2)}x)`,
      },
      {
        status: duLarge / dfLarge >= DF_SCALE_TARGETS.minSpeedupVsDu ? 'PASS' : 'MISS',
        target: `system df at least ${DF_SCALE_TARGETS.minSpeedupVsDu}x faster than du -sb of the store at ${count(large.files)} upper files`,
        found:
          `${(duLarge / dfLarge).toFixed(2)}x (${dfLarge.toFixed(3)} s vs ${duLarge.toFixed(3)} s; per size ${speedups.join(', ')}); ` +
          `floor: bare node -e '' alone takes ${bare.toFixed(3)} s, ${(bare / duLarge).toFixed(2)}x du's time (${DF_SCALE_TARGETS.minSpeedupVsDu}x faster needs under ${(1 / DF_SCALE_TARGETS.minSpeedupVsDu).toFixed(2)}x); df of an empty store ${emptyDf.toFixed(3)} s`,
      },
    ];
    const where = path.join('$TMPDIR', path.relative(os.tmpdir(), benchCacheDir()));
    const notes = [
      `stores: 1 image (one layer of 100 files), ${CONTAINERS} containers, the upper files spread evenly over them in directories of ${FILES_PER_DIR}; one file in ${CONTENT_EVERY} has 100 B–4 KiB, the rest are empty; ` +
        stores
          .map(
            (s) =>
              `${count(s.files)} files: Σ Size ${count(s.sizeRw)} B, ${s.cached ? 'cached' : 'generated'} (${s.generatedS.toFixed(0)} s to make)`,
          )
          .join('; ') +
        `; kept in ${where}`,
      `${ctx.runs} measured runs per row after one warm-up each (metadata in the dentry and inode caches), rounds interleaved, sync before each; df output checked against every store first`,
      `load average (1, 5, 15 min) at the end ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (${os.cpus().length} CPUs)`,
    ];
    return {
      name: 'df-scale',
      title: `system df with valid caches at ${stores.map((s) => count(s.files)).join(', ')} upper files, against du -sb of the same store`,
      contenders: results,
      targets,
      notes,
    };
  } finally {
    await removeTree(scratch);
    if (ctx.clean) for (const s of stores) await removeTree(path.dirname(s.root));
  }
}

function upperFileCounts(): number[] {
  const raw = process.env.STRATA_BENCH_DF_UPPER_FILES || '1000,100000,1000000';
  const sizes = raw.split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < CONTAINERS)) {
    throw new Error(`STRATA_BENCH_DF_UPPER_FILES must list whole numbers of at least ${CONTAINERS}, not ${JSON.stringify(raw)}`);
  }
  return sizes.sort((a, b) => a - b);
}

async function verify(stdout: string, s: ScaleStore): Promise<void> {
  const out = JSON.parse(stdout) as { Containers: Array<{ Size: number }> };
  const size = out.Containers.reduce((sum, c) => sum + c.Size, 0);
  if (out.Containers.length !== CONTAINERS || size !== s.sizeRw) {
    throw new Error(
      `system df disagrees with the ${s.files}-file store: ${out.Containers.length} containers, Σ Size ${size} (expected ${s.sizeRw})`,
    );
  }
}

const sizeOf = (n: number) => 100 + (((n * 2654435761) >>> 0) % 4000);

async function ensureScaleStore(files: number, log: (line: string) => void): Promise<ScaleStore> {
  const format = process.getuid?.() === 0 && process.platform === 'linux' ? 'overlay' : 'oci';
  const key = createHash('sha256')
    .update(JSON.stringify({ generator: GENERATOR_VERSION, files, containers: CONTAINERS, format }))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(benchCacheDir(), `df-scale-${key}`);
  const root = path.join(dir, 'store');
  const infoFile = path.join(dir, 'info.json');
  const existing = await fsp.readFile(infoFile, 'utf8').then(
    (text) => JSON.parse(text) as Omit<ScaleStore, 'cached' | 'root'>,
    () => null,
  );
  if (existing !== null) return { ...existing, root, cached: true };
  // No info.json: nothing, or a generation that was interrupted. info.json is written last.
  await removeTree(dir);
  log(`generating the df-scale store of ${files.toLocaleString('en-US')} upper files (once; cached as df-scale-${key}) …`);
  const started = Date.now();
  const store = await openStore({ root, whiteoutFormat: format });
  const tarball = path.join(dir, 'image.tar');
  await writeImage(tarball, {
    format: 'docker25',
    tags: [{ name: IMAGE, ...normalizeReference(IMAGE) }],
    layers: [
      [
        { path: 'usr/' },
        { path: 'usr/lib/' },
        ...Array.from({ length: 100 }, (_, n) => ({ path: `usr/lib/f-${n}`, size: sizeOf(n), seed: n })),
      ],
    ],
  });
  await loadImages(store, { path: tarball });
  await fsp.rm(tarball, { force: true });
  const content = Buffer.alloc(4100, 'x');
  let sizeRw = 0;
  for (let c = 0; c < CONTAINERS; c++) {
    const record = await createContainer(store, IMAGE, { name: `scale-${c}` });
    const upper = containerDirs(store, record.id).upper;
    const mine = Math.floor(files / CONTAINERS) + (c < files % CONTAINERS ? 1 : 0);
    for (let n = 0; n < mine; n++) {
      const dirPath = `${upper}/data/d${Math.floor(n / FILES_PER_DIR)}`;
      if (n % FILES_PER_DIR === 0) fs.mkdirSync(dirPath, { recursive: true });
      const file = `${dirPath}/f-${n % FILES_PER_DIR}`;
      if (n % CONTENT_EVERY === 0) {
        const size = sizeOf(n + c);
        fs.writeFileSync(file, content.subarray(0, size));
        sizeRw += size;
      } else fs.closeSync(fs.openSync(file, 'w'));
    }
    log(`  container ${c + 1}/${CONTAINERS}: ${mine.toLocaleString('en-US')} files`);
  }
  // The first df walks every upper and writes the caches every measured run then reads.
  log('  first system df: walking the uppers to fill the usage caches …');
  await diskUsage(store);
  const info = { files, sizeRw, generatedS: (Date.now() - started) / 1000 };
  await fsp.writeFile(infoFile, `${JSON.stringify(info, null, 2)}\n`);
  return { ...info, root, cached: false };
}
