import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { loadImages } from '../../src/transfer/load.js';
import { checkStore } from '../../src/check/check.js';
import { openStore, type Store } from '../../src/store/root.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { listImages } from '../../src/image/list.js';
import { buildImage, type BuildImageOptions, type LayerEntry } from '../helpers/image-builder.js';
import { mountSmallFs, smallFsSkipReason, type SmallFs } from '../helpers/loopfs.js';
import { snapshotTree } from '../helpers/store-snapshot.js';
import { strataProcess } from '../helpers/cli.js';
import { testUnless } from '../helpers/skip.js';

/*
 * A store on a small file system that fills up: the failing operation ends with one
 * line that says ENOSPC and names what it was writing, the store is left exactly as
 * it was (check clean), and once space is freed the same operation succeeds.
 */
const MiB = 1024 * 1024;
const FS_MIB = 48;

/** Incompressible content, so gzip does not make the image small. */
const payload: LayerEntry[] = [
  { path: 'data/', type: 'dir' },
  { path: 'data/a.bin', size: 3 * MiB, seed: 'a' },
  { path: 'data/b.bin', size: 3 * MiB, seed: 'b' },
  { path: 'data/c.bin', size: 2 * MiB, seed: 'c' },
  { path: 'data/small', content: 'small\n' },
];
const baseline: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/hostname', content: 'baseline\n' },
];

const withSmallFs = testUnless(await smallFsSkipReason());

interface Setup {
  disk: SmallFs;
  store: Store;
  archive: string;
  need: number;
}

/**
 * A store on a fresh small file system holding a baseline image, and an archive of
 * `options` beside it (outside the small file system). `need` is what loading the
 * archive takes there, measured by loading it once into a scratch store.
 */
async function setup(t: ExecutionContext, options: Partial<BuildImageOptions>): Promise<Setup> {
  const disk = await mountSmallFs(t, FS_MIB);
  const outside = path.dirname(disk.dir);
  const archive = path.join(outside, 'image.tar');
  await fs.writeFile(
    archive,
    await buildImage({ format: 'docker', repoTags: ['big:1'], layers: [payload], ...options } as BuildImageOptions),
  );
  const baseArchive = path.join(outside, 'baseline.tar');
  await fs.writeFile(baseArchive, await buildImage({ format: 'oci', repoTags: ['baseline:1'], layers: [baseline] }));

  const scratch = await openStore({ root: path.join(disk.dir, 'scratch'), whiteoutFormat: 'oci' });
  const before = await disk.available();
  await loadImages(scratch, { path: archive });
  const need = before - (await disk.available());
  await fs.rm(scratch.root, { recursive: true, force: true });

  const store = await openStore({ root: path.join(disk.dir, 'store'), whiteoutFormat: 'oci' });
  await loadImages(store, { path: baseArchive });
  return { disk, store, archive, need };
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex');
}

const fillsDuringLoad = test.macro({
  async exec(t, options: Partial<BuildImageOptions>, fraction: number, workers?: number) {
    const { disk, store, archive, need } = await setup(t, options);
    const before = await snapshotTree(store.root);
    await disk.fill(Math.floor(need * fraction));

    const err = await t.throwsAsync(loadImages(store, { path: archive }, workers === undefined ? {} : { workers }));
    t.is((err as NodeJS.ErrnoException).code, 'ENOSPC', err!.message);
    t.false(err!.message.includes('\n'), 'one line');
    // It names what it was writing: a file of the store or the archive entry it came from.
    t.true(err!.message.includes(store.root) || err!.message.includes(archive), `names a file: ${err!.message}`);
    t.deepEqual((await checkStore(store)).problems, []);
    t.deepEqual(await snapshotTree(store.root), before, 'the store is exactly as it was');

    await disk.free();
    await loadImages(store, { path: archive });
    t.deepEqual((await checkStore(store)).problems, []);
    t.deepEqual((await listImages(store)).flatMap((i) => i.repoTags).sort(), ['baseline:1', 'big:1']);
  },
  title: (name = '', _o, fraction: number) =>
    `a load that fills the disk (${name}, ${Math.round(fraction * 100)}% of what it needs left) fails with ENOSPC, leaves the store as it was, and succeeds once space is freed`,
});

for (const fraction of [0.02, 0.3, 0.6, 0.9]) withSmallFs.serial('plain docker-save', fillsDuringLoad, { compression: 'none' }, fraction);
for (const fraction of [0.1, 0.5, 0.9])
  withSmallFs.serial(
    'gzipped OCI archive, gzip layers',
    fillsDuringLoad,
    { format: 'oci', compression: 'gzip', outerGzip: true },
    fraction,
  );

/** Four layers of incompressible data, staged at once on four import workers. */
const quarters: LayerEntry[][] = [0, 1, 2, 3].map((q) => [
  { path: `q${q}/`, type: 'dir' },
  { path: `q${q}/a.bin`, size: 2 * MiB, seed: `q${q}` },
  { path: `q${q}/small`, content: `quarter ${q}\n` },
]);
for (const fraction of [0.1, 0.5, 0.9])
  withSmallFs.serial('four gzip layers on four import workers', fillsDuringLoad, { compression: 'gzip', layers: quarters }, fraction, 4);

withSmallFs.serial(
  'strata load on a full disk prints one line naming the file and exits 1; the same load works after freeing space',
  async (t) => {
    const { disk, store, archive, need } = await setup(t, { compression: 'gzip' });
    const before = await snapshotTree(store.root);
    await disk.fill(Math.floor(need / 2));

    const failed = await strataProcess(store.root, ['load', '-i', archive]);
    t.is(failed.code, 1);
    const lines = failed.stderr.split('\n').filter(Boolean);
    t.is(lines.length, 1, failed.stderr);
    t.regex(lines[0]!, /^strata: .*no space left on device/i);
    t.true(lines[0]!.includes(store.root) || lines[0]!.includes(archive), `names a file: ${lines[0]}`);
    t.log(lines[0]);
    t.deepEqual(await snapshotTree(store.root), before);
    const check = await strataProcess(store.root, ['check']);
    t.is(check.code, 0, check.stdout + check.stderr);

    await disk.free();
    const loaded = await strataProcess(store.root, ['load', '-i', archive]);
    t.is(loaded.code, 0, loaded.stderr);
    t.regex(loaded.stdout, /Loaded image: big:1/);
  },
);

withSmallFs.serial(
  'copy-up with no room for the copy fails with ENOSPC, leaves no partial file and keeps the lower intact; the append works once space is freed',
  async (t) => {
    const { disk, store, archive } = await setup(t, { compression: 'none' });
    await loadImages(store, { path: archive });
    const container = await createContainer(store, 'big:1', { name: 'filler' });
    const view = await containerView(store, container);
    const lowerFile = path.join(
      store.paths.layerDiff((await listImages(store)).find((i) => i.repoTags.includes('big:1'))!.record.layers.at(-1)!.chainId),
      'data',
      'a.bin',
    );
    const lowerHash = await sha256(lowerFile);
    const upper = path.join(store.paths.containerDir(container.id), 'upper');
    const work = path.join(store.paths.containerDir(container.id), 'work');

    await disk.fill(1 * MiB); // a 3 MiB file cannot be copied up
    const err = await t.throwsAsync(view.appendFile('/data/a.bin', 'appended\n'));
    t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
    t.false(err!.message.includes('\n'));
    t.true(err!.message.includes('/data/a.bin'), `names the file: ${err!.message}`);
    t.deepEqual(await regularFiles(upper), [], 'no partial copy in upper/');
    t.deepEqual(await fs.readdir(work), [], 'nothing left in work/');
    t.is(await sha256(lowerFile), lowerHash, 'the lower file is intact');
    t.deepEqual((await checkStore(store)).problems, []);

    // The CLI says the same in one line, as busybox's shell would.
    const cli = await strataProcess(store.root, ['fs', 'append', 'filler', '/data/b.bin'], { stdin: Buffer.from('x') });
    t.is(cli.code, 1);
    t.deepEqual(cli.stderr.split('\n').filter(Boolean), ["append: can't create /data/b.bin: No space left on device"]);
    t.deepEqual(await regularFiles(upper), []);

    await disk.free();
    await view.appendFile('/data/a.bin', 'appended\n');
    const merged = await view.readFile('/data/a.bin');
    t.is(merged.length, 3 * MiB + 9);
    t.is(merged.subarray(3 * MiB).toString(), 'appended\n');
    t.is(await sha256(lowerFile), lowerHash, 'the lower file is still intact');
    t.deepEqual(await regularFiles(upper), ['data/a.bin']);
    t.deepEqual((await checkStore(store)).problems, []);
  },
);

/** Regular files under `dir`, relative, sorted (directories a copy-up made for parents are fine). */
async function regularFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.relative(dir, path.join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

withSmallFs.serial(
  'create on a full disk fails with ENOSPC (not ENOENT), leaves no half-made container, and works once space is freed',
  async (t) => {
    const { disk, store } = await setup(t, {});
    const before = await snapshotTree(store.root);
    // Room for one directory block: the container's temp dir is made, its upper/ is not.
    await disk.fill(4096);
    const err = await t.throwsAsync(createContainer(store, 'baseline:1', { name: 'box' }));
    t.is((err as NodeJS.ErrnoException).code, 'ENOSPC', err!.message);
    t.deepEqual(await snapshotTree(store.root), before, 'the store is exactly as it was');
    await disk.free();
    t.is((await createContainer(store, 'baseline:1', { name: 'box' })).name, 'box');
    t.deepEqual((await checkStore(store)).problems, []);
  },
);
