import { Transform, pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';

export type Compression = 'gzip' | 'zstd' | 'none';

/**
 * Layers and outer tarballs say nothing reliable about their compression (media
 * types lie, docker-save names everything layer.tar), so strata decides by the
 * first bytes, as containerd and Docker do.
 */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/**
 * Reads the first bytes of `input` without consuming them: they are pushed back, so
 * the stream still yields everything. Resolves with fewer bytes at end of stream.
 */
export async function peek(input: Readable, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    // Only what is buffered is taken: a read() that meets the end of the stream would
    // emit 'end', after which the bytes can no longer be pushed back.
    if (input.readableLength > 0) {
      const chunk = input.read(input.readableLength) as Buffer;
      chunks.push(chunk);
      length += chunk.length;
      continue;
    }
    if (sourceEnded(input)) break;
    await readableOrEnd(input);
  }
  const head = Buffer.concat(chunks);
  if (head.length > 0) input.unshift(head);
  return head;
}

/**
 * Whether the stream has received its last byte. Node says so publicly only once
 * 'end' is emitted, which is too late to push anything back; until then the flag
 * lives in the stream's state.
 */
function sourceEnded(input: Readable): boolean {
  const state = (input as unknown as { _readableState?: { ended?: boolean } })._readableState;
  return input.readableEnded || state?.ended === true;
}

function readableOrEnd(input: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error) => {
      input.off('readable', ok).off('end', ok).off('error', settle);
      if (err) reject(err);
      else resolve();
    };
    const ok = () => settle();
    input.on('readable', ok).on('end', ok).on('error', settle);
  });
}

/** Detects the compression of `input` by its magic bytes and returns the decompressed stream. */
export async function decompress(input: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const compression = detectCompression(await peek(input, 4));
  if (compression === 'none') return { stream: input, compression };
  const decoder = compression === 'gzip' ? zlib.createGunzip() : zstdDecompressor();
  // pipeline() forwards an error from either side to the other and destroys both.
  pipeline(input, decoder, () => {});
  return { stream: decoder, compression };
}

/** fzstd is pure JS (no prebuilt binary to fetch) and decodes streams frame by frame. */
function zstdDecompressor(): Transform {
  let decoder: ZstdDecompress;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        decoder.push(chunk);
        done();
      } catch (err) {
        done(asError(err));
      }
    },
    flush(done) {
      try {
        decoder.push(new Uint8Array(0), true);
        done();
      } catch (err) {
        done(asError(err));
      }
    },
  });
  decoder = new ZstdDecompress((data) => { stream.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength)); });
  return stream;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(`zstd: ${String(err)}`);
}
