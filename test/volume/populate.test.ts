import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { bothFormats } from '../helpers/both-formats.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { parseVolumeFlag } from '../../src/container/mount-spec.js';
import { imageView } from '../../src/image/view.js';
import { volumeDataDir } from '../../src/volume/volume.js';
import { containerDirs } from '../../src/container/record.js';
import type { Resolver } from '../../src/resolver/resolver.js';

const T = 1_600_000_000;
const asRoot = process.geteuid?.() === 0;

/** /srv/app in two layers: the top one deletes a file and replaces another, so only the merged view is right. */
const LAYERS: LayerInput[] = [
  [
    { path: 'srv/', mtime: T },
    { path: 'srv/app/', mode: 0o750, uid: 1000, gid: 1001, mtime: T + 1 },
    { path: 'srv/app/conf.txt', content: 'conf v1\n', mode: 0o640, uid: 1000, gid: 1001, mtime: T + 2 },
    { path: 'srv/app/old.txt', content: 'old\n', mtime: T + 3 },
    { path: 'srv/app/a.txt', content: 'alpha\n', mode: 0o644, mtime: T + 4 },
    { path: 'srv/app/hard', type: 'hardlink', linkname: 'srv/app/a.txt' },
    { path: 'srv/app/link', type: 'symlink', linkname: 'a.txt', mtime: T + 5 },
    { path: 'srv/app/sub/', mode: 0o700, mtime: T + 6 },
    { path: 'srv/app/sub/tool', content: '#!/bin/sh\n', mode: 0o4755, mtime: T + 7 },
    { path: 'srv/app/sub/pipe', type: 'fifo', mode: 0o600, mtime: T + 8 },
    { path: 'srv/alias', type: 'symlink', linkname: 'app' },
  ],
  [
    { path: 'srv/app/', mode: 0o750, uid: 1000, gid: 1001, mtime: T + 1 },
    { path: 'srv/app/old.txt', type: 'whiteout' },
    { path: 'srv/app/conf.txt', content: 'conf v2\n', mode: 0o600, uid: 1000, gid: 1001, mtime: T + 9 },
  ],
];

/** Every entry below `root`: name, type, mode, owner, mtime, size and what it holds or points to. */
async function rows(view: Resolver, root: string): Promise<string[]> {
  const out: string[] = [];
  const top = await view.stat(root);
  out.push(['.', top.type, top.mode.toString(8), `${top.uid}:${top.gid}`, Math.floor(top.mtimeMs / 1000)].join(' '));
  for await (const { path: p, stats } of view.walk(root)) {
    let what = '';
    if (stats.type === 'file') what = (await view.readFile(p, 'utf8')).trim();
    if (stats.type === 'symlink') what = `-> ${await view.readlink(p)}`;
    out.push(
      [
        p.slice(root.length + 1),
        stats.type,
        stats.mode.toString(8),
        `${stats.uid}:${stats.gid}`,
        Math.floor(stats.mtimeMs / 1000),
        what,
      ].join(' '),
    );
  }
  return out;
}

bothFormats(
  'a new volume gets the image content at its mount point: modes, owners, times, links, as the image merges it',
  async (t, format) => {
    const { store, record, view } = await containerFromLayers(t, format, LAYERS, { mounts: [parseVolumeFlag('appdata:/srv/app')] });
    const image = await imageView(store, record.layers);
    const expected = await rows(image, '/srv/app');
    t.deepEqual(
      expected.map((r) => r.split(' ')[0]),
      ['.', 'a.txt', 'conf.txt', 'hard', 'link', 'sub', 'sub/pipe', 'sub/tool'],
    );
    t.true(expected.includes('conf.txt file 600 1000:1001 1600000009 conf v2'), 'the top layer wins; the deleted file stays deleted');
    const inVolume = await rows(view, '/srv/app');
    // Ownership is only set where the store may chown (root, not rootless).
    t.deepEqual(inVolume, asRoot ? expected : expected.map((r) => r.replace(/ \d+:\d+ /, ` ${process.getuid!()}:${process.getgid!()} `)));
    t.is((await view.lstat('/srv/app/a.txt')).ino, (await view.lstat('/srv/app/hard')).ino, 'a hard link stays one inode');
    t.is((await view.lstat('/srv/app/a.txt')).layer, 'mount');
    t.deepEqual(await fs.readdir(containerDirs(store, record.id).upper), [], 'nothing went into the upper dir');
    const data = await fs.stat(volumeDataDir(store, 'appdata'));
    t.is(data.mode & 0o7777, 0o750, "the volume's root takes the image directory's mode");
    if (asRoot) t.deepEqual([data.uid, data.gid], [1000, 1001], 'and its owner');
    t.is(expected[0], '. dir 750 1000:1001 1600000001');
    t.deepEqual((await fs.readdir(store.paths.volumesDir)).sort(), ['appdata'], 'no temp dir left beside the volume');
  },
);

bothFormats(
  'an anonymous volume is filled too, through a symlink at the mount point; nocopy and bind mounts are not',
  async (t, format) => {
    const host = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-bind-'));
    t.teardown(() => fs.rm(host, { recursive: true, force: true }));
    const { store, record, view } = await containerFromLayers(t, format, LAYERS, {
      mounts: [parseVolumeFlag('/srv/alias'), parseVolumeFlag('empty:/srv/app/sub:nocopy'), parseVolumeFlag(`${host}:/srv/host`)],
    });
    const anon = record.mounts.find((m) => m.destination === '/srv/alias');
    if (anon?.type !== 'volume') throw new Error('expected an anonymous volume');
    t.deepEqual((await fs.readdir(volumeDataDir(store, anon.name))).sort(), ['a.txt', 'conf.txt', 'hard', 'link', 'sub']);
    t.deepEqual(await fs.readdir(volumeDataDir(store, 'empty')), []);
    t.deepEqual(await view.readdir('/srv/app/sub'), []);
    t.deepEqual(await fs.readdir(host), [], 'a bind mount is never filled');
  },
);

bothFormats('a volume with content is left alone; an emptied one is filled again by the next create', async (t, format) => {
  const { store, view } = await containerFromLayers(t, format, LAYERS, { mounts: [parseVolumeFlag('shared:/srv/app')] });
  await view.writeFile('/srv/app/mine.txt', 'mine\n');
  await view.unlink('/srv/app/a.txt');
  const before = (await fs.readdir(volumeDataDir(store, 'shared'))).sort();
  await createContainer(store, 'app:1', { name: 'second', mounts: [parseVolumeFlag('shared:/srv/app')] });
  t.deepEqual((await fs.readdir(volumeDataDir(store, 'shared'))).sort(), before);
  t.false(before.includes('a.txt'));
  for (const name of await fs.readdir(volumeDataDir(store, 'shared')))
    await fs.rm(path.join(volumeDataDir(store, 'shared'), name), { recursive: true });
  const third = await createContainer(store, 'app:1', { name: 'third', mounts: [parseVolumeFlag('shared:/srv/app')] });
  t.is(await (await containerView(store, third)).readFile('/srv/app/a.txt', 'utf8'), 'alpha\n');
});

bothFormats('a volume over a path the image does not have stays empty', async (t, format) => {
  const { store, view } = await containerFromLayers(t, format, LAYERS, {
    mounts: [parseVolumeFlag('fresh:/data'), parseVolumeFlag('file:/srv/app/a.txt')],
  });
  t.deepEqual(await fs.readdir(volumeDataDir(store, 'fresh')), []);
  t.deepEqual(await fs.readdir(volumeDataDir(store, 'file')), [], 'a file at the mount point is not copied');
  t.deepEqual(await view.readdir('/data'), []);
});

/** Copies into these directories fail with EIO; the others of this file's tests, running meanwhile, copy as usual. */
const failingCopies = new Set<string>();
const realCopyFile = fs.copyFile;
fs.copyFile = async (from, to, mode) => {
  if ([...failingCopies].some((dir) => String(to).startsWith(dir))) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
  return realCopyFile(from, to, mode);
};

bothFormats('a create that fails while filling a new volume leaves neither the volume nor the container', async (t, format) => {
  const { store } = await containerFromLayers(t, format, LAYERS);
  await createContainer(store, 'app:1', { name: 'holder', mounts: [parseVolumeFlag('kept:/data')] });
  failingCopies.add(store.paths.volumesDir);
  try {
    await t.throwsAsync(
      createContainer(store, 'app:1', { name: 'broken', mounts: [parseVolumeFlag('kept:/srv/app'), parseVolumeFlag('new:/srv/app/sub')] }),
      {
        code: 'EIO',
        message: /, copy 'volume kept: image path \/srv\/app\/a\.txt'$/,
      },
    );
  } finally {
    failingCopies.delete(store.paths.volumesDir);
  }
  t.deepEqual(
    (await fs.readdir(store.paths.volumesDir)).sort(),
    ['kept'],
    'the new volume is gone, the one that was there stays; no temp dir',
  );
  t.deepEqual(await fs.readdir(volumeDataDir(store, 'kept')), []);
  t.deepEqual((await fs.readdir(store.paths.containersDir)).length, 2, 'app1 and holder only');
});
