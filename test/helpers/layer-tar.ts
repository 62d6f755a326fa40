/**
 * One layer of a test image: its entries as a tar (deterministic: fixed mtimes,
 * seeded content), hashed to its diffID and compressed to its blob, written to temp
 * files so that big layers never sit in memory. image-builder.ts puts layers into
 * images and archives.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

export type Compression = 'gzip' | 'zstd' | 'none';
export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block' | 'whiteout' | 'opaque';

/** One entry of a layer. `whiteout` deletes `path`; `opaque` makes directory `path` opaque. */
export interface LayerEntry {
  path: string;
  /** Default: `dir` when path ends with `/`, else `file`. */
  type?: EntryType;
  content?: Buffer | string;
  /** Generated deterministic bytes (with `seed`) instead of `content`: for big files. */
  size?: number;
  seed?: number | string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch, or a Date; default FIXED_MTIME. */
  mtime?: number | Date;
  linkname?: string;
  xattrs?: Record<string, string>;
  devmajor?: number;
  devminor?: number;
}

export interface LayerSpec {
  entries: LayerEntry[];
  compression?: Compression;
  /** history[].created_by for this layer. */
  createdBy?: string;
}

export type LayerInput = LayerSpec | LayerEntry[];

export interface BuiltLayer {
  diffId: string;
  /** Digest of the blob as stored (compressed or not). */
  digest: string;
  size: number;
  mediaType: string;
  compression: Compression;
}

export const FIXED_MTIME = 1_700_000_000; // 2023-11-14T22:13:20Z
export const LAYER_MEDIA = { none: 'application/vnd.oci.image.layer.v1.tar', gzip: 'application/vnd.oci.image.layer.v1.tar+gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd' } as const;

/** Deterministic pseudo-random bytes (xorshift32 over a seed), streamed in 64 KiB chunks. */
export function seededBytes(size: number, seed: number | string = 1): Readable {
  let state = typeof seed === 'number' ? (seed >>> 0) || 1 : createHash('sha256').update(seed).digest().readUInt32LE(0) || 1;
  let left = size;
  return new Readable({
    read() {
      if (left === 0) { this.push(null); return; }
      const n = Math.min(left, 65536);
      const buf = Buffer.allocUnsafe(n + 3);
      for (let i = 0; i < n; i += 4) {
        state ^= state << 13; state >>>= 0;
        state ^= state >>> 17;
        state ^= state << 5; state >>>= 0;
        buf.writeUInt32LE(state, i);
      }
      left -= n;
      this.push(buf.subarray(0, n));
    },
  });
}

let layerCount = 0;

/** Writes one layer tar (and its compressed blob) into `work`, hashing both as they are written. */
export async function buildLayer(work: string, input: LayerInput, fallback: Compression): Promise<BuiltLayer & { file: string }> {
  const spec = Array.isArray(input) ? { entries: input } : input;
  const compression = spec.compression ?? fallback;
  const base = path.join(work, `layer-${++layerCount}`);
  const tarFile = `${base}.tar`;
  const pack = tar.pack();
  const diff = hashing();
  const writing = pipeline(pack as unknown as Readable, diff.tap, fs.createWriteStream(tarFile));
  for (const entry of spec.entries) await addLayerEntry(pack, entry);
  pack.finalize();
  await writing;
  const diffId = diff.digest();
  if (compression === 'none') return { diffId, digest: diffId, size: diff.size(), mediaType: LAYER_MEDIA.none, compression, file: tarFile };
  const blobFile = `${base}.${compression === 'gzip' ? 'gz' : 'zst'}`;
  const blob = hashing();
  if (compression === 'gzip') {
    await pipeline(fs.createReadStream(tarFile), zlib.createGzip({ level: 6 }), blob.tap, fs.createWriteStream(blobFile));
  } else {
    const child = spawn('zstd', ['-q', '-c', '-3', '--no-progress', tarFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'close');
    await pipeline(child.stdout, blob.tap, fs.createWriteStream(blobFile));
    const [code] = (await exited) as [number];
    if (code !== 0) throw new Error(`zstd exited with ${code}`);
  }
  return { diffId, digest: blob.digest(), size: blob.size(), mediaType: LAYER_MEDIA[compression], compression, file: blobFile };
}

/** st_mode type bits by tar type: Docker writes them into tar headers too. */
export const TYPE_BITS: Record<string, number> = { file: 0o100000, directory: 0o040000, symlink: 0o120000, link: 0o100000, fifo: 0o010000, 'character-device': 0o020000, 'block-device': 0o060000 };

async function addLayerEntry(pack: tar.Pack, e: LayerEntry): Promise<void> {
  const type = e.type ?? (e.path.endsWith('/') ? 'dir' : 'file');
  let name = e.path.replace(/\/+$/, '');
  let tarType: tar.Header['type'] = 'file';
  let mode = e.mode;
  switch (type) {
    case 'dir': tarType = 'directory'; mode ??= 0o755; break;
    case 'symlink': tarType = 'symlink'; mode ??= 0o777; break;
    case 'hardlink': tarType = 'link'; break;
    case 'fifo': tarType = 'fifo'; break;
    case 'char': tarType = 'character-device'; break;
    case 'block': tarType = 'block-device'; break;
    case 'whiteout': name = path.posix.join(path.posix.dirname(name), `.wh.${path.posix.basename(name)}`); mode ??= 0o600; break;
    case 'opaque': name = path.posix.join(name, '.wh..wh..opq'); mode ??= 0o600; break;
    default: break;
  }
  mode ??= 0o644;
  const mtime = e.mtime instanceof Date ? e.mtime : new Date((e.mtime ?? FIXED_MTIME) * 1000);
  const header: tar.Header = {
    name: type === 'dir' ? `${name}/` : name,
    type: tarType,
    // tar-stream replaces a falsy mode with its default: the type bits (which Docker writes too) keep 0000 a 0000.
    mode: (mode & 0o7777) | TYPE_BITS[tarType]!,
    uid: e.uid ?? 0, gid: e.gid ?? 0, uname: '', gname: '',
    mtime, size: 0, linkname: e.linkname ?? '',
    devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0,
    ...(e.xattrs ? { pax: Object.fromEntries(Object.entries(e.xattrs).map(([k, v]) => [`SCHILY.xattr.${k}`, v])) } : {}),
  };
  if (tarType !== 'file') {
    await entryDone(pack, header);
    return;
  }
  if (e.size !== undefined && e.content === undefined) {
    await entryDone(pack, { ...header, size: e.size }, seededBytes(e.size, e.seed ?? e.path));
    return;
  }
  const content = typeof e.content === 'string' ? Buffer.from(e.content) : e.content ?? Buffer.alloc(0);
  await entryDone(pack, { ...header, size: content.length }, content);
}

/** Adds one entry and resolves when tar-stream has taken all of its bytes. */
export function entryDone(pack: tar.Pack, header: tar.Header, body?: Buffer | Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body === undefined) { pack.entry(header, done); return; }
    if (Buffer.isBuffer(body)) { pack.entry(header, body, done); return; }
    // tar-stream's sink is a streamx Writable; it speaks Node's write/drain/end.
    const sink = pack.entry(header, done) as unknown as Writable;
    (async () => {
      for await (const chunk of body) {
        if (!sink.write(chunk as Buffer)) await once(sink, 'drain');
      }
      sink.end();
    })().catch(reject);
  });
}

function hashing(): { tap: Transform; digest(): string; size(): number } {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, done) { hash.update(chunk); size += chunk.length; done(null, chunk); },
  });
  let digest: string | undefined;
  return {
    tap,
    digest: () => (digest ??= `sha256:${hash.digest('hex')}`),
    size: () => size,
  };
}
