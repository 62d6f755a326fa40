import type { Writable } from 'node:stream';
import type { Store } from '../store/root.js';
import { streamToFile } from '../store/stream-to-file.js';
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
  await assertUpperPresent(store, record.id);
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
 * `docker export -o FILE`, atomically (store/stream-to-file.ts): FILE is either the
 * complete export or what it was before; a failed or interrupted export leaves nothing.
 */
export async function exportContainerToFile(
  store: Store,
  record: ContainerRecord,
  file: string,
  options: ExportOptions = {},
): Promise<TarResult> {
  return streamToFile(file, (out) => exportContainer(store, record, out, options));
}
