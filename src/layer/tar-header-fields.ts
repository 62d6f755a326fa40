/**
 * The fields of one 512-byte tar header block, read the way GNU tar and Go's
 * archive/tar read them, and only where tar-stream reads the same (tar-header-check.ts
 * says why that matters).
 */
export const BLOCK = 512;
export const TYPEFLAG_AT = 156;
const CHECKSUM_AT = 148;
const MAGIC_AT = 257;
const PREFIX_AT = 345;

/** The numeric fields: offset and length. */
export const NUMERIC_FIELDS = {
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  devmajor: [329, 8],
  devminor: [337, 8],
} as const;
type NumericField = keyof typeof NUMERIC_FIELDS;
const FIELD_LIST = Object.entries(NUMERIC_FIELDS) as Array<[NumericField, readonly [number, number]]>;

export function isZero(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Why the stored checksum is not the header's, or null when it is. */
export function checksumProblem(block: Buffer): string | null {
  const stored = readOctal(block, CHECKSUM_AT, 8);
  if (stored === null) return `checksum field ${fieldText(block, CHECKSUM_AT, 8)} is not an octal number`;
  // Only the unsigned sum: tar-stream refuses the signed one some old tars wrote.
  let sum = 8 * 0x20;
  for (let i = 0; i < CHECKSUM_AT; i++) sum += block[i]!;
  for (let i = CHECKSUM_AT + 8; i < BLOCK; i++) sum += block[i]!;
  return stored === sum ? null : `header checksum is ${stored}, but the header sums to ${sum}`;
}

/** Why a numeric field is not a number every reader agrees on, or null when all are. */
export function numberProblem(block: Buffer): string | null {
  for (const [field, [offset, length]] of FIELD_LIST) {
    const first = block[offset]!;
    if (first & 0x80) {
      // GNU base-256: 0x80 then a big-endian number. 0xff marks a negative one, which
      // tar-stream reads as is (a negative mtime, a negative size that skips backwards).
      if (first === 0xff) return `${field} ${base256Negative(block, offset, length)} is out of range: a negative number (GNU base-256)`;
      if (first !== 0x80) return `${field} field is not a valid GNU base-256 number`;
      if (readNumber(block, field) === null) return `${field} is out of range: larger than 2^53`;
    } else if (readOctal(block, offset, length) === null) {
      return `${field} field ${fieldText(block, offset, length)} is not an octal number`;
    }
  }
  return null;
}

/** A numeric field's value, octal or positive base-256; null when it is neither or past 2^53. */
export function readNumber(block: Buffer, field: NumericField): number | null {
  const [offset, length] = NUMERIC_FIELDS[field];
  if (!(block[offset]! & 0x80)) return readOctal(block, offset, length);
  let n = 0n;
  for (let i = offset + 1; i < offset + length; i++) n = (n << 8n) | BigInt(block[i]!);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(n);
}

/** POSIX ustar (`ustar\0` `00`) or GNU (`ustar ` ` \0`), the two tar-stream reads. */
export function hasTarMagic(block: Buffer): boolean {
  const magic = block.toString('latin1', MAGIC_AT, MAGIC_AT + 8);
  return magic === 'ustar\x0000' || magic === 'ustar  \x00';
}

/** The header's own name, with the ustar prefix (only POSIX ustar has one; GNU keeps times there). */
export function headerName(block: Buffer): string {
  const name = cString(block.subarray(0, 100));
  const isUstar = block.toString('latin1', MAGIC_AT, MAGIC_AT + 6) === 'ustar\x00';
  return isUstar && block[PREFIX_AT] !== 0 ? `${cString(block.subarray(PREFIX_AT, PREFIX_AT + 155))}/${name}` : name;
}

export function cString(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.toString('utf8', 0, nul < 0 ? buf.length : nul);
}

/**
 * An octal field: leading spaces, then leading NULs, then octal digits, then only
 * spaces and NULs. Go's archive/tar trims spaces and NULs at both ends and wants
 * digits in between; tar-stream stops at the first space or non-digit. The grammar
 * is where both read the same number; anything else is refused, not guessed.
 */
function readOctal(block: Buffer, offset: number, length: number): number | null {
  // By hand rather than by regular expression: this runs for eight fields of every entry.
  const end = offset + length;
  let i = offset;
  while (i < end && block[i] === 0x20) i++;
  while (i < end && block[i] === 0) i++;
  let value = 0;
  for (; i < end && block[i]! >= 0x30 && block[i]! <= 0x37; i++) value = value * 8 + block[i]! - 0x30;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  return i === end ? value : null;
}

function base256Negative(block: Buffer, offset: number, length: number): string {
  let n = 0n;
  for (let i = offset; i < offset + length; i++) n = (n << 8n) | BigInt(block[i]!);
  return String(n - (1n << BigInt(8 * length)));
}

function fieldText(block: Buffer, offset: number, length: number): string {
  return JSON.stringify(block.toString('latin1', offset, offset + length));
}
