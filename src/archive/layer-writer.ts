/**
 * One layer blob from a list of entries: the tar is written to a file and hashed
 * (its diffID) while it is written, then compressed into the blob and hashed again
 * (its digest), so a big layer never sits in memory. The same entries give the same
 * bytes: nothing here reads a clock or the host.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StrataError } from '../errors.js';
import { writeTar } from './tar-writer.js';
import type { PackEntry } from './pack-entry.js';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

export const LAYER_MEDIA_TYPES = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export interface WrittenLayer {
  diffId: string;
  /** Digest of the blob as stored (compressed or not). */
  digest: string;
  size: number;
  mediaType: string;
  compression: LayerCompression;
  /** The blob: `<base>.tar`, `.gz` or `.zst`. */
  file: string;
}

/**
 * Writes the layer tar to `<base>.tar` and, compressed, its blob beside it. zstd is
 * the `zstd` command's (Node has no zstd compressor); without it the write fails.
 */
export async function writeLayer(
  entries: AsyncIterable<PackEntry> | Iterable<PackEntry>,
  base: string,
  compression: LayerCompression,
): Promise<WrittenLayer> {
  const tarFile = `${base}.tar`;
  const diff = hashing();
  const file = fs.createWriteStream(tarFile, { flags: 'wx' });
  const writing = pipeline(diff.tap, file);
  try {
    await writeTar(entries, diff.tap);
    diff.tap.end();
  } catch (err) {
    diff.tap.destroy(err as Error);
    await writing.catch(() => {});
    throw err;
  }
  await writing;
  const diffId = diff.digest();
  if (compression === 'none')
    return { diffId, digest: diffId, size: diff.size(), mediaType: LAYER_MEDIA_TYPES.none, compression, file: tarFile };
  const blobFile = `${base}.${compression === 'gzip' ? 'gz' : 'zst'}`;
  const blob = hashing();
  if (compression === 'gzip') {
    await pipeline(fs.createReadStream(tarFile), zlib.createGzip({ level: 6 }), blob.tap, fs.createWriteStream(blobFile, { flags: 'wx' }));
  } else {
    await zstdInto(tarFile, blob.tap, blobFile);
  }
  return { diffId, digest: blob.digest(), size: blob.size(), mediaType: LAYER_MEDIA_TYPES[compression], compression, file: blobFile };
}

async function zstdInto(tarFile: string, tap: Transform, blobFile: string): Promise<void> {
  const child = spawn('zstd', ['-q', '-c', '-3', '--no-progress', tarFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'close');
  const failed = once(child, 'error').then(([err]) => {
    throw new StrataError('EUSAGE', `${blobFile}: zstd compression needs the zstd command: ${(err as Error).message}`, {
      path: blobFile,
      cause: err,
    });
  });
  failed.catch(() => {});
  await Promise.race([pipeline(child.stdout, tap, fs.createWriteStream(blobFile, { flags: 'wx' })), failed]);
  const [code] = (await Promise.race([exited, failed])) as [number];
  if (code !== 0) throw new StrataError('EUSAGE', `${blobFile}: zstd exited with ${code}`, { path: blobFile });
}

/** A pass-through that hashes and counts what goes through it. */
function hashing(): { tap: Transform; digest(): string; size(): number } {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  let digest: string | undefined;
  return {
    tap,
    digest: () => (digest ??= `sha256:${hash.digest('hex')}`),
    size: () => size,
  };
}
