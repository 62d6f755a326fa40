/**
 * `npm run bench -- df`: `strata system df -v --format json` against `du -sb` over the
 * same directories (layers/, containers/, volumes/) of a generated store, in the same run.
 *
 * The store is made with strata's own code: 20 images (one shared base layer, four
 * runtime layers each shared by five images, one app layer per image) loaded with
 * loadImages, 200 containers from createContainer, and 100,000 small files written
 * straight into their upper dirs with node:fs — copy-ups of image files, new files in
 * image directories, whole new directories, whiteouts, an opaque directory in every
 * tenth container — plus 20 volumes. It is cached under the temp dir keyed by its
 * parameters, so only the first run pays for it (STRATA_BENCH_CLEAN=1 removes it).
 * Layer sizes are cached in the image records at load, so df never walks layers/;
 * container sizes are cached in containers/<id>/usage.json by the first df (the
 * warm-up run), so the measured df rows read those, and a --no-cache row shows the
 * cold walk beside them.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { openStore, type Store } from '../src/store/root.js';
import { loadImages } from '../src/transfer/load.js';
import { createContainer } from '../src/container/create.js';
import { containerDirs, listContainerRecords } from '../src/container/record.js';
import { volumeDataDir } from '../src/volume/volume.js';
import { diskUsage } from '../src/usage/df.js';
import { UsageMeter } from '../src/usage/usage-meter.js';
import { measureTree } from '../src/layer/size.js';
import { markOpaque, writeWhiteout } from '../src/layer/whiteout.js';
import { Resolver } from '../src/resolver/resolver.js';
import { writeImage } from '../src/archive/image-builder.js';
import type { LayerEntry } from '../src/archive/layer-spec.js';
import { normalizeReference } from '../src/image/reference.js';
import { benchCacheDir } from './bench-image.js';
import { makeScratchDir, measure, removeTree, run, settleDisk, type Command, type Sample } from './measure.js';
import { summarize, type BenchContext, type BenchReport, type TargetResult } from './report.js';
import { summarizeCpuProfile } from './cpu-profile.js';

/** The target of the issue; it lives here, never in tests. */
export const DF_TARGETS = { minSpeedupVsDu: 2 } as const;

/** Bump when the generated store changes, so stale cached stores are not reused. */
const GENERATOR_VERSION = 1;
export interface DfShape {
  images: number;
  runtimes: number;
  baseFiles: number;
  runtimeFiles: number;
  appFiles: number;
  containers: number;
  /** Per container: copy-ups of image files, new files in image dirs, files in new dirs (20 per dir). */
  copyUps: number;
  inImageDirs: number;
  inNewDirs: number;
  whiteouts: number;
  opaqueEvery: number;
  volumeEvery: number;
  volumeFiles: number;
}
export const DF_SHAPE: DfShape = {
  images: 20,
  runtimes: 4,
  baseFiles: 1000,
  runtimeFiles: 500,
  appFiles: 250,
  containers: 200,
  copyUps: 20,
  inImageDirs: 80,
  inNewDirs: 400,
  whiteouts: 5,
  opaqueEvery: 10,
  volumeEvery: 10,
  volumeFiles: 50,
};

interface DfStoreInfo {
  key: string;
  upperFiles: number;
  sizeRw: number;
  copiedUp: number;
  generatedS: number;
}

export async function runDfBench(ctx: BenchContext, shape: DfShape = DF_SHAPE): Promise<BenchReport> {
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const { root, info, cached } = await ensureDfStore(shape, ctx.log);
  const loadBefore = load();
  const scratch = await makeScratchDir('strata-bench-df');
  try {
    const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
    const dfCommand: Command = {
      file: process.execPath,
      args: [bin, '--root', root, 'system', 'df', '-v', '--format', 'json'],
      cwd: ctx.repoRoot,
    };
    const coldCommand: Command = { ...dfCommand, args: [...dfCommand.args, '--no-cache'] };
    // The cold run checks the walk; the next one (the cache it wrote) checks the cache.
    await verifyDf(await run(coldCommand), shape, info);
    await verifyDf(await run(dfCommand), shape, info);
    type Side = { name: string; describe: string; once(): Promise<Sample> };
    const sides: Side[] = [
      {
        name: 'du -sb (baseline)',
        describe: 'du -sb layers containers volumes (in the store root)',
        once: () => measure({ file: 'du', args: ['-sb', 'layers', 'containers', 'volumes'], cwd: root }, scratch),
      },
      {
        name: 'strata system df -v',
        describe: 'node bin/strata.js --root <store> system df -v --format json: every usage.json valid (the warm-up run filled them)',
        once: () => measure(dfCommand, scratch),
      },
      {
        name: 'system df -v --no-cache',
        describe: 'the same with --no-cache: every upper walked, as on the first df after changes',
        once: () => measure(coldCommand, scratch),
      },
      {
        name: 'diskUsage() in-process',
        describe: 'openStore + diskUsage(store) in the bench process (no Node start-up), caches valid',
        once: () => timeInProcess(async () => diskUsage(await openStore({ root }))),
      },
      // What any Node CLI pays before its first line runs: the floor under the system df rows.
      {
        name: "node -e '' (start-up only)",
        describe: "bare node -e '': Node's own start-up, no strata code",
        once: () => measure({ file: process.execPath, args: ['-e', ''], cwd: ctx.repoRoot }, scratch),
      },
    ];
    const samples = new Map<string, Sample[]>(sides.map((s) => [s.name, []]));
    for (let round = 0; round <= ctx.runs; round++) {
      for (const side of sides) {
        await settleDisk();
        const sample = await side.once();
        if (round > 0) samples.get(side.name)!.push(sample);
        ctx.log(`${round === 0 ? 'warm-up' : `run ${round}/${ctx.runs}`}  ${side.name.padEnd(24)} ${sample.wallS.toFixed(2)} s`);
      }
    }
    const baseWall = summarize('', '', samples.get(sides[0]!.name)!, null).wallS!;
    const results = sides.map((s) => summarize(s.name, s.describe, samples.get(s.name)!, baseWall));
    const [du, df, cold, inProcess, bareNode] = [results[0]!, results[1]!, results[2]!, results[3]!, results[4]!];
    const targets: TargetResult[] = [
      {
        status: baseWall / df.wallS! >= DF_TARGETS.minSpeedupVsDu ? 'PASS' : 'MISS',
        target: `system df at least ${DF_TARGETS.minSpeedupVsDu}x faster than du -sb (container sizes cached)`,
        found:
          `${(baseWall / df.wallS!).toFixed(2)}x (${df.wallS!.toFixed(3)} s vs ${du.wallS!.toFixed(3)} s; in-process diskUsage ${inProcess.wallS!.toFixed(3)} s = ${(baseWall / inProcess.wallS!).toFixed(2)}x; ` +
          `cold, --no-cache: ${cold.wallS!.toFixed(2)} s = ${(baseWall / cold.wallS!).toFixed(2)}x; bare node -e '' alone ${bareNode.wallS!.toFixed(3)} s)`,
      },
    ];
    const where = path.join('$TMPDIR', path.relative(os.tmpdir(), path.dirname(root)));
    const notes = [
      `store: ${shape.images} images (1 base layer of ${shape.baseFiles} files shared by all, ${shape.runtimes} runtime layers of ${shape.runtimeFiles} each shared by ${shape.images / shape.runtimes}, one app layer of ${shape.appFiles} per image), ` +
        `${shape.containers} containers with ${info.upperFiles.toLocaleString('en-US')} files in their uppers (per container: ${shape.copyUps} copy-ups, ${shape.inImageDirs} new files in image dirs, ${shape.inNewDirs} in new dirs, ${shape.whiteouts} whiteouts; every ${shape.opaqueEvery}th has an opaque dir), ` +
        `${shape.containers / shape.volumeEvery} volumes of ${shape.volumeFiles} files; cache key ${info.key}` +
        (cached
          ? `; cached store reused from ${where} (generated in ${info.generatedS.toFixed(0)} s)`
          : `; generated in ${info.generatedS.toFixed(0)} s and cached in ${where}`),
      `${ctx.runs} measured runs per contender after one warm-up each (metadata in the dentry/inode cache; for df also every usage.json written), rounds interleaved; df output checked, walked and from the cache: ${shape.containers} containers, Σ Size ${info.sizeRw.toLocaleString('en-US')} B, Σ CopiedUp ${info.copiedUp.toLocaleString('en-US')} B`,
      `load average (1, 5, 15 min) at the start ${loadBefore}, at the end ${load()} (${os.cpus().length} CPUs)`,
    ];
    const details =
      targets[0]!.status === 'MISS' || ctx.cpuProfDir !== null ? await profileDf(ctx, root, dfCommand, scratch, baseWall) : undefined;
    return {
      name: 'df',
      title: `strata system df vs du -sb over a store of ${shape.containers} containers and ${info.upperFiles.toLocaleString('en-US')} upper files`,
      contenders: results,
      targets,
      notes,
      ...(details ? { details } : {}),
    };
  } finally {
    await removeTree(scratch);
    if (ctx.clean) await removeTree(path.dirname(root));
  }
}

/** Times `work` in this process: wall and CPU, no start-up. */
export async function timeInProcess(work: () => Promise<unknown>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await work();
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { wallS, userS: used.user / 1e6, sysS: used.system / 1e6, peakRssMiB: process.memoryUsage().rss / 1024 ** 2 };
}

/** The figures df prints must be the ones generated: a fast wrong answer is no answer. */
async function verifyDf(stdout: string, shape: DfShape, info: DfStoreInfo): Promise<void> {
  const out = JSON.parse(stdout) as { Containers: Array<{ Size: number; CopiedUp: number }>; Volumes: unknown[] };
  const size = out.Containers.reduce((sum, c) => sum + c.Size, 0);
  const copied = out.Containers.reduce((sum, c) => sum + c.CopiedUp, 0);
  if (
    out.Containers.length !== shape.containers ||
    size !== info.sizeRw ||
    copied !== info.copiedUp ||
    out.Volumes.length !== shape.containers / shape.volumeEvery
  ) {
    throw new Error(
      `system df disagrees with the generated store: ${out.Containers.length} containers, Σ Size ${size} (expected ${info.sizeRw}), Σ CopiedUp ${copied} (expected ${info.copiedUp})`,
    );
  }
}

// ------------------------------------------------------------------ profile

/**
 * Where df's time goes: a CPU profile of one CLI run, and the same work split in
 * process — the cold walk of every upper with the image lookups (as --no-cache does
 * it), the upper walk alone, the cached path alone, and Node start-up with imports.
 */
async function profileDf(ctx: BenchContext, root: string, dfCommand: Command, scratch: string, duS: number): Promise<string[]> {
  ctx.log('profiling system df …');
  const lines = ['df profile (extra, unmeasured runs):'];
  const store = await openStore({ root });
  const records = await listContainerRecords(store);
  const uppers = records.map((r) => containerDirs(store, r.id).upper);

  const counts = { hostLstat: 0, lowerLstat: 0, lowerReaddir: 0, lowerWalk: 0 };
  const original = {
    lstat: fsp.lstat,
    rlstat: Resolver.prototype.lstat,
    rreaddir: Resolver.prototype.readdir,
    rwalk: Resolver.prototype.walk,
  };
  // The upper walk is synchronous (fs.lstatSync); fs.promises.lstat calls are the Resolver's.
  Object.assign(fsp, {
    lstat: (...a: Parameters<typeof fsp.lstat>) => {
      counts.hostLstat++;
      return original.lstat(...a);
    },
  });
  Object.assign(Resolver.prototype, {
    lstat(this: Resolver, p: string) {
      counts.lowerLstat++;
      return original.rlstat.call(this, p);
    },
    readdir(this: Resolver, ...a: unknown[]) {
      counts.lowerReaddir++;
      return (original.rreaddir as (...x: unknown[]) => unknown).apply(this, a);
    },
    walk(this: Resolver, p?: string) {
      counts.lowerWalk++;
      return original.rwalk.call(this, p);
    },
  });
  let coldS: number;
  try {
    coldS = await timed(() => diskUsage(store, { noCache: true }));
  } finally {
    Object.assign(fsp, { lstat: original.lstat });
    Object.assign(Resolver.prototype, { lstat: original.rlstat, readdir: original.rreaddir, walk: original.rwalk });
  }
  const upperEntries = uppers.reduce((n, u) => n + countEntries(u), 0);
  const syncWalkS = await timed(async () => {
    for (const u of uppers) await measureTree(u);
  });
  const meter = new UsageMeter(store);
  const warmS = await timed(() => meter.all(records));
  const warmAllS = await timed(() => diskUsage(store));
  const duUppers = await measure({ file: 'du', args: ['-sb', ...uppers.map((u) => path.relative(root, u))], cwd: root }, scratch);
  const empty = path.join(scratch, 'empty-store');
  await run({ ...dfCommand, args: [dfCommand.args[0]!, '--root', empty, 'images'] });
  const startUp = await measure(
    { ...dfCommand, args: [dfCommand.args[0]!, '--root', empty, 'system', 'df', '-v', '--format', 'json'] },
    scratch,
  );
  const bare = await measure({ file: process.execPath, args: ['-e', ''], cwd: ctx.repoRoot }, scratch);
  lines.push(
    `  cold (diskUsage --no-cache in process): ${coldS.toFixed(2)} s for ${records.length} containers and ${upperEntries.toLocaleString('en-US')} upper entries; ` +
      `image lookups through one LowerIndex per layer chain: ${counts.lowerReaddir.toLocaleString('en-US')} Resolver.readdir + ${counts.lowerLstat.toLocaleString('en-US')} lstat + ${counts.lowerWalk} walk calls, ` +
      `making ${counts.hostLstat.toLocaleString('en-US')} fs.promises.lstat calls; the synchronous upper walk alone (measureTree) takes ${syncWalkS.toFixed(2)} s, du -sb of the uppers ${duUppers.wallS.toFixed(2)} s`,
    `  warm: reading and checking every usage.json (UsageMeter) ${(warmS * 1000).toFixed(0)} ms; all of diskUsage ${(warmAllS * 1000).toFixed(0)} ms; ` +
      `Node start-up and imports: system df of an empty store ${startUp.wallS.toFixed(3)} s, bare node -e '' ${bare.wallS.toFixed(3)} s`,
    `  budget: ${DF_TARGETS.minSpeedupVsDu}x faster than du means df in ≤ ${(duS / DF_TARGETS.minSpeedupVsDu).toFixed(3)} s`,
  );
  const dir = ctx.cpuProfDir ?? path.join(scratch, 'cpu-prof');
  await fsp.mkdir(dir, { recursive: true });
  const before = new Set(await fsp.readdir(dir));
  await run({ ...dfCommand, args: ['--cpu-prof', '--cpu-prof-dir', dir, ...dfCommand.args] });
  const written = (await fsp.readdir(dir)).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  if (written.length > 0) {
    const file = path.join(dir, written[0]!);
    lines.push(
      `  cpu profile of one (warm) system df run (main thread; "(idle)" = waiting for the thread pool)${ctx.cpuProfDir ? `: ${path.relative(ctx.repoRoot, file)}` : ''}`,
      ...(await summarizeCpuProfile(file, ctx.repoRoot, 10)).map((l) => `    ${l}`),
    );
  }
  return lines;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function countEntries(dir: string): number {
  let n = 0;
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) n += 1 + (d.isDirectory() ? countEntries(path.join(dir, d.name)) : 0);
  return n;
}

// ------------------------------------------------------------------ the store

export async function ensureDfStore(
  shape: DfShape,
  log: (line: string) => void,
): Promise<{ root: string; info: DfStoreInfo; cached: boolean }> {
  const format = process.getuid?.() === 0 && process.platform === 'linux' ? 'overlay' : 'oci';
  const key = createHash('sha256')
    .update(JSON.stringify({ generator: GENERATOR_VERSION, shape, format }))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(benchCacheDir(), `df-${key}`);
  const root = path.join(dir, 'store');
  const infoFile = path.join(dir, 'info.json');
  const existing = await fsp.readFile(infoFile, 'utf8').then(
    (s) => JSON.parse(s) as DfStoreInfo,
    () => null,
  );
  if (existing !== null) return { root, info: existing, cached: true };
  // No info.json: nothing or an interrupted generation. info.json is written last.
  await removeTree(dir);
  log(`generating the df bench store (once; cached by parameters hash ${key}) …`);
  const started = Date.now();
  const store = await openStore({ root, whiteoutFormat: format });
  await loadBenchImages(store, shape, dir, log);
  const totals = await makeContainers(store, shape, log);
  const info: DfStoreInfo = { key, ...totals, generatedS: (Date.now() - started) / 1000 };
  await fsp.writeFile(infoFile, `${JSON.stringify(info, null, 2)}\n`);
  return { root, info, cached: false };
}

const sizeOf = (n: number) => 100 + (((n * 2654435761) >>> 0) % 4000);
const imageRef = (i: number) => `bench/app-${i}:latest`;

function files(prefix: (n: number) => string, count: number, seed: string): LayerEntry[] {
  return Array.from({ length: count }, (_, n) => ({ path: prefix(n), size: sizeOf(n), seed: `${seed}-${n}` }));
}

/** Every directory above `entries`, explicitly, as image tars carry them. */
function withParents(entries: LayerEntry[]): LayerEntry[] {
  const dirs = new Set<string>();
  for (const e of entries) for (let p = path.posix.dirname(e.path); p !== '.'; p = path.posix.dirname(p)) dirs.add(`${p}/`);
  return [...[...dirs].sort().map((p) => ({ path: p })), ...entries];
}

/** The image's file names, one function per layer kind, so containers can pick files that exist. */
const baseLib = (n: number) => `usr/lib/pkg-${n % 20}/file-${Math.floor(n / 20)}`;
const baseBin = (n: number) => `usr/bin/tool-${n}`;
const runtimeFile = (k: number, n: number) => `usr/lib/runtime-${k}/mod-${n % 25}/file-${Math.floor(n / 25)}`;
const appFile = (n: number) => `app/src/m${n % 10}/file-${Math.floor(n / 10)}`;
const BASE_BINS = 100;
const BASE_CONFIGS = 100;

async function loadBenchImages(store: Store, shape: DfShape, dir: string, log: (line: string) => void): Promise<void> {
  const base = withParents([
    ...files(baseLib, shape.baseFiles - BASE_BINS - BASE_CONFIGS, 'base-lib'),
    ...files(baseBin, BASE_BINS, 'base-bin'),
    ...files((n) => `etc/conf.d/cfg-${n}`, BASE_CONFIGS, 'base-etc'),
    { path: 'var/log/' },
    { path: 'tmp/' },
    { path: 'root/' },
  ]);
  const runtime = (k: number) => withParents(files((n) => runtimeFile(k, n), shape.runtimeFiles, `rt${k}`));
  const app = (i: number) => withParents(files(appFile, shape.appFiles, `app${i}`));
  const tarball = path.join(dir, 'image.tar');
  for (let i = 0; i < shape.images; i++) {
    await writeImage(tarball, {
      format: 'docker25',
      tags: [{ name: imageRef(i), ...normalizeReference(imageRef(i)) }],
      compression: 'gzip',
      layers: [base, runtime(i % shape.runtimes), app(i)],
    });
    await loadImages(store, { path: tarball });
    log(`  image ${i + 1}/${shape.images} loaded`);
  }
  await fsp.rm(tarball, { force: true });
}

async function makeContainers(store: Store, shape: DfShape, log: (line: string) => void): Promise<Omit<DfStoreInfo, 'key' | 'generatedS'>> {
  const pool = randomBytes(8192);
  const totals = { upperFiles: 0, sizeRw: 0, copiedUp: 0 };
  for (let c = 0; c < shape.containers; c++) {
    const i = c % shape.images;
    const volume = c % shape.volumeEvery === 0 ? `benchvol-${c}` : null;
    const record = await createContainer(store, imageRef(i), {
      name: `bench-${c}`,
      mounts: volume === null ? [] : [{ type: 'volume', name: volume, destination: '/data', readOnly: false, anonymous: false }],
    });
    const upper = containerDirs(store, record.id).upper;
    const write = (rel: string, n: number, copied = false) => {
      const size = sizeOf(n * 31 + c);
      fs.mkdirSync(path.join(upper, path.dirname(rel)), { recursive: true });
      fs.writeFileSync(path.join(upper, rel), pool.subarray(n % 4096, (n % 4096) + size));
      totals.upperFiles++;
      totals.sizeRw += size;
      if (copied) totals.copiedUp += size;
    };
    const k = i % shape.runtimes;
    const pick = (n: number, count: number) => (c * 7 + n * 13) % count;
    // Image files changed in place: a third each from the base, the runtime and the app layer.
    const copyUps = new Set(
      Array.from(
        { length: shape.copyUps },
        (_, n) =>
          [
            baseLib(pick(n, shape.baseFiles - BASE_BINS - BASE_CONFIGS)),
            runtimeFile(k, pick(n, shape.runtimeFiles)),
            appFile(pick(n, shape.appFiles)),
          ][n % 3]!,
      ),
    );
    for (const [n, rel] of [...copyUps].entries()) write(rel, n, true);
    for (let n = 0; n < shape.inImageDirs; n++)
      write([`var/log/app-${n}.log`, `etc/conf.d/local-${n}`, `tmp/t-${n}`, `var/log/app-${n}.log.1`][n % 4]!, 1000 + n);
    for (let n = 0; n < shape.inNewDirs; n++) write(`app/data/d${Math.floor(n / 20)}/f-${n % 20}`, 2000 + n);
    fs.mkdirSync(path.join(upper, 'usr/bin'), { recursive: true });
    for (let n = 0; n < shape.whiteouts; n++)
      await writeWhiteout(path.join(upper, 'usr/bin'), path.posix.basename(baseBin((c + 7 * n) % BASE_BINS)), store.whiteoutFormat);
    // A directory deleted and re-created: everything the image had in it is hidden.
    if (c % shape.opaqueEvery === 0) await markOpaque(path.join(upper, 'etc/conf.d'), store.whiteoutFormat);
    if (volume !== null) {
      const data = volumeDataDir(store, volume);
      for (let n = 0; n < shape.volumeFiles; n++) fs.writeFileSync(path.join(data, `v-${n}`), pool.subarray(0, sizeOf(n)));
    }
    if ((c + 1) % 20 === 0) log(`  container ${c + 1}/${shape.containers} written`);
  }
  return totals;
}
