import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { checkStore } from '../../src/check/check.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { snapshotTree } from '../helpers/store-snapshot.js';

/*
 * Found by the read-only-store CLI test: when the unpacker failed before it read a
 * byte (layers/ not writable), the load tore down the stream feeding it with that
 * error, and nobody listened on it yet: an unhandled 'error' event killed the
 * process with a stack trace instead of one line. load.ts now listens from the start.
 * (Injected here in-process: as root, a read-only directory would not refuse us.)
 */
test('a layer directory that cannot be made fails the load with its error, not a crash', async (t) => {
  const { store, dir } = await tmpStore(t);
  const archive = path.join(dir, 'app.tar');
  // docker-save: no layer digest, so the failure stops the blob side too.
  await fs.writeFile(
    archive,
    await buildImage({ format: 'docker', repoTags: ['app:1'], layers: [[{ path: 'big', size: 3 << 20, seed: 1 }]] }),
  );
  // leases/ and locks/ are made by a store's first load, whatever becomes of it.
  const settled = async () => (await snapshotTree(store.root)).filter((r) => !/^(leases|locks)\b/.test(r));
  const before = await settled();
  const mkdir = fs.mkdir;
  t.teardown(() => {
    fs.mkdir = mkdir;
  });
  fs.mkdir = (async (target: string, options?: unknown) => {
    if (String(target).startsWith(`${store.paths.layersDir}${path.sep}.tmp-`)) {
      throw Object.assign(new Error(`EACCES: permission denied, mkdir '${String(target)}'`), {
        code: 'EACCES',
        errno: -13,
        syscall: 'mkdir',
        path: String(target),
      });
    }
    return mkdir(target, options as Parameters<typeof mkdir>[1]);
  }) as typeof fs.mkdir;

  const err = await t.throwsAsync(loadImages(store, { path: archive }));
  fs.mkdir = mkdir;
  t.is((err as NodeJS.ErrnoException).code, 'EACCES');
  t.false(err!.message.includes('\n'));
  t.deepEqual(await settled(), before);
  t.deepEqual((await checkStore(store)).problems, []);
});
