import { Readable, Transform, pipeline } from 'node:stream';
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
 * Reads the first bytes of `input` without losing them: `stream` yields everything,
 * those bytes included. Resolves with fewer bytes at end of stream.
 *
 * The bytes are pushed back into `input` — unless it has already emitted 'end' (a
 * pipe or socket does so as soon as its buffer runs empty at its end), after which
 * Node refuses to push anything back ("stream.unshift() after end event"): then
 * `stream` is a new one holding just those bytes, all there was.
 */
export async function peek(input: Readable, bytes: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    const chunk = input.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      length += chunk.length;
      continue;
    }
    if (input.readableEnded) break;
    await readableOrEnd(input);
  }
  const head = Buffer.concat(chunks);
  if (head.length === 0) return { head, stream: input };
  if (input.readableEnded) return { head, stream: Readable.from([head], { objectMode: false }) };
  input.unshift(head);
  return { head, stream: input };
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

const INFLATE_CHUNK_BYTES = 256 * 1024;

/** Detects the compression of `input` by its magic bytes and returns the decompressed stream. */
export async function decompress(input: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const { head, stream: source } = await peek(input, 4);
  const compression = detectCompression(head);
  if (compression === 'none') return { stream: source, compression };
  // 256 KiB output chunks, not zlib's 16 KiB: a sixteenth of the thread-pool round
  // trips and callbacks per inflated byte, and a third less CPU for inflate (bench/README.md).
  const decoder = compression === 'gzip' ? zlib.createGunzip({ chunkSize: INFLATE_CHUNK_BYTES }) : zstdDecompressor();
  // pipeline() forwards an error from either side to the other and destroys both.
  pipeline(source, decoder, () => {});
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
  decoder = new ZstdDecompress((data) => {
    stream.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  return stream;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(`zstd: ${String(err)}`);
}
