/**
 * Tar header encoding: a ustar header block, preceded by a pax extended header when
 * something does not fit ustar (long or non-ASCII names, ids past the octal fields)
 * or has no ustar field at all (xattrs). Pax records are built here as bytes, not
 * strings, because an xattr value is arbitrary binary (`security.capability` holds a
 * little-endian struct): tar-stream's pack writes pax values as UTF-8 text, which
 * would turn every byte >= 0x80 into two.
 *
 * The ustar block is byte for byte what tar-stream's pack writes for the same
 * fields, so archives made before this encoder existed (fixtures/demo.tar) are
 * rebuilt identically.
 */

export const BLOCK_SIZE = 512;

export type Typeflag = '0' | '1' | '2' | '3' | '4' | '5' | '6';

export interface HeaderFields {
  /** The full archive name; directories end with `/`. */
  name: string;
  typeflag: Typeflag;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds since the epoch. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Iterable<[string, Buffer]>;
}

/** The largest value a 6-digit octal field holds (uid, gid, mode, device numbers). */
const MAX_OCTAL_6 = 0o777777;
const MAX_OCTAL_11 = 0o77777777777;
const XATTR_PREFIX = 'SCHILY.xattr.';

/** The header block(s) for one entry: [pax header + pax records + padding] + ustar header. */
export function encodeHeader(fields: HeaderFields): Buffer {
  const records: Buffer[] = [];
  const split = splitUstarName(fields.name);
  if (split === null) records.push(paxRecord('path', fields.name));
  const linkname = fields.linkname ?? '';
  const linkFits = isAscii(linkname) && linkname.length <= 100;
  if (!linkFits) records.push(paxRecord('linkpath', linkname));
  // Go's archive/tar does the same: ids too big for the octal fields go into pax records.
  if (fields.uid > MAX_OCTAL_6) records.push(paxRecord('uid', String(fields.uid)));
  if (fields.gid > MAX_OCTAL_6) records.push(paxRecord('gid', String(fields.gid)));
  // Past 8 GiB: a pax size for every reader, and GNU base-256 in the field for those without pax.
  if (fields.size > MAX_OCTAL_11) records.push(paxRecord('size', String(fields.size)));
  // Before 1970 or past the 11-digit field (year 4147): the ustar field holds the nearest it can.
  if (fields.mtime < 0 || fields.mtime > MAX_OCTAL_11) records.push(paxRecord('mtime', String(fields.mtime)));
  for (const [name, value] of fields.xattrs ?? []) records.push(paxRecord(XATTR_PREFIX + escapeKeyword(name), value));

  const ustar = ustarBlock({
    name: split?.name ?? truncateBytes(fields.name, 100),
    prefix: split?.prefix ?? '',
    linkname: linkFits ? linkname : truncateBytes(linkname, 100),
    typeflag: fields.typeflag,
    mode: fields.mode,
    uid: fields.uid,
    gid: fields.gid,
    size: fields.size,
    mtime: fields.mtime,
    devmajor: fields.devmajor ?? 0,
    devminor: fields.devminor ?? 0,
  });
  if (records.length === 0) return ustar;
  const body = Buffer.concat(records);
  const paxHeader = ustarBlock({
    name: 'PaxHeader',
    prefix: '',
    linkname: '',
    typeflag: 'x',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: fields.mtime,
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, body, padding(body.length), ustar]);
}

/**
 * One pax record, "LEN KEY=VALUE\n", where LEN is the record's length in bytes
 * counting LEN's own digits (POSIX pax, "extended header").
 */
export function paxRecord(key: string, value: string | Buffer): Buffer {
  const valueBytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const rest = Buffer.byteLength(key, 'utf8') + valueBytes.length + 3; // ' ', '=', '\n'
  let length = rest + String(rest).length;
  if (String(length).length !== String(rest).length) length = rest + String(length).length;
  return Buffer.concat([Buffer.from(`${length} ${key}=`, 'utf8'), valueBytes, Buffer.from('\n')]);
}

/** Zero bytes that pad `size` bytes of content to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK_SIZE;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK_SIZE - rest);
}

/**
 * An xattr name may hold `=` (the record's separator) and `%`: GNU tar escapes both
 * as %3D and %25 in SCHILY.xattr keywords, and readers that follow it decode them.
 */
function escapeKeyword(name: string): string {
  return name.replace(/%/g, '%25').replace(/=/g, '%3D');
}

/** ustar's name/prefix split, as tar-stream makes it; null when the name needs a pax `path`. */
function splitUstarName(full: string): { name: string; prefix: string } | null {
  if (!isAscii(full)) return null;
  let name = full;
  let prefix = '';
  while (name.length > 100) {
    const i = name.indexOf('/');
    if (i === -1) return null;
    prefix += prefix ? `/${name.slice(0, i)}` : name.slice(0, i);
    name = name.slice(i + 1);
  }
  // An empty name field would leave the prefix to name a directory by its parent's path.
  if (name.length > 100 || name === '' || prefix.length > 155) return null;
  return { name, prefix };
}

interface UstarFields {
  name: string;
  prefix: string;
  linkname: string;
  typeflag: Typeflag | 'x';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  devmajor: number;
  devminor: number;
}

function ustarBlock(f: UstarFields): Buffer {
  const buf = Buffer.alloc(BLOCK_SIZE);
  buf.write(f.name, 0, 100, 'utf8');
  buf.write(octal(f.mode & 0o7777, 6), 100, 'latin1');
  buf.write(octal(f.uid, 6), 108, 'latin1');
  buf.write(octal(f.gid, 6), 116, 'latin1');
  writeSize(buf, f.size);
  buf.write(octal(Math.min(Math.max(f.mtime, 0), MAX_OCTAL_11), 11), 136, 'latin1');
  buf.write(f.typeflag, 156, 'latin1');
  buf.write(f.linkname, 157, 100, 'utf8');
  buf.write('ustar\x0000', 257, 'latin1');
  buf.write(octal(f.devmajor, 6), 329, 'latin1');
  buf.write(octal(f.devminor, 6), 337, 'latin1');
  buf.write(f.prefix, 345, 155, 'utf8');
  let sum = 8 * 0x20; // the checksum field counts as eight spaces
  for (let i = 0; i < BLOCK_SIZE; i++) if (i < 148 || i >= 156) sum += buf[i]!;
  buf.write(octal(sum, 6), 148, 'latin1');
  return buf;
}

/** `digits` octal digits and a space (tar-stream's layout); all 7s when the value does not fit. */
function octal(value: number, digits: number): string {
  const text = Math.floor(value).toString(8);
  if (text.length > digits) return `${'7'.repeat(digits)} `;
  return `${text.padStart(digits, '0')} `;
}

/** Sizes past 11 octal digits (8 GiB) in GNU base-256, as GNU tar and Go write them. */
function writeSize(buf: Buffer, size: number): void {
  if (size <= MAX_OCTAL_11) {
    buf.write(octal(size, 11), 124, 'latin1');
    return;
  }
  buf[124] = 0x80;
  let n = size;
  for (let i = 11; i > 0; i--) {
    buf[124 + i] = n % 0x100;
    n = Math.floor(n / 0x100);
  }
}

function isAscii(text: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is 0x00-0x7f, control characters included
  return /^[\x00-\x7f]*$/.test(text);
}

/** At most `max` bytes of `text`'s UTF-8, cut at a character boundary (a placeholder beside a pax record). */
function truncateBytes(text: string, max: number): string {
  let out = text;
  while (Buffer.byteLength(out, 'utf8') > max) out = out.slice(0, -1);
  return out;
}
