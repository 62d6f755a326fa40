/**
 * A tar parsed by hand so that pax values stay bytes: tar-stream's extract decodes
 * them as UTF-8 text, which loses binary xattr values.
 */

/** What a reader sees of one entry: the ustar fields it needs and the pax records as raw bytes. */
export interface RawEntry {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  uname: string;
  gname: string;
  pax: Map<string, Buffer>;
  body: Buffer;
}

const field = (block: Buffer, at: number, length: number) => {
  const raw = block.subarray(at, at + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
};
const octal = (block: Buffer, at: number, length: number) => parseInt(field(block, at, length).trim() || '0', 8);

/** The entries of a whole tar in memory, each with the pax records that preceded it. */
export function parseTar(tar: Buffer): RawEntry[] {
  const entries: RawEntry[] = [];
  let pax = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= tar.length; ) {
    const block = tar.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break;
    const size = octal(block, 124, 12);
    const body = tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    const typeflag = String.fromCharCode(block[156]!);
    if (typeflag === 'x') {
      pax = parsePax(body);
      continue;
    }
    const prefix = field(block, 345, 155);
    const ustarName = prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100);
    const number = (key: string, offset: number, length: number) =>
      pax.has(key) ? Number(pax.get(key)!.toString()) : octal(block, offset, length);
    entries.push({
      name: pax.get('path')?.toString('utf8') ?? ustarName,
      typeflag,
      mode: octal(block, 100, 8),
      uid: number('uid', 108, 8),
      gid: number('gid', 116, 8),
      size,
      mtime: number('mtime', 136, 12),
      linkname: pax.get('linkpath')?.toString('utf8') ?? field(block, 157, 100),
      devmajor: octal(block, 329, 8),
      devminor: octal(block, 337, 8),
      uname: field(block, 265, 32),
      gname: field(block, 297, 32),
      pax,
      body,
    });
    pax = new Map();
  }
  return entries;
}

/** "LEN KEY=VALUE\n" records; LEN counts the whole record in bytes, its own digits included. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  for (let at = 0; at < data.length; ) {
    const space = data.indexOf(0x20, at);
    const length = Number(data.subarray(at, space).toString('latin1'));
    const record = data.subarray(space + 1, at + length);
    if (record[record.length - 1] !== 0x0a) throw new Error(`pax record at ${at} does not end with a newline`);
    const eq = record.indexOf(0x3d);
    records.set(record.subarray(0, eq).toString('utf8'), record.subarray(eq + 1, record.length - 1));
    at += length;
  }
  return records;
}
