import fs from 'node:fs';
import { Readable } from 'node:stream';

/**
 * Where a layer blob's bytes are, as data any thread can open on its own: a byte
 * range of a file (a plain image tarball read by offset, a spool file, a layout's
 * blob file), or bytes held in memory (a small entry of a spooled archive). A stream
 * (a registry pull) will be a third kind.
 */
export type LayerSource =
  | {
      file: string;
      offset: number;
      length: number;
      /** Open with O_NOFOLLOW (a layout directory's own files; see archive/indexed-source.ts). */
      noFollow?: boolean;
    }
  | { bytes: Uint8Array };

/** Large reads: a quarter of the calls of the default 64 KiB, for the blob's one read. */
const READ_CHUNK_BYTES = 256 * 1024;

export function openLayerSource(source: LayerSource): Readable {
  if ('bytes' in source) return Readable.from([Buffer.from(source.bytes)]);
  if (source.length === 0) return Readable.from([]);
  const flags = source.noFollow ? fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW : fs.constants.O_RDONLY;
  return fs.createReadStream(source.file, {
    fd: fs.openSync(source.file, flags),
    start: source.offset,
    end: source.offset + source.length - 1,
    highWaterMark: READ_CHUNK_BYTES,
  });
}

/** Bytes the source holds. */
export function layerSourceLength(source: LayerSource): number {
  return 'bytes' in source ? source.bytes.length : source.length;
}
