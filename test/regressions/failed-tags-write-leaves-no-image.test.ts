import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { listImages } from '../../src/image/list.js';
import { checkStore } from '../../src/check/check.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { snapshotTree } from '../helpers/store-snapshot.js';

/*
 * Found by the read-only-store CLI test: when tags.json could not be written (the
 * last step of a load), the load failed but its image record stayed — an untagged
 * image the user never got, and blobs and layers the rollback then had to keep.
 * load.ts now takes back the records it added before the rollback runs.
 */
test('a load whose tags cannot be written leaves no image, blob or layer behind', async (t) => {
  const { store, dir } = await tmpStore(t);
  const first = path.join(dir, 'first.tar');
  await fs.writeFile(first, await buildImage({ format: 'oci', repoTags: ['first:1'], layers: [[{ path: 'a', content: 'a' }]] }));
  await loadImages(store, { path: first });
  const archive = path.join(dir, 'app.tar');
  await fs.writeFile(archive, await buildImage({ format: 'oci', repoTags: ['app:1'], layers: [[{ path: 'b', content: 'b' }]] }));
  const before = await snapshotTree(store.root);

  const open = fs.open;
  t.teardown(() => {
    fs.open = open;
  });
  fs.open = (async (file: string, ...rest: unknown[]) => {
    const name = path.basename(String(file));
    if (path.dirname(String(file)) === store.root && name.startsWith('.tmp-') && name.endsWith('-tags.json')) {
      throw Object.assign(new Error(`EACCES: permission denied, open '${String(file)}'`), {
        code: 'EACCES',
        errno: -13,
        syscall: 'open',
        path: String(file),
      });
    }
    return (open as (...args: unknown[]) => ReturnType<typeof open>)(file, ...rest);
  }) as typeof fs.open;

  const err = await t.throwsAsync(loadImages(store, { path: archive }));
  fs.open = open;
  t.is((err as NodeJS.ErrnoException).code, 'EACCES');
  t.deepEqual(
    (await listImages(store)).flatMap((i) => i.repoTags),
    ['first:1'],
  );
  t.deepEqual(await snapshotTree(store.root), before);
  t.deepEqual((await checkStore(store)).problems, []);
});
