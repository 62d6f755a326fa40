import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { receiveStream } from './port-stream.js';

/**
 * Where a layer blob's bytes are, as data any thread can open on its own: a byte
 * range of a file (a plain image tarball read by offset, a spool file, a layout's
 * blob file), bytes held in memory (a small entry of a spooled archive), or a stream
 * another thread feeds over a MessagePort as its bytes arrive (a registry pull;
 * port-stream.ts). A port is read once: it is moved to the thread that reads it.
 */
export type LayerSource =
  | {
      file: string;
      offset: number;
      length: number;
      /** Open with O_NOFOLLOW (a layout directory's own files; see archive/indexed-source.ts). */
      noFollow?: boolean;
    }
  | { bytes: Uint8Array }
  | {
      port: MessagePort;
      /** The size the blob was named with (the stage checks it). */
      length: number;
    };

/** Large reads: a quarter of the calls of the default 64 KiB, for the blob's one read. */
const READ_CHUNK_BYTES = 256 * 1024;

export function openLayerSource(source: LayerSource): Readable {
  if ('bytes' in source) return Readable.from([Buffer.from(source.bytes)]);
  if ('port' in source) return receiveStream(source.port);
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
