/**
 * A layer described as a list of entry specs, with defaults filled in (modes, owner
 * root, a fixed mtime) and optionally generated content (seeded, for big files), and
 * written by layer-writer.ts. Deterministic: the same spec gives the same bytes.
 * image-builder.ts puts such layers into images and archives.
 */
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { writeLayer, type LayerCompression, type WrittenLayer } from './layer-writer.js';
import type { PackEntry, PackEntryKind } from './pack-entry.js';

export type Compression = LayerCompression;
export type EntryType = PackEntryKind;

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
  /** Values as text (UTF-8) or as raw bytes. */
  xattrs?: Record<string, string | Buffer>;
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

export type BuiltLayer = Omit<WrittenLayer, 'file'>;

export const FIXED_MTIME = 1_700_000_000; // 2023-11-14T22:13:20Z

/** Deterministic pseudo-random bytes (xorshift32 over a seed), streamed in 64 KiB chunks. */
export function seededBytes(size: number, seed: number | string = 1): Readable {
  let state = typeof seed === 'number' ? seed >>> 0 || 1 : createHash('sha256').update(seed).digest().readUInt32LE(0) || 1;
  let left = size;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, 65536);
      const buf = Buffer.allocUnsafe(n + 3);
      for (let i = 0; i < n; i += 4) {
        state ^= state << 13;
        state >>>= 0;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        buf.writeUInt32LE(state, i);
      }
      left -= n;
      this.push(buf.subarray(0, n));
    },
  });
}

/** Writes one layer tar (and its compressed blob) into the directory `work`, hashing both as they are written. */
export async function buildLayer(work: string, input: LayerInput, fallback: Compression): Promise<BuiltLayer & { file: string }> {
  const spec = Array.isArray(input) ? { entries: input } : input;
  const base = path.join(work, `layer-${randomUUID()}`);
  return writeLayer(spec.entries.map(packEntry), base, spec.compression ?? fallback);
}

const DEFAULT_MODES: Partial<Record<EntryType, number>> = { dir: 0o755, symlink: 0o777, whiteout: 0o600, opaque: 0o600 };

/** A spec as the tar writer's entry: defaults filled in, seeded content generated on open. */
export function packEntry(e: LayerEntry): PackEntry {
  const type = e.type ?? (e.path.endsWith('/') ? 'dir' : 'file');
  const mtime = e.mtime instanceof Date ? Math.floor(e.mtime.getTime() / 1000) : (e.mtime ?? FIXED_MTIME);
  const entry: PackEntry = {
    path: e.path.replace(/\/+$/, ''),
    kind: type,
    mode: e.mode ?? DEFAULT_MODES[type] ?? 0o644,
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    mtime,
  };
  if (e.xattrs) entry.xattrs = Object.entries(e.xattrs).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8')]);
  if (type === 'symlink' || type === 'hardlink') entry.linkTarget = e.linkname ?? '';
  if (type === 'char' || type === 'block') Object.assign(entry, { devMajor: e.devmajor ?? 0, devMinor: e.devminor ?? 0 });
  if (type !== 'file') return entry;
  if (e.size !== undefined && e.content === undefined) {
    const size = e.size;
    return { ...entry, size, open: () => seededBytes(size, e.seed ?? e.path) };
  }
  return { ...entry, content: typeof e.content === 'string' ? Buffer.from(e.content) : (e.content ?? Buffer.alloc(0)) };
}
