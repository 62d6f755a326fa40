/**
 * "This archive is refused and nothing changes": a store that already holds a good
 * image, the archive written beside it, the load's error checked (code, exact
 * message, one line, names the archive), and the store compared byte for byte
 * (snapshot of every path with its size) with what it was before.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { loadImages } from '../../src/transfer/load.js';
import type { StrataErrorCode } from '../../src/errors.js';
import type { Store } from '../../src/store/root.js';
import { buildImage } from './image-builder.js';
import { snapshotTree } from './store-snapshot.js';
import { tmpStore } from './tmp-store.js';

export interface Expected {
  code: StrataErrorCode;
  /** The whole message, with `ARCHIVE` standing for the archive's path. */
  message: string;
}

export interface PreparedStore {
  store: Store;
  dir: string;
  /** The store as it was after the good image loaded. */
  before: string[];
}

/** A store holding one good image, and its snapshot. */
export async function storeWithOneImage(t: ExecutionContext): Promise<PreparedStore> {
  const { store, dir } = await tmpStore(t);
  const good = path.join(dir, 'good.tar');
  await fs.writeFile(
    good,
    await buildImage({
      format: 'oci',
      repoTags: ['good:1'],
      layers: [
        [
          { path: 'etc/', type: 'dir' },
          { path: 'etc/hostname', content: 'good\n' },
        ],
      ],
    }),
  );
  await loadImages(store, { path: good });
  await fs.rm(good);
  return { store, dir, before: await snapshotTree(store.root) };
}

/** Loads `archive` into a store with one good image and checks it is refused as `expected`, leaving the store as it was. */
export async function assertLoadRejected(
  t: ExecutionContext,
  archive: Buffer | ((file: string) => Promise<void>),
  name: string,
  expected: Expected,
): Promise<void> {
  const { store, dir, before } = await storeWithOneImage(t);
  const file = path.join(dir, name);
  if (Buffer.isBuffer(archive)) await fs.writeFile(file, archive);
  else await archive(file);
  const err = await t.throwsAsync(loadImages(store, { path: file }));
  t.is((err as { code?: string }).code, expected.code);
  t.is(err!.message, expected.message.replaceAll('ARCHIVE', file));
  t.deepEqual(await snapshotTree(store.root), before, 'store left exactly as it was');
}
