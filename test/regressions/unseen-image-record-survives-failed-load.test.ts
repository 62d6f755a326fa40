import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImageWithInfo } from '../helpers/image-builder.js';
import { snapshotContent } from '../helpers/store-snapshot.js';

/*
 * A load takes back, on failure, the image records it added — judged by whether the
 * record existed before it wrote it. That check read any error (EIO, EACCES) as "no
 * such image", so reloading an image whose record could not be seen, then failing
 * at the tags, removed the record that had been there all along.
 */
test('a failed reload of an image whose record could not be checked keeps that record', async (t) => {
  const { store, dir } = await tmpStore(t);
  const archive = path.join(dir, 'app.tar');
  const { tar, image } = await buildImageWithInfo({ format: 'oci', repoTags: ['app:1'], layers: [[{ path: 'a', content: 'a' }]] });
  await fs.writeFile(archive, tar);
  await loadImages(store, { path: archive });
  const record = store.paths.imageRecord(image.imageId);
  const before = await snapshotContent(store.root);

  // Publishing keeps a copy of each record it overwrites (to restore it on failure);
  // reading that copy is where the record is checked now.
  const { readFile, open } = fs;
  const restore = () => {
    fs.readFile = readFile;
    fs.open = open;
  };
  t.teardown(restore);
  const fail = (code: string, syscall: string, file: string) =>
    Object.assign(new Error(`${code}: ${syscall} '${file}'`), { code, errno: code === 'EIO' ? -5 : -28, syscall, path: file });
  fs.readFile = (async (file: string, ...rest: unknown[]) => {
    if (String(file) === record) throw fail('EIO', 'open', record);
    return (readFile as (...args: unknown[]) => Promise<unknown>)(file, ...rest);
  }) as typeof fs.readFile;
  fs.open = (async (file: string, ...rest: unknown[]) => {
    const name = path.basename(String(file));
    if (path.dirname(String(file)) === store.root && name.startsWith('.tmp-') && name.endsWith('-tags.json'))
      throw fail('ENOSPC', 'open', String(file));
    return (open as (...args: unknown[]) => ReturnType<typeof open>)(file, ...rest);
  }) as typeof fs.open;

  const err = await t.throwsAsync(loadImages(store, { path: archive }));
  restore();
  t.is((err as NodeJS.ErrnoException).code, 'EIO');
  t.is((err as NodeJS.ErrnoException).path, record, 'the error names the record it could not check');
  t.deepEqual(await snapshotContent(store.root), before, 'the image record and everything else are as they were');
});
