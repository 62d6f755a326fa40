import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import { decompress } from '../archive/compression.js';
import type { ContentProvider } from '../content/provider.js';
import type { ImageLayer } from '../image/record.js';

/** A layer as a plain tar: its size (for the tar header, written first) and a way to stream it. */
export interface UncompressedLayer {
  diffId: string;
  size: number;
  open: () => Promise<Readable>;
}

/**
 * One layer of `save --uncompressed`, never held in memory. The tar header of the
 * entry comes before its bytes and must hold their number, and the store does not
 * record a layer's uncompressed byte size, so:
 * - when the store holds the plain tar as a blob named by the diffID (the image's
 *   own blob when it came uncompressed, or another image's), its size on disk;
 * - otherwise a counting pass: the blob is decompressed once only to count the
 *   bytes, and again as it is written. Twice the decompression, constant memory.
 * Blobs are verified when stored and never change after, so the second pass yields
 * the bytes the first counted (the tar writer still refuses any other number).
 */
export async function uncompressedLayer(provider: ContentProvider, layer: ImageLayer, signal?: AbortSignal): Promise<UncompressedLayer> {
  const { diffId } = layer;
  const plain = await provider.info(diffId).catch((err: unknown) => {
    if (err instanceof StrataError && err.code === 'ENOTFOUND') return null;
    throw err;
  });
  if (plain !== null) return { diffId, size: plain.size, open: () => provider.open(diffId) };
  const open = async () => (await decompress(await provider.open(layer.blobDigest))).stream;
  const stream = await open();
  let size = 0;
  try {
    for await (const chunk of stream) {
      if (signal?.aborted) throw new StrataError('EINTERRUPTED', 'interrupted');
      size += (chunk as Buffer).length;
    }
  } catch (err) {
    // A read error (EIO) is about the file, not the format: it stays what it is.
    if (err instanceof StrataError || (err as NodeJS.ErrnoException).syscall !== undefined) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new StrataError('EINTEGRITY', `blob ${layer.blobDigest} cannot be decompressed: ${why}`, { path: layer.blobDigest, cause: err });
  } finally {
    stream.destroy();
  }
  return { diffId, size, open };
}
