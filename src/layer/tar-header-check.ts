import { StrataError } from '../errors.js';
import { PaxError, parsePaxRecords, type PaxRecord } from './pax-records.js';
import {
  BLOCK,
  TYPEFLAG_AT,
  checksumProblem,
  cString,
  hasTarMagic,
  headerName,
  isZero,
  numberProblem,
  padding,
  readNumber,
} from './tar-header-fields.js';

/**
 * Reads every 512-byte header block of a layer's tar stream before tar-stream does,
 * and refuses what tar-stream would read leniently but GNU tar and Go's archive/tar
 * (which made, and which scan, most layers) refuse or read otherwise: a header whose
 * numbers are not numbers (non-octal bytes, a negative GNU base-256 value, one past
 * 2^53), a wrong checksum, malformed pax records, a size past the end of the stream.
 * The rule throughout: every entry strata applies is the entry the other readers
 * see, with the same name, size and data, or the layer is refused.
 *
 * It also reads the pax records byte-exact (pax-records.ts) and keeps each entry's
 * `SCHILY.xattr.*` values as bytes, for unpack to take by the entry's data offset.
 */

/** What the check learnt about one entry, by the stream offset of its data. */
export interface EntryExtras {
  /** From `SCHILY.xattr.<name>` pax records, in header order, each name once (the last record wins). */
  xattrs: TarXattr[];
}

export interface TarXattr {
  name: string;
  value: Buffer;
}

/** tar-stream refuses larger header extensions (extract.js MAX_HEADER_SIZE); we buffer no more. */
const MAX_EXTENSION_SIZE = 4 * 1024 * 1024;
/** Linux's XATTR_NAME_MAX and XATTR_SIZE_MAX: setxattr(2) refuses anything larger, for any file system. */
const MAX_XATTR_NAME = 255;
const MAX_XATTR_VALUE = 65536;
/**
 * xattr values a layer may carry in all. They are held in memory until layer.json is
 * written (rootless stores keep them there), so a flood of them must stop early; real
 * layers carry a few capabilities, or at most one SELinux label per file.
 */
export const MAX_LAYER_XATTR_BYTES = 16 * 1024 * 1024;
const XATTR_PAX_PREFIX = 'SCHILY.xattr.';

/** Entry types that carry no data in Go's archive/tar (link, symlink, char, block, directory, fifo). */
const HEADER_ONLY_TYPES = new Set(['1', '2', '3', '4', '5', '6']);
/** pax records tar-stream or entry-path.ts would apply from a global header, which Docker ignores. */
const APPLIED_PAX_KEYS = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'mtime']);

type Extension = { kind: 'pax' | 'global' | 'long-name' | 'long-link'; header: string; size: number; chunks: Buffer[]; got: number };

export class TarHeaderCheck {
  /** Stream offset of the next byte handed to write(). */
  private offset = 0;
  private readonly block = Buffer.alloc(BLOCK);
  private blockFill = 0;
  /** Bytes of the current entry's data and padding still to come, passed through unread. */
  private skip = 0;
  private extension: Extension | null = null;
  /** Header extensions waiting for the entry they describe. */
  private pax: PaxRecord[] | null = null;
  private longName: string | null = null;
  private longLink = false;
  private zeroBlocks = 0;
  private ended = false;
  private xattrBytes = 0;
  /** The entry whose data is being passed through, for a message if the stream ends inside it. */
  private current: { name: string; size: number; end: number } | null = null;
  private readonly extras = new Map<number, EntryExtras>();

  constructor(private readonly source: string) {}

  /**
   * Checks the next chunk of the stream. Returns how many of its bytes belong to the
   * archive: after the end-of-archive marker (two zero blocks), GNU tar and Go stop
   * reading, and so must the parser (tar-stream would read on and apply entries no
   * other tool sees). Those bytes are still part of the diffID.
   */
  write(chunk: Buffer): number {
    let at = 0;
    while (at < chunk.length && !this.ended) {
      if (this.extension !== null) {
        at += this.gather(chunk, at);
      } else if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        this.offset += n;
      } else {
        const n = Math.min(BLOCK - this.blockFill, chunk.length - at);
        chunk.copy(this.block, this.blockFill, at, at + n);
        this.blockFill += n;
        at += n;
        this.offset += n;
        if (this.blockFill === BLOCK) {
          this.blockFill = 0;
          this.header(this.block, this.offset - BLOCK);
        }
      }
    }
    return at;
  }

  /** The stream has ended: it must not end inside a header or an entry's data. */
  end(): void {
    if (this.ended) return;
    if (this.blockFill > 0)
      throw this.invalid(
        `tar header at byte ${this.offset - this.blockFill}`,
        `the layer stream ends inside this header (${this.blockFill} of 512 bytes)`,
      );
    const ext = this.extension;
    if (ext !== null)
      throw this.invalid(ext.header, `the layer stream ends inside this header extension (${ext.got} of ${ext.size} bytes)`);
    if (this.skip > 0 && this.current === null)
      throw this.invalid(`tar header at byte ${this.offset}`, 'the layer stream ends inside the padding of a header extension');
    if (this.skip > 0 && this.current !== null) {
      const { name, size, end } = this.current;
      const missing = end - this.offset;
      throw this.invalid(
        name,
        missing > 0
          ? `its size (${size} bytes) runs past the end of the layer stream: ${missing} bytes of data missing`
          : 'the layer stream ends inside the padding after its data',
      );
    }
  }

  /** Takes what the check kept for the entry whose data starts at `dataOffset` (tar-stream's header.byteOffset). */
  take(dataOffset: number): EntryExtras | undefined {
    const found = this.extras.get(dataOffset);
    this.extras.delete(dataOffset);
    return found;
  }

  private gather(chunk: Buffer, at: number): number {
    const ext = this.extension!;
    const n = Math.min(ext.size - ext.got, chunk.length - at);
    ext.chunks.push(chunk.subarray(at, at + n));
    ext.got += n;
    this.offset += n;
    if (ext.got === ext.size) {
      this.extension = null;
      this.skip = padding(ext.size);
      this.extended(ext, Buffer.concat(ext.chunks));
    }
    return n;
  }

  private header(block: Buffer, at: number): void {
    if (isZero(block)) {
      // Go's archive/tar: a zero block ends the archive only when another follows.
      if (++this.zeroBlocks === 2) this.ended = true;
      return;
    }
    const name = this.nameOf(block);
    if (this.zeroBlocks > 0)
      throw this.invalid(
        name,
        `a single zero block (at byte ${at - BLOCK}) comes before this header: the archive ended there for other tar readers`,
      );
    // A header that fails its checksum is not a header: nothing in it, its name
    // included, means anything, so the message names its place in the stream.
    const badSum = checksumProblem(block);
    if (badSum !== null) throw this.invalid(`tar header at byte ${at}`, `not a valid tar stream (${badSum})`);
    const badNumber = numberProblem(block);
    if (badNumber !== null) throw this.invalid(name, badNumber);
    if (!hasTarMagic(block)) throw this.invalid(name, 'not a ustar, pax or GNU tar header');
    const type = String.fromCharCode(block[TYPEFLAG_AT]!);
    const headerSize = readNumber(block, 'size')!;
    switch (type) {
      case 'x':
        this.startExtension('pax', name, headerSize);
        return;
      case 'g':
        this.startExtension('global', name, headerSize);
        return;
      case 'L':
        this.startExtension('long-name', name, headerSize);
        return;
      case 'K':
        this.startExtension('long-link', name, headerSize);
        return;
      // tar-stream takes the old GNU 'N' as a long name, Go as a regular file.
      case 'N':
        throw this.invalid(name, 'an old GNU long-name header (type N), which tar readers disagree on');
      default:
        this.entry(block, type, name, at, headerSize);
    }
  }

  private entry(block: Buffer, type: string, name: string, at: number, headerSize: number): void {
    const pax = paxMap(this.pax ?? []);
    const paxPath = pax.get('path');
    const paxLink = pax.get('linkpath');
    // Go lets a GNU long name win over a pax path, tar-stream the other way round.
    if (this.longName !== null && paxPath !== undefined && paxPath.length > 0)
      throw this.invalid(name, 'both a GNU long name and a pax path, which tar readers disagree on');
    if (this.longLink && paxLink !== undefined && paxLink.length > 0)
      throw this.invalid(name, 'both a GNU long link name and a pax linkpath, which tar readers disagree on');
    const paxSize = pax.get('size');
    const size = paxSize !== undefined && paxSize.length > 0 ? Number(paxSize.toString('latin1')) : headerSize;
    // Old tars mark a directory by a trailing slash on type NUL: Go reads a directory
    // (and no data), tar-stream a regular file with `size` bytes of data.
    if (block[TYPEFLAG_AT] === 0 && name.endsWith('/')) {
      throw this.invalid(name, 'type NUL with a name ending in "/", which tar readers take for a file or a directory');
    }
    // Go reads no data for these types, tar-stream reads `size` bytes (or, for a
    // directory, none), so data here would be a hidden entry for one of them.
    if (HEADER_ONLY_TYPES.has(type) && size > 0) throw this.invalid(name, `a ${TYPE_NAMES[type]!} entry declares ${size} bytes of data`);
    const xattrs = this.xattrsOf(pax, name);
    this.extras.set(at + BLOCK, { xattrs });
    this.pax = null;
    this.longName = null;
    this.longLink = false;
    this.skip = size + padding(size);
    this.current = { name, size, end: this.offset + size };
  }

  private startExtension(kind: Extension['kind'], header: string, size: number): void {
    if (size > MAX_EXTENSION_SIZE)
      throw this.invalid(header, `header extension of ${size} bytes exceeds max size (${MAX_EXTENSION_SIZE} bytes)`);
    this.current = null;
    this.extension = { kind, header, size, chunks: [], got: 0 };
    if (size === 0) this.gather(Buffer.alloc(0), 0);
  }

  private extended(ext: Extension, body: Buffer): void {
    if (ext.kind === 'long-name') {
      this.longName = cString(body);
      return;
    }
    if (ext.kind === 'long-link') {
      this.longLink = true;
      return;
    }
    let records: PaxRecord[];
    try {
      records = parsePaxRecords(body);
    } catch (err) {
      if (err instanceof PaxError) throw this.invalid(ext.header, err.message);
      throw err;
    }
    const map = paxMap(records);
    if (ext.kind === 'global') {
      // Docker and containerd ignore global records; tar-stream applies some of them
      // to some entries (those with a pax header of their own).
      for (const key of map.keys()) {
        if (APPLIED_PAX_KEYS.has(key) || key.startsWith(XATTR_PAX_PREFIX))
          throw this.invalid(ext.header, `a global pax header sets ${JSON.stringify(key)}, which tar readers apply differently`);
      }
      return;
    }
    this.checkPaxNumbers(map, ext.header);
    this.pax = records;
  }

  /** Go's archive/tar refuses these unless they are plain decimal numbers. */
  private checkPaxNumbers(map: Map<string, Buffer>, header: string): void {
    for (const key of ['size', 'uid', 'gid', 'mtime']) {
      const value = map.get(key)?.toString('latin1');
      if (value === undefined || value === '') continue;
      const ok =
        key === 'mtime' ? /^[0-9]{1,16}(\.[0-9]*)?$/.test(value) : /^[0-9]{1,16}$/.test(value) && Number(value) <= Number.MAX_SAFE_INTEGER;
      if (!ok) throw this.invalid(header, `pax ${key} ${JSON.stringify(value)} is not a non-negative decimal number`);
    }
  }

  private xattrsOf(pax: Map<string, Buffer>, name: string): TarXattr[] {
    const out: TarXattr[] = [];
    for (const [key, value] of pax) {
      if (!key.startsWith(XATTR_PAX_PREFIX)) continue;
      const xattr = key.slice(XATTR_PAX_PREFIX.length);
      if (xattr === '' || Buffer.byteLength(xattr) > MAX_XATTR_NAME)
        throw this.invalid(name, `xattr name ${JSON.stringify(xattr)} is not one Linux can hold (1 to ${MAX_XATTR_NAME} bytes)`);
      if (value.length > MAX_XATTR_VALUE)
        throw this.invalid(name, `xattr ${xattr} has a ${value.length}-byte value, larger than Linux can hold (${MAX_XATTR_VALUE} bytes)`);
      this.xattrBytes += value.length;
      if (this.xattrBytes > MAX_LAYER_XATTR_BYTES) {
        throw new StrataError(
          'ELIMIT',
          `${this.source}: layer carries more than the limit of ${MAX_LAYER_XATTR_BYTES} bytes of xattr values`,
          { path: this.source, expected: MAX_LAYER_XATTR_BYTES, found: this.xattrBytes },
        );
      }
      out.push({ name: xattr, value });
    }
    return out;
  }

  /** The entry's name as tar-stream reports it: pax path, else GNU long name, else the header's. */
  private nameOf(block: Buffer): string {
    const paxPath = this.pax === null ? undefined : paxMap(this.pax).get('path');
    if (paxPath !== undefined && paxPath.length > 0) return paxPath.toString('utf8');
    if (this.longName !== null) return this.longName;
    return headerName(block);
  }

  private invalid(entry: string, reason: string): StrataError {
    const what = entry.startsWith('tar header at byte ') ? entry : `entry ${JSON.stringify(entry)}`;
    return new StrataError('EINVALIDARCHIVE', `${this.source}: ${what}: ${reason}`, { path: entry });
  }
}

const TYPE_NAMES: Record<string, string> = {
  1: 'hardlink',
  2: 'symlink',
  3: 'character device',
  4: 'block device',
  5: 'directory',
  6: 'fifo',
};

/** Later records win, as in tar-stream and Go. */
function paxMap(records: PaxRecord[]): Map<string, Buffer> {
  const map = new Map<string, Buffer>();
  for (const { key, value } of records) {
    map.delete(key); // re-inserted last, so a repeated xattr keeps its last position too
    map.set(key, value);
  }
  return map;
}
