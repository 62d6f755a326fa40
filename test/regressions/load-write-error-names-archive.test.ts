import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { snapshotTree } from '../helpers/store-snapshot.js';
import { testUnless } from '../helpers/skip.js';

/*
 * Found by the full-disk test: a write that fails with ENOSPC carries no path
 * ("ENOSPC: no space left on device, write"), and `strata load` printed just that —
 * no file, no image. loadImages now prefixes such errors with the archive it was
 * loading. The image record's temp file is opened on /dev/full here: a real ENOSPC.
 */
testUnless(existsSync('/dev/full') ? null : 'no /dev/full')(
  'a record write that hits a full disk names the archive and keeps its code',
  async (t) => {
    const { store, dir } = await tmpStore(t);
    const archive = path.join(dir, 'app.tar');
    await fs.writeFile(archive, await buildImage({ format: 'oci', repoTags: ['app:1'], layers: [[{ path: 'a', content: 'a' }]] }));
    // leases/ and locks/ are made by a store's first load, whatever becomes of it.
    const settled = async () => (await snapshotTree(store.root)).filter((r) => !/^(leases|locks)\b/.test(r));
    const before = await settled();
    const open = fs.open;
    t.teardown(() => {
      fs.open = open;
    });
    fs.open = ((file: string, ...rest: unknown[]) => {
      const full = String(file).startsWith(`${store.paths.imagesDir}${path.sep}.tmp-`);
      return (open as (...args: unknown[]) => ReturnType<typeof open>)(full ? '/dev/full' : file, ...(full ? ['w'] : rest));
    }) as typeof fs.open;

    const err = await t.throwsAsync(loadImages(store, { path: archive }));
    fs.open = open;
    t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
    t.is(err!.message, `${archive}: ENOSPC: no space left on device, write`);
    t.deepEqual(await settled(), before);
  },
);
