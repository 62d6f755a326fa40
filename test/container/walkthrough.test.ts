import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { findImage } from '../../src/image/lookup.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { containerDirs } from '../../src/container/record.js';
import { removeContainer } from '../../src/container/lifecycle.js';
import { parseVolumeFlag } from '../../src/container/mount-spec.js';
import { volumeDataDir } from '../../src/volume/volume.js';
import { measureTree } from '../../src/layer/size.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';

// The storage walkthrough Docker users know from the docs, on both whiteout formats.
const formats: WhiteoutFormat[] = process.geteuid?.() === 0 ? ['oci', 'overlay'] : ['oci'];
const BIG = 8 * 1024 * 1024;

async function setup(t: Parameters<typeof tmpStore>[0], format: WhiteoutFormat) {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: format });
  const tar = await buildImage({
    format: 'oci',
    repoTags: ['walk:1'],
    layers: [
      [
        { path: 'etc/', type: 'dir' },
        { path: 'etc/hostname', content: 'original\n' },
        { path: 'tmp/', type: 'dir', mode: 0o1777 },
        { path: 'data/', type: 'dir' },
        { path: 'data/big.bin', size: BIG, seed: 7 },
        { path: 'srv/', type: 'dir' },
        { path: 'srv/keep.txt', content: 'keep me\n' },
      ],
    ],
  });
  await fs.writeFile(path.join(dir, 'walk.tar'), tar);
  await loadImages(store, { path: path.join(dir, 'walk.tar') });
  return store;
}

/** Docker's size rule over a directory (st_size of non-directories, hardlinks once). */
async function upperBytes(dir: string): Promise<number> {
  return (await measureTree(dir)).size;
}

for (const format of formats) {
  test(`two containers from one image do not see each other's writes (${format})`, async (t) => {
    const store = await setup(t, format);
    const a = await createContainer(store, 'walk:1', { name: 'ca' });
    const b = await createContainer(store, 'walk:1', { name: 'cb' });
    const va = await containerView(store, a);
    const vb = await containerView(store, b);
    await va.writeFile('/tmp/marker.txt', 'only in a\n');
    t.is(await va.readFile('/tmp/marker.txt', 'utf8'), 'only in a\n');
    t.is((await vb.lstat('/tmp/marker.txt').catch((e) => e)).code, 'ENOENT');
    t.is(await fs.readFile(path.join(containerDirs(store, a.id).upper, 'tmp', 'marker.txt'), 'utf8'), 'only in a\n');
  });

  test(`changing /etc/hostname in one container leaves a fresh container's original (${format})`, async (t) => {
    const store = await setup(t, format);
    const a = await createContainer(store, 'walk:1');
    await (await containerView(store, a)).writeFile('/etc/hostname', 'modified\n');
    const fresh = await createContainer(store, 'walk:1');
    t.is(await (await containerView(store, fresh)).readFile('/etc/hostname', 'utf8'), 'original\n');
    t.is(await (await containerView(store, a)).readFile('/etc/hostname', 'utf8'), 'modified\n');
  });

  test(`deleting a lower file leaves a whiteout in UpperDir and the layer untouched (${format})`, async (t) => {
    const store = await setup(t, format);
    const c = await createContainer(store, 'walk:1');
    await (await containerView(store, c)).unlink('/srv/keep.txt');
    const upper = containerDirs(store, c.id).upper;
    if (format === 'overlay') {
      const st = await fs.lstat(path.join(upper, 'srv', 'keep.txt'));
      t.true(st.isCharacterDevice());
      t.is(st.rdev, 0);
    } else {
      t.deepEqual(await fs.readdir(path.join(upper, 'srv')), ['.wh.keep.txt']);
      t.is((await fs.stat(path.join(upper, 'srv', '.wh.keep.txt'))).size, 0);
    }
    const image = await findImage(store, 'walk:1');
    const lower = store.paths.layerDiff(image.layers[0]!.chainId);
    t.is(await fs.readFile(path.join(lower, 'srv', 'keep.txt'), 'utf8'), 'keep me\n');
    t.is((await (await containerView(store, c)).lstat('/srv/keep.txt').catch((e) => e)).code, 'ENOENT');
  });

  test(`appending one byte to a large lower file copies it up once (${format})`, async (t) => {
    const store = await setup(t, format);
    const c = await createContainer(store, 'walk:1');
    const view = await containerView(store, c);
    const upper = containerDirs(store, c.id).upper;
    t.is(await upperBytes(upper), 0);
    await view.appendFile('/data/big.bin', 'x');
    t.is(await upperBytes(upper), BIG + 1, 'the whole file was copied up');
    await view.appendFile('/data/big.bin', 'y');
    t.is(await upperBytes(upper), BIG + 2, 'the second append copied nothing more');
    const tail = (await view.readFile('/data/big.bin')).subarray(-2).toString();
    t.is(tail, 'xy');
  });

  test(`removing a container removes its upper dir; a named volume's data stays (${format})`, async (t) => {
    const store = await setup(t, format);
    const c = await createContainer(store, 'walk:1', { mounts: [parseVolumeFlag('keepvol:/vol')] });
    const view = await containerView(store, c);
    await view.writeFile('/vol/data.txt', 'persisted\n');
    await view.writeFile('/etc/hostname', 'gone with the container\n');
    const dir = store.paths.containerDir(c.id);
    await removeContainer(store, c.id);
    await t.throwsAsync(fs.access(dir));
    t.is(await fs.readFile(path.join(volumeDataDir(store, 'keepvol'), 'data.txt'), 'utf8'), 'persisted\n');
    const again = await createContainer(store, 'walk:1', { mounts: [parseVolumeFlag('keepvol:/vol')] });
    t.is(await (await containerView(store, again)).readFile('/vol/data.txt', 'utf8'), 'persisted\n');
  });
}
