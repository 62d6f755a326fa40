import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import { detectCompression } from './compression.js';
import { openLayoutDirectory } from './directory-source.js';
import { IndexedSource, tableFromTarIndex } from './indexed-source.js';
import type { ArchiveSource } from './source.js';
import { spoolArchive } from './spooled-source.js';
import { indexTar } from './tar-index.js';

/** A tarball or an image layout directory on disk (`load -i PATH`), or a stream (`load` reading stdin). */
export type ArchiveInput = { path: string } | { stream: Readable; displayName: string };

export interface OpenArchiveOptions {
  /** Where a compressed or streamed archive is spooled: the store's ingest/. */
  spoolDir: string;
  /** Largest JSON entry (manifest, index) readJson accepts; default ARCHIVE_LIMITS.maxJsonBytes (limits.ts). */
  maxJsonBytes?: number;
  /** Most entries the outer tar may have; default ARCHIVE_LIMITS.maxEntries. */
  maxEntries?: number;
}

/**
 * Opens an image tarball for the format readers. A plain tar file is indexed in
 * place and read by byte ranges (each layer read once, straight into the store);
 * a gzipped file or a stream cannot seek and is spooled once. The caller must
 * close() the source, which removes the spool.
 */
export async function openArchive(input: ArchiveInput, options: OpenArchiveOptions): Promise<ArchiveSource> {
  const spool = {
    spoolDir: options.spoolDir,
    ...(options.maxJsonBytes !== undefined ? { maxJsonBytes: options.maxJsonBytes } : {}),
    ...(options.maxEntries !== undefined ? { maxEntries: options.maxEntries } : {}),
  };
  if ('stream' in input) return spoolArchive(input.stream, input.displayName, spool);

  const file = input.path;
  let stat: fs.Stats;
  try {
    stat = await fsp.stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StrataError('ENOTFOUND', `${file}: no such file`, { path: file, cause: err });
    }
    throw err;
  }
  // An image layout directory (`skopeo copy … oci:DIR`), read in place.
  if (stat.isDirectory()) return openLayoutDirectory(file, spool);
  // A named pipe or a device (`-i /dev/stdin`) is a stream, whatever its name says.
  if (!stat.isFile()) return spoolArchive(fs.createReadStream(file), file, spool);
  if (stat.size === 0) throw new StrataError('EINVALIDARCHIVE', `${file}: not a tar archive (empty file)`, { path: file });

  if (detectCompression(await readHead(file)) !== 'none') return spoolArchive(fs.createReadStream(file), file, spool);
  const entries = await indexTar(file, file, spool.maxEntries !== undefined ? { maxEntries: spool.maxEntries } : {});
  return new IndexedSource(
    file,
    tableFromTarIndex(file, entries),
    spool.maxJsonBytes !== undefined ? { maxJsonBytes: spool.maxJsonBytes } : {},
  );
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await fsp.open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
