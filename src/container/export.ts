import fs from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Store } from '../store/root.js';
import { fsyncDir, tempName } from '../store/atomic.js';
import { layerStackOptions } from '../image/view.js';
import { Resolver } from '../resolver/resolver.js';
import { assertUpperPresent } from '../layer/missing-layer.js';
import { viewTree } from './tree.js';
import { writeTreeTar, type TarResult } from './tree-tar.js';
import { containerDirs, type ContainerRecord } from './record.js';

export interface ExportOptions {
  /** Aborting stops the export at the next entry; `-o` leaves no file behind. */
  signal?: AbortSignal;
}

/**
 * What `docker export` archives: the container's upper dir over its image layers,
 * WITHOUT its --tmpfs and -v mounts. Docker documents that volume contents are not
 * exported and that a volume mounted over a directory exports the directory below
 * it; a view without mounts gives exactly that. Read-only: an export changes nothing.
 */
export async function exportView(store: Store, record: ContainerRecord): Promise<Resolver> {
  await assertUpperPresent(record.id, containerDirs(store, record.id).upper);
  return new Resolver({
    ...(await layerStackOptions(store, record.layers)),
    upperDir: containerDirs(store, record.id).upper,
    readOnly: true,
  });
}

/**
 * `docker export`: a tar of the whole merged view — names without a leading `/` or
 * `./` and no entry for the root, as docker writes them; modes, ownership (as the
 * resolver reports it), whole-second mtimes, symlinks, hardlinks (files sharing a
 * host inode become `link` entries after the first), fifos and device nodes. What
 * whiteouts and opaque directories hide is not in the view, so it is not in the tar.
 * Extended attributes go in as pax SCHILY.xattr records, byte for byte (entry-xattrs.ts
 * says which).
 * Streams file contents; `out` is not ended.
 */
export async function exportContainer(
  store: Store,
  record: ContainerRecord,
  out: Writable,
  options: ExportOptions = {},
): Promise<TarResult> {
  const view = await exportView(store, record);
  return writeTreeTar(viewTree(view, '/', { signal: options.signal, xattrs: true }), out, { root: null });
}

/**
 * `docker export -o FILE`, atomically: the tar is written to a temp name beside FILE,
 * fsynced and renamed over it, so FILE is either the complete export or what it was
 * before (a failed or interrupted export removes the temp file).
 */
export async function exportContainerToFile(
  store: Store,
  record: ContainerRecord,
  file: string,
  options: ExportOptions = {},
): Promise<TarResult> {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, tempName(path.basename(target)));
  // Opened before anything streams, so a missing or unwritable directory is one clear
  // error about FILE (the temp name is ours, not something the user typed).
  const handle = await fs.open(tmp, 'wx', 0o666).catch((err: NodeJS.ErrnoException) => {
    if (err.path === tmp) err.path = target;
    throw err;
  });
  const stream = handle.createWriteStream();
  const closed = finished(stream);
  closed.catch(() => {}); // also the stream's error listener; awaited below
  try {
    const result = await exportContainer(store, record, stream, options);
    stream.end();
    await closed;
    await fsyncFile(tmp);
    await fs.rename(tmp, target);
    await fsyncDir(dir);
    return result;
  } catch (err) {
    stream.destroy();
    await closed.catch(() => {});
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** fsync is per file, not per descriptor: the data written through the stream reaches the disk. */
async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
