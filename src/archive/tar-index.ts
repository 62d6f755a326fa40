import fsp from 'node:fs/promises';
import path from 'node:path';
import { StrataError } from '../errors.js';
import { ARCHIVE_LIMITS } from './limits.js';

/**
 * The index of a plain tar file on disk: where each entry's data starts, read from
 * the 512-byte headers alone. Data blocks are skipped by offset, never read, so
 * indexing a 10 GiB docker-save tarball costs a few hundred small reads, and each
 * layer can later be streamed from its own byte range.
 */
export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** Name as written (after PAX `path` / GNU long names), not yet normalised. */
  name: string;
  type: EntryType;
  size: number;
  /** Byte offset of the entry's data in the tar file. */
  offset: number;
  linkname: string;
}

export interface TarHeader {
  name: string;
  typeflag: string;
  size: number;
  linkname: string;
}

const BLOCK = 512;
const MAX_META_BYTES = ARCHIVE_LIMITS.maxExtendedHeaderBytes;
export const DEFAULT_MAX_ENTRIES = ARCHIVE_LIMITS.maxEntries;

/**
 * Entry names are relative to the archive root: leading `/` and `./` mean nothing
 * (GNU tar writes `./x`, some tools `/x`). A name that climbs out with `..`, or is
 * the root itself, has no place in the archive and is never served: null.
 */
export function normalizeEntryName(raw: string): string | null {
  let name = raw;
  while (name.startsWith('/') || name.startsWith('./')) name = name.startsWith('/') ? name.slice(1) : name.slice(2);
  const normal = path.posix.normalize(name).replace(/\/+$/, '');
  if (normal === '' || normal === '.' || normal === '..' || normal.startsWith('../')) return null;
  return normal;
}

class HeaderError extends Error {}

/** Why input shorter than one header block is no tar: said the same way for files and streams. */
export function shortInputReason(bytes: number, what = ''): string {
  return `not a tar archive (${bytes} ${bytes === 1 ? 'byte' : 'bytes'}${what}, less than one ${BLOCK}-byte tar header)`;
}

/** Decodes one header block; null for an all-zero block (the end-of-archive marker). */
export function parseHeader(block: Buffer): TarHeader | null {
  if (block.length !== BLOCK) throw new HeaderError('short header block');
  if (block.every((b) => b === 0)) return null;
  const stored = parseNumeric(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  // Some old tars summed signed chars; both are accepted, as GNU tar does.
  if (stored !== unsigned && stored !== signed) throw new HeaderError('bad header checksum');
  const magic = block.toString('latin1', 257, 263);
  let name = cString(block, 0, 100);
  // Only POSIX ustar has a prefix field; GNU keeps atime/ctime in the same bytes.
  if (magic === 'ustar\0') {
    const prefix = cString(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  let typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
  if ((typeflag === '0' || typeflag === '7') && name.endsWith('/')) typeflag = '5';
  return { name, typeflag, size: parseNumeric(block, 124, 12), linkname: cString(block, 157, 100) };
}

function cString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return field.toString('utf8', 0, nul < 0 ? length : nul);
}

/** Octal, or GNU base-256 (high bit of the first byte set) for values past 8 GiB. */
function parseNumeric(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if (field[0]! & 0x80) {
    if (field[0] === 0xff) throw new HeaderError('negative size field');
    let value = field[0]! & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + field[i]!;
    if (!Number.isSafeInteger(value)) throw new HeaderError('size field too large');
    return value;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new HeaderError(`bad numeric field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

/** PAX extended header records: `<len> <key>=<value>\n`. */
export function parsePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const length = Number(data.toString('latin1', pos, space));
    if (!Number.isInteger(length) || length <= space - pos || pos + length > data.length) {
      throw new HeaderError('bad PAX record');
    }
    const record = data.toString('utf8', space + 1, pos + length - 1);
    const eq = record.indexOf('=');
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    pos += length;
  }
  return records;
}

function entryType(typeflag: string): EntryType {
  switch (typeflag) {
    case '0':
    case '7':
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '5':
      return 'directory';
    default:
      return 'other';
  }
}

export interface IndexTarOptions {
  maxEntries?: number;
}

/**
 * Reads the headers of the plain tar at `file`. Ends at the first zero block or at
 * EOF on a block boundary; anything short of that (a header or data cut off) is a
 * truncated archive. `displayName` is what errors call the file.
 */
export async function indexTar(file: string, displayName: string, options: IndexTarOptions = {}): Promise<TarEntry[]> {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const fail = (why: string) => new StrataError('EINVALIDARCHIVE', `${displayName}: ${why}`, { path: displayName });
  const handle = await fsp.open(file, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    if (fileSize === 0) throw fail('not a tar archive (empty file)');
    const readAt = async (offset: number, length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, offset);
      if (bytesRead !== length) throw fail(`truncated archive: short read at offset ${offset}`);
      return buf;
    };
    const entries: TarEntry[] = [];
    let pending: { path?: string; linkpath?: string; size?: number } = {};
    let offset = 0;
    for (;;) {
      if (offset === fileSize) break;
      if (offset > fileSize) throw fail('truncated archive: the last entry is cut off');
      if (offset === 0 && fileSize < BLOCK) throw fail(shortInputReason(fileSize));
      if (offset + BLOCK > fileSize) throw fail(`truncated archive: header at offset ${offset} cut off`);
      let header: TarHeader | null;
      try {
        header = parseHeader(await readAt(offset, BLOCK));
      } catch (err) {
        if (!(err instanceof HeaderError)) throw err;
        throw fail(offset === 0 ? 'not a tar archive' : `${err.message} at offset ${offset}`);
      }
      if (header === null) break;
      const dataOffset = offset + BLOCK;
      const isMeta = 'xgLK'.includes(header.typeflag);
      const size = isMeta ? header.size : (pending.size ?? header.size);
      const name = pending.path ?? header.name;
      const dataSize = header.typeflag === '5' ? 0 : size;
      if (dataOffset + dataSize > fileSize) {
        throw fail(
          `truncated archive: entry ${JSON.stringify(name)} needs ${dataSize} bytes at offset ${dataOffset}, the file ends at ${fileSize}`,
        );
      }
      if (isMeta && size > MAX_META_BYTES) {
        throw new StrataError('ELIMIT', `${displayName}: extended header at offset ${offset} is ${size} bytes (limit ${MAX_META_BYTES})`, {
          path: displayName,
        });
      }
      if (header.typeflag === 'x') {
        let pax: Record<string, string>;
        try {
          pax = parsePax(await readAt(dataOffset, size));
        } catch (err) {
          if (!(err instanceof HeaderError)) throw err;
          throw fail(`${err.message} at offset ${offset}`);
        }
        if (pax.path !== undefined) pending.path = pax.path;
        if (pax.linkpath !== undefined) pending.linkpath = pax.linkpath;
        if (pax.size !== undefined) {
          const paxSize = Number(pax.size);
          if (!Number.isSafeInteger(paxSize) || paxSize < 0) throw fail(`bad PAX size at offset ${offset}`);
          pending.size = paxSize;
        }
      } else if (header.typeflag === 'L' || header.typeflag === 'K') {
        const text = cString(await readAt(dataOffset, size), 0, size);
        if (header.typeflag === 'L') pending.path = text;
        else pending.linkpath = text;
      } else if (header.typeflag !== 'g') {
        // Global PAX headers ('g') carry defaults nobody writing images relies on: ignored.
        entries.push({
          name,
          type: entryType(header.typeflag),
          size: dataSize,
          offset: dataOffset,
          linkname: pending.linkpath ?? header.linkname,
        });
        if (entries.length > maxEntries) {
          throw new StrataError('ELIMIT', `${displayName}: more than ${maxEntries} entries`, { path: displayName });
        }
        pending = {};
      }
      offset = dataOffset + Math.ceil(dataSize / BLOCK) * BLOCK;
    }
    return entries;
  } finally {
    await handle.close();
  }
}
