import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { listStoreDir, requireReadableRecordDirs } from '../../src/store/record-dir.js';
import { tmpStore } from '../helpers/tmp-store.js';

test('a missing store directory lists as empty (a store made by an older strata)', async (t) => {
  const { store } = await tmpStore(t);
  await fs.rm(store.paths.volumesDir, { recursive: true });
  t.deepEqual(await listStoreDir(store.paths.volumesDir), []);
  t.deepEqual(await listStoreDir(store.paths.leasesDir), [], 'leases/ appears with the first load');
  await requireReadableRecordDirs(store);
});

test('a store directory that is a file is refused with one line naming it, not listed as empty', async (t) => {
  const { store } = await tmpStore(t);
  await fs.rm(store.paths.imagesDir, { recursive: true });
  await fs.writeFile(store.paths.imagesDir, 'not a directory');
  const err = await t.throwsAsync(listStoreDir(store.paths.imagesDir));
  t.is((err as { code?: string }).code, 'EBADRECORD');
  t.is(err!.message, `${store.paths.imagesDir}: cannot list the store directory (Not a directory)`);
  t.is((err as { path?: string }).path, store.paths.imagesDir);
  const guard = await t.throwsAsync(requireReadableRecordDirs(store));
  t.is(guard!.message, err!.message);
});

test('a path under a file (ENOTDIR on a parent) is refused too', async (t) => {
  const { dir } = await tmpStore(t);
  const file = path.join(dir, 'plain');
  await fs.writeFile(file, '');
  await t.throwsAsync(listStoreDir(path.join(file, 'images')), { message: /cannot list the store directory \(Not a directory\)$/ });
});
