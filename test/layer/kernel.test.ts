/**
 * The kernel as the oracle for the overlay format: layers unpacked by strata are
 * mounted with overlayfs as they are, and the merged view must be what the layer
 * tars say (whiteouts hide, opaque directories cut off what is below, this layer's
 * own entries survive its opaque markers). Root only.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { kernelOverlaySkipReason, mountOverlay } from '../helpers/kernel-overlay.js';
import { makeTar } from '../helpers/make-tar.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { testUnless } from '../helpers/skip.js';
import { listTree, unpack } from './helpers.js';

testUnless(await kernelOverlaySkipReason())(
  'layers unpacked in the overlay format mount with the kernel as the tars describe',
  async (t) => {
    const { store, dir } = await tmpStore(t, { whiteoutFormat: 'overlay' });
    const lower = await unpack(
      store,
      await makeTar([
        { name: 'etc/passwd', content: 'root' },
        { name: 'etc/motd', content: 'hi' },
        { name: 'var/log/a', content: 'a' },
        { name: 'var/log/b', content: 'b' },
        { name: 'opt/data/old', content: 'old' },
        { name: 'opt/data/x', content: 'x' },
        { name: '.baz', content: 'z' },
      ]),
    );
    const upper = await unpack(
      store,
      await makeTar([
        { name: 'etc/.wh.motd' },
        { name: 'var/.wh.log' },
        // The whiteout of x comes before the marker that makes it redundant, and y after it.
        { name: 'opt/data/.wh.x' },
        { name: 'opt/data/.wh..wh..opq' },
        { name: 'opt/data/y', content: 'y' },
        { name: '.wh..baz' },
        { name: 'new/file', content: 'new' },
      ]),
      { parent: lower.record.chainId, chainId: `sha256:${'f'.repeat(64)}` },
    );

    const merged = path.join(dir, 'merged');
    await fs.mkdir(merged);
    const mount = await mountOverlay({ lowerDirs: [upper.diff, lower.diff], target: merged, readOnly: true });
    t.teardown(() => mount.unmount());
    // A whiteout left inside an opaque directory would be listed here (and then not be there).
    t.deepEqual(await fs.readdir(path.join(mount.merged, 'opt/data')), ['y']);
    t.deepEqual(
      (await listTree(mount.merged)).map((e) => [e.path, e.type, e.data]),
      [
        ['etc', 'dir', undefined],
        ['etc/passwd', 'file', 'root'],
        ['new', 'dir', undefined],
        ['new/file', 'file', 'new'],
        ['opt', 'dir', undefined],
        ['opt/data', 'dir', undefined],
        ['opt/data/y', 'file', 'y'],
        ['var', 'dir', undefined],
      ],
    );
  },
);
