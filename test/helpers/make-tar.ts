/**
 * Builds layer tars for tests from a list of entry specs, hostile ones included:
 * any name or link target (NUL bytes and long names go through pax records), any
 * type, mode, owner, pax header and device number. What tar-stream's pack() refuses
 * to encode (type bits in the mode, base-256 or negative numbers, unknown typeflags)
 * is written into the finished header by `raw`, with the checksum fixed up.
 */
import { BLOCK, NUMERIC_FIELDS } from '../../src/layer/tar-header-fields.js';
import { createHash } from 'node:crypto';
import { pack } from 'tar-stream';

export type TarEntryType = 'file' | 'contiguous-file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export interface TarEntry {
  name: string;
  /** Default: 'directory' when the name ends with '/', else 'file'. */
  type?: TarEntryType;
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Default: FIXED_MTIME. */
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  /** Extra pax records (`path` here overrides the name, so a name may hold a NUL). */
  pax?: Record<string, string>;
  /**
   * pax records written byte-exact in an extended header of their own before the
   * entry (tar-stream's `pax` writes strings as UTF-8): binary values, malformed records.
   */
  paxBytes?: Buffer;
  /**
   * Header fields written as given after encoding. Numbers may be negative or beyond
   * octal (GNU base-256); a string is written into the field as it is (garbage).
   * The checksum is fixed up afterwards unless `checksum` gives one.
   */
  raw?: {
    typeflag?: string;
    mode?: string;
    uid?: RawNumber;
    gid?: RawNumber;
    size?: RawNumber;
    mtime?: RawNumber;
    devmajor?: RawNumber;
    devminor?: RawNumber;
    checksum?: string;
  };
}

type RawNumber = number | string;

export const FIXED_MTIME = new Date('2024-01-02T03:04:05Z');

export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const entry of entries) parts.push(await encodeEntry(entry));
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** The diffID of an uncompressed layer tar. */
export function diffIdOf(tar: Buffer): string {
  return `sha256:${createHash('sha256').update(tar).digest('hex')}`;
}

/** One entry as pack() writes it (pax header included), without the end-of-archive blocks. */
async function encodeEntry(entry: TarEntry): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (chunk: unknown) => {
    chunks.push(chunk as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  const type = entry.type ?? (entry.name.endsWith('/') ? 'directory' : 'file');
  const content = entry.content === undefined ? undefined : Buffer.from(entry.content);
  const header = {
    name: entry.name,
    type,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    mtime: entry.mtime ?? FIXED_MTIME,
    linkname: entry.linkname,
    devmajor: entry.devmajor,
    devminor: entry.devminor,
    ...(entry.pax ? { pax: entry.pax } : {}),
  };
  // Always with a body (maybe empty): a file entry without one would wait for data forever.
  p.entry(header, content ?? Buffer.alloc(0));
  p.finalize();
  await done;
  const all = Buffer.concat(chunks);
  const body = all.subarray(0, all.length - 2 * BLOCK);
  // pack() replaces a mode of 0 with its default, so 0 is written afterwards.
  const raw = entry.mode === 0 ? { mode: '0000000', ...entry.raw } : entry.raw;
  if (raw) patchHeader(body, body.length - BLOCK - padded(content?.length ?? 0), raw);
  if (entry.paxBytes === undefined) return body;
  const pax = await encodeEntry({
    name: `PaxHeaders/${entry.name.replace(/\/+$/, '')}`,
    type: 'file',
    content: entry.paxBytes,
    raw: { typeflag: 'x' },
  });
  return Buffer.concat([pax, body]);
}

/** One pax record, `LEN KEY=VALUE\n`, its length counted in bytes as the format says. */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

function patchHeader(buf: Buffer, at: number, raw: NonNullable<TarEntry['raw']>): void {
  if (raw.typeflag !== undefined) buf[at + 156] = raw.typeflag.charCodeAt(0);
  if (raw.mode !== undefined) writeField(buf, at + NUMERIC_FIELDS.mode[0], NUMERIC_FIELDS.mode[1], raw.mode);
  for (const key of ['uid', 'gid', 'size', 'mtime', 'devmajor', 'devminor'] as const) {
    const value = raw[key];
    if (typeof value === 'string') writeField(buf, at + NUMERIC_FIELDS[key][0], NUMERIC_FIELDS[key][1], value);
    else if (value !== undefined) writeNumber(buf, at + NUMERIC_FIELDS[key][0], NUMERIC_FIELDS[key][1], value);
  }
  if (raw.checksum !== undefined) {
    writeField(buf, at + 148, 8, raw.checksum);
    return;
  }
  buf.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += buf[i]!;
  writeField(buf, at + 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
}

function writeField(buf: Buffer, offset: number, length: number, text: string): void {
  buf.fill(0, offset, offset + length);
  buf.write(text.slice(0, length), offset, 'latin1');
}

/** Octal when it fits, else GNU base-256 (0x80 prefix; 0xff and two's complement when negative). */
function writeNumber(buf: Buffer, offset: number, length: number, value: number): void {
  const octal = value.toString(8);
  if (value >= 0 && octal.length < length) {
    writeField(buf, offset, length, `${octal.padStart(length - 1, '0')}\0`);
    return;
  }
  let n = BigInt(value);
  if (n < 0n) n += 1n << BigInt(8 * length);
  for (let i = length - 1; i >= 0; i--) {
    buf[offset + i] = Number(n & 0xffn);
    n >>= 8n;
  }
  buf[offset] = value < 0 ? 0xff : 0x80;
}
