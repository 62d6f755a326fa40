/**
 * Mutants of valid image tarballs, for the hostile-archive fuzz test. A mutant is
 * one or a few damaging edits of a known-good archive: bit flips, truncations, tar
 * header fields set to hostile values (outer tar or inside a layer), JSON edits of
 * manifest/index/config, and gzip/zstd stream damage. Optionally the digests that
 * name the edited content are fixed up afterwards (blob names, descriptors, diff_ids,
 * config and manifest names, cascading), so the damage reaches the code *behind*
 * the integrity checks — the layer unpacker, the JSON readers — instead of always
 * ending in EINTEGRITY.
 *
 * Everything is deterministic: mutant `i` of seed `s` is built from mutantRng(s, i)
 * alone, so one index replays without generating the ones before it.
 */
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { decompress as zstdDecompress } from 'fzstd';
import { Rng } from './rng.js';

// ---------------------------------------------------------------- randomness

/** The generator for mutant `index` of `seed`: independent of every other index. */
export function mutantRng(seed: number, index: number): Rng {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return new Rng((h ^ (h >>> 15)) >>> 0);
}

// ---------------------------------------------------------------- raw tar

const BLOCK = 512;
/** ustar header fields: [offset, length]. */
export const FIELDS = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  checksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const;
export type Field = keyof typeof FIELDS;

/** One tar entry as bytes: its header block and its (unpadded) data. Pax/GNU headers are entries too. */
export interface RawEntry {
  header: Buffer;
  data: Buffer;
  offset: number;
}

/** Splits a tar into entries as far as it parses; `tail` is everything after (end blocks, junk). */
export function parseRawTar(tar: Buffer): { entries: RawEntry[]; tail: Buffer } {
  const entries: RawEntry[] = [];
  let offset = 0;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = octal(header, 'size');
    if (size === null || offset + BLOCK + size > tar.length) break;
    entries.push({ header: Buffer.from(header), data: Buffer.from(tar.subarray(offset + BLOCK, offset + BLOCK + size)), offset });
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return { entries, tail: Buffer.from(tar.subarray(offset)) };
}

export function packRawTar(entries: RawEntry[], tail: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(e.header, e.data, Buffer.alloc((BLOCK - (e.data.length % BLOCK)) % BLOCK));
  }
  parts.push(tail.length > 0 ? tail : Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

function octal(header: Buffer, field: Field): number | null {
  const [off, len] = FIELDS[field];
  const text = header
    .toString('latin1', off, off + len)
    .replace(/\0.*$/s, '')
    .trim();
  if (!/^[0-7]*$/.test(text)) return null;
  return text === '' ? 0 : parseInt(text, 8);
}

export function entryName(e: RawEntry): string {
  const raw = e.header.subarray(0, 100);
  const nul = raw.indexOf(0);
  return raw.toString('utf8', 0, nul < 0 ? 100 : nul);
}

export function typeflag(e: RawEntry): string {
  return e.header[156] === 0 ? '0' : String.fromCharCode(e.header[156]!);
}

/** Writes `value` into a header field (NUL-padded, cut to the field's length). */
export function setField(header: Buffer, field: Field, value: string | Buffer): void {
  const [off, len] = FIELDS[field];
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  header.fill(0, off, off + len);
  bytes.copy(header, off, 0, Math.min(len, bytes.length));
}

export function fixChecksum(header: Buffer): void {
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  setField(header, 'checksum', `${sum.toString(8).padStart(6, '0')}\0 `);
}

/** Sets the data of an entry, with a size field and checksum to match. */
export function setData(e: RawEntry, data: Buffer): void {
  e.data = data;
  setField(e.header, 'size', `${data.length.toString(8).padStart(11, '0')}\0`);
  fixChecksum(e.header);
}

export function setName(e: RawEntry, name: string): void {
  setField(e.header, 'name', Buffer.from(name, 'utf8'));
  fixChecksum(e.header);
}

/** A fresh ustar header (for entries a mutation adds). */
export function makeHeader(fields: { name: string; typeflag: string; size?: number; linkname?: string; mode?: number }): Buffer {
  const h = Buffer.alloc(BLOCK);
  setField(h, 'name', Buffer.from(fields.name, 'utf8'));
  setField(h, 'mode', `${(fields.mode ?? 0o644).toString(8).padStart(7, '0')}\0`);
  setField(h, 'uid', '0000000\0');
  setField(h, 'gid', '0000000\0');
  setField(h, 'size', `${(fields.size ?? 0).toString(8).padStart(11, '0')}\0`);
  setField(h, 'mtime', '14540000000\0');
  setField(h, 'typeflag', fields.typeflag);
  setField(h, 'linkname', Buffer.from(fields.linkname ?? '', 'utf8'));
  setField(h, 'magic', 'ustar\0');
  setField(h, 'version', '00');
  fixChecksum(h);
  return h;
}

// ---------------------------------------------------------------- compression

export type Codec = 'gzip' | 'zstd' | 'none';

export function codecOf(data: Buffer): Codec {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return 'gzip';
  if (data.length >= 4 && data.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** The uncompressed bytes, or null when the stream is already damaged. */
export function unpackCodec(data: Buffer): Buffer | null {
  try {
    switch (codecOf(data)) {
      case 'gzip':
        return zlib.gunzipSync(data);
      case 'zstd':
        return Buffer.from(zstdDecompress(data));
      default:
        return data;
    }
  } catch {
    return null;
  }
}

export function packCodec(data: Buffer, codec: Codec): Buffer {
  if (codec === 'gzip') return zlib.gzipSync(data, { level: 1 });
  if (codec === 'none') return data;
  const out = spawnSync('zstd', ['-q', '-c', '-1', '--no-progress'], { input: data, maxBuffer: 1 << 28 });
  if (out.status !== 0) throw new Error(`zstd failed: ${out.stderr.toString()}`);
  return out.stdout;
}

// ---------------------------------------------------------------- hostile values

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Names and link targets that have broken unpackers before (containerd, moby, node-tar). */
function hostilePaths(ctx: MutationContext): string[] {
  const climbs = [1, 2, 3, 4, 5, 6, 8].map((n) => `${'../'.repeat(n)}sentinel/pwned`);
  return [
    '',
    '/',
    '.',
    './',
    '..',
    '../',
    '/..',
    '../..',
    'a/../..',
    'a/../../b',
    './../x',
    ...climbs,
    ctx.sentinel,
    `${ctx.sentinel}/pwned`,
    '/etc/passwd',
    '/proc/self/root/x',
    '//x',
    'x//y/',
    'x/./y',
    '.wh.',
    '.wh..',
    '.wh...',
    '.wh..wh..opq',
    'etc/.wh..wh..opq',
    '.wh.etc',
    'etc/.wh.hostname',
    '.wh.etc/x',
    'etc/.wh.',
    'x'.repeat(100),
    `${'d/'.repeat(49)}z`,
    'a\u00e9\u4e2d',
    '\u202e',
    'manifest.json',
    'index.json',
    'blobs/sha256/..',
    'blobs',
    'etc',
    'etc/',
    'etc/hostname',
    'etc/hostname/x',
    'bin/sh',
    'link',
    'link/x',
    'dirlink/x',
    'loop/x',
    'a\nb',
    'locked/x',
  ];
}

function numericValues(field: Field, e: RawEntry): Array<string | Buffer> {
  const width = FIELDS[field][1];
  const o = (n: number) => `${n.toString(8).padStart(width - 1, '0')}\0`;
  const size = e.data.length;
  const base256 = (bytes: number[]) => Buffer.from([0x80, ...Array(width - 1 - bytes.length).fill(0), ...bytes]);
  return [
    o(0),
    o(1),
    o(0o7777),
    o(0o4755),
    o(0o2755),
    o(0o1777),
    o(size + 1),
    o(Math.max(0, size - 1)),
    o(size + 512),
    o(Math.max(0, size - 512)),
    o(size * 2 + 7),
    '7'.repeat(width - 1),
    '9'.repeat(width - 1),
    ' '.repeat(width),
    '',
    Buffer.alloc(width, 0xff),
    base256([0x7f, 0xff, 0xff, 0xff]),
    base256([0x01, 0x00, 0x00, 0x00, 0x00, 0x00]),
    Buffer.from([0x80, ...Array(width - 1).fill(0xff)]),
    '-1',
    '0x10',
    `${o(size).slice(0, -1)}x`,
  ];
}

const TYPEFLAGS = ['0', '1', '2', '3', '4', '5', '6', '7', 'g', 'x', 'L', 'K', 'S', 'V', 'M', 'D', 'A', '\0', '\xff', ' '];

/** A hostile value for `field` of entry `e`. */
function hostileValue(field: Field, e: RawEntry, rng: Rng, ctx: MutationContext): string | Buffer {
  switch (field) {
    case 'name':
    case 'linkname':
    case 'prefix': {
      const peers = ctx.names.length > 0 ? ctx.names : ['x'];
      return Buffer.from(rng.chance(0.3) ? rng.pick(peers) : rng.pick(hostilePaths(ctx)), 'utf8');
    }
    case 'typeflag':
      return rng.pick(TYPEFLAGS);
    case 'magic':
      return rng.pick(['ustar\0', 'ustar ', 'USTAR\0', '\0\0\0\0\0\0', 'xxxxxx']);
    case 'version':
      return rng.pick(['00', ' \0', 'zz']);
    case 'checksum':
      return rng.pick(['0000000\0', '       \0', 'zzzzzzz\0', `${(rng.int(0o777777)).toString(8)}\0 `]);
    default:
      return rng.pick(numericValues(field, e));
  }
}

// ---------------------------------------------------------------- mutations

export interface MutationContext {
  /** Absolute path of the sentinel directory beside the store (a target for links). */
  sentinel: string;
  /** Entry names of the tar being mutated, for "name it like a sibling" values. */
  names: string[];
}

export interface Mutant {
  bytes: Buffer;
  /** What was done, for replaying and reading failures. */
  description: string[];
}

type Op = 'bitflip' | 'truncate' | 'header' | 'json' | 'jsonText' | 'layer' | 'stream' | 'entries';

/**
 * One mutant of `archive`: 1–3 edits, chosen by `rng`. A gzipped outer tar is
 * edited inside (then re-gzipped) or as a gzip stream (bit flips, truncation).
 */
export function mutateArchive(archive: Buffer, rng: Rng, sentinel: string): Mutant {
  const description: string[] = [];
  const outerGzip = codecOf(archive) === 'gzip';
  if (outerGzip && rng.chance(0.2)) {
    const op = rng.pick(['bitflip', 'truncate'] as const);
    return {
      bytes: op === 'bitflip' ? bitflips(archive, rng, description, 'gzip outer') : truncate(archive, rng, description, 'gzip outer'),
      description,
    };
  }
  let tar = outerGzip ? zlib.gunzipSync(archive) : archive;
  const edits = rng.chance(0.75) ? 1 : 2 + rng.int(2);
  for (let i = 0; i < edits; i++) {
    const op = rng.weighted<Op>({ bitflip: 10, truncate: 5, header: 20, json: 20, jsonText: 5, layer: 25, stream: 8, entries: 7 });
    tar = mutateTar(tar, op, rng, { sentinel, names: [] }, description, 'outer', true);
  }
  return { bytes: outerGzip ? zlib.gzipSync(tar, { level: 1 }) : tar, description };
}

function mutateTar(tar: Buffer, op: Op, rng: Rng, ctx: MutationContext, log: string[], where: string, outer: boolean): Buffer {
  const parsed = parseRawTar(tar);
  ctx = { ...ctx, names: parsed.entries.map(entryName) };
  const files = parsed.entries.filter((e) => typeflag(e) === '0' && e.data.length > 0);
  switch (op) {
    case 'bitflip':
      return bitflips(tar, rng, log, where, parsed.entries);
    case 'truncate':
      return truncate(tar, rng, log, where);
    case 'header':
      return headerField(tar, parsed.entries, rng, ctx, log, where);
    case 'entries':
      return entryEdit(parsed.entries, parsed.tail, rng, ctx, log, where);
    default:
      break;
  }
  if (!outer) return bitflips(tar, rng, log, where, parsed.entries);
  const jsons = files.filter((e) => isJsonish(e.data));
  const layers = files.filter((e) => !isJsonish(e.data) && entryName(e) !== 'oci-layout');
  const target = op === 'json' || op === 'jsonText' ? jsons : layers;
  if (target.length === 0) return bitflips(tar, rng, log, where, parsed.entries);
  const entry = rng.pick(target);
  const name = entryName(entry);
  const before = entry.data;
  let diff: { from: string; to: string } | null = null;
  if (op === 'json') {
    setData(entry, Buffer.from(jsonEdit(before, rng, ctx, log, `${where} ${name}`)));
  } else if (op === 'jsonText') {
    setData(
      entry,
      rng.chance(0.5) ? truncate(before, rng, log, `${where} ${name} text`) : bitflips(before, rng, log, `${where} ${name} text`),
    );
  } else if (op === 'layer') {
    const codec = codecOf(before);
    const inner = unpackCodec(before);
    if (inner === null) return tar;
    const innerOp = rng.weighted<Op>({ bitflip: 15, truncate: 10, header: 45, entries: 30 });
    const changed = mutateTar(inner, innerOp, rng, ctx, log, `${name} (layer, ${codec})`, false);
    setData(entry, packCodec(changed, codec));
    diff = { from: sha(inner), to: sha(changed) };
  } else {
    const codec = codecOf(before);
    setData(entry, streamDamage(before, codec, rng, log, `${where} ${name} (${codec} stream)`));
  }
  // Most mutants get their digests fixed, so the damage gets past the integrity checks.
  if (rng.chance(0.7)) {
    const changes = [{ from: sha(before), to: sha(entry.data), size: entry.data.length }];
    if (diff) changes.push({ ...diff, size: -1 });
    fixDigests(parsed.entries, changes);
    log.push('digests fixed up');
  }
  return packRawTar(parsed.entries, parsed.tail);
}

function isJsonish(data: Buffer): boolean {
  return data.length < 256 * 1024 && (data[0] === 0x7b || data[0] === 0x5b);
}

function bitflips(data: Buffer, rng: Rng, log: string[], where: string, entries?: RawEntry[]): Buffer {
  const out = Buffer.from(data);
  if (out.length === 0) return out;
  const n = 1 + (rng.chance(0.6) ? 0 : rng.int(8));
  const at: number[] = [];
  const headers = new Set<RawEntry>();
  for (let i = 0; i < n; i++) {
    // Half of the flips land in a header block: that is where the parsing is.
    const e = entries && entries.length > 0 && rng.chance(0.5) ? rng.pick(entries) : null;
    const pos = e ? e.offset + rng.int(BLOCK) : rng.int(out.length);
    if (pos >= out.length) continue;
    out[pos]! ^= 1 << rng.int(8);
    at.push(pos);
    if (e) headers.add(e);
  }
  // A flipped header usually gets its checksum fixed, or the damage never gets past it.
  const fix = headers.size > 0 && rng.chance(0.7);
  if (fix) for (const e of headers) fixChecksum(out.subarray(e.offset, e.offset + BLOCK));
  log.push(`${where}: flipped bits at ${at.join(',')}${fix ? ' (header checksums fixed)' : ''}`);
  return out;
}

function truncate(data: Buffer, rng: Rng, log: string[], where: string): Buffer {
  const cut = rng.chance(0.3) ? Math.floor(rng.int(Math.ceil(data.length / BLOCK)) * BLOCK) : rng.int(data.length);
  log.push(`${where}: truncated to ${cut} of ${data.length} bytes`);
  return data.subarray(0, cut);
}

function headerField(tar: Buffer, entries: RawEntry[], rng: Rng, ctx: MutationContext, log: string[], where: string): Buffer {
  if (entries.length === 0) return bitflips(tar, rng, log, where);
  const e = rng.pick(entries);
  const field = rng.pick(Object.keys(FIELDS) as Field[]);
  const value = hostileValue(field, e, rng, ctx);
  const out = Buffer.from(tar);
  const header = out.subarray(e.offset, e.offset + BLOCK);
  setField(header, field, value);
  const fix = field !== 'checksum' && rng.chance(0.85);
  if (fix) fixChecksum(header);
  log.push(
    `${where}: header ${field} of ${JSON.stringify(entryName(e))} = ${JSON.stringify(Buffer.from(value).toString('latin1'))}${fix ? '' : ' (checksum not fixed)'}`,
  );
  return out;
}

/** Drop, duplicate, swap, or add entries; turn a file into a hostile link. */
function entryEdit(entries: RawEntry[], tail: Buffer, rng: Rng, ctx: MutationContext, log: string[], where: string): Buffer {
  const list = [...entries];
  const kind = rng.pick(['drop', 'duplicate', 'swap', 'symlink', 'hardlink', 'add-file', 'add-dir', 'pax', 'escape'] as const);
  const i = list.length > 0 ? rng.int(list.length) : 0;
  const e = list[i];
  const target = () => (rng.chance(0.4) && ctx.names.length > 0 ? rng.pick(ctx.names) : rng.pick(hostilePaths(ctx)));
  const nameFor = () => (rng.chance(0.5) && ctx.names.length > 0 ? rng.pick(ctx.names) : rng.pick(hostilePaths(ctx)));
  const raw = (header: Buffer, data: Buffer = Buffer.alloc(0)): RawEntry => ({ header, data, offset: -1 });
  let what: string;
  switch (kind) {
    case 'drop':
      if (e) list.splice(i, 1);
      what = `dropped ${e ? JSON.stringify(entryName(e)) : 'nothing'}`;
      break;
    case 'duplicate':
      if (e) list.splice(rng.int(list.length + 1), 0, raw(Buffer.from(e.header), e.data));
      what = `duplicated ${e ? JSON.stringify(entryName(e)) : 'nothing'}`;
      break;
    case 'swap': {
      const j = rng.int(Math.max(1, list.length));
      if (e && list[j]) [list[i], list[j]] = [list[j]!, e];
      what = `swapped entries ${i} and ${j}`;
      break;
    }
    case 'symlink':
    case 'hardlink': {
      const name = e ? entryName(e) : nameFor();
      const linkname = target();
      const entry = raw(makeHeader({ name, typeflag: kind === 'symlink' ? '2' : '1', linkname, mode: 0o777 }));
      if (e && rng.chance(0.5)) list[i] = entry;
      else list.splice(rng.int(list.length + 1), 0, entry);
      what = `${kind} ${JSON.stringify(name)} -> ${JSON.stringify(linkname)}`;
      break;
    }
    case 'add-file':
    case 'add-dir': {
      const name = nameFor();
      const data = kind === 'add-file' ? Buffer.from('pwned\n') : Buffer.alloc(0);
      list.splice(
        rng.int(list.length + 1),
        0,
        raw(
          makeHeader({ name, typeflag: kind === 'add-file' ? '0' : '5', size: data.length, mode: rng.pick([0o644, 0o4755, 0, 0o7777]) }),
          data,
        ),
      );
      what = `${kind} ${JSON.stringify(name)}`;
      break;
    }
    case 'escape': {
      // A link out of the root, then an entry written through it (node-tar's and moby's breakouts).
      const link = rng.pick(['escape', 'etc', 'bin/sh', 'var/lib']);
      const linkname = target();
      const through = `${link}/${rng.pick(['pwned', 'hello', 'sub/passwd', '.wh.hello', '.wh..wh..opq'])}`;
      const second = rng.pick(['file', 'dir', 'hardlink', 'symlink'] as const);
      const at = rng.int(list.length + 1);
      const flag = { file: '0', dir: '5', hardlink: '1', symlink: '2' }[second];
      const data = second === 'file' ? Buffer.from('pwned\n') : Buffer.alloc(0);
      list.splice(
        at,
        0,
        raw(makeHeader({ name: link, typeflag: rng.chance(0.8) ? '2' : '1', linkname, mode: 0o777 })),
        raw(makeHeader({ name: through, typeflag: flag, size: data.length, linkname: second === 'hardlink' ? link : target() }), data),
      );
      what = `${link} -> ${JSON.stringify(linkname)}, then ${second} ${JSON.stringify(through)}`;
      break;
    }
    case 'pax': {
      const key = rng.pick([
        'path',
        'linkpath',
        'size',
        'mtime',
        'uid',
        'SCHILY.xattr.trusted.overlay.opaque',
        'SCHILY.xattr.user.x',
        'SCHILY.xattr.security.capability',
        'GNU.sparse.major',
      ]);
      const value =
        key === 'size'
          ? rng.pick(['-1', '99999999999999999999', '1e3', '0', 'x'])
          : key.startsWith('SCHILY')
            ? rng.pick(['y', '', '\u00ff'])
            : target();
      const record = paxRecord(key, value);
      const at = rng.int(list.length + 1);
      list.splice(at, 0, raw(makeHeader({ name: 'PaxHeader', typeflag: 'x', size: record.length }), record));
      what = `pax ${key}=${JSON.stringify(value)} before entry ${at}`;
      break;
    }
  }
  log.push(`${where}: ${what}`);
  return packRawTar(list, tail);
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  while (`${len}`.length + Buffer.byteLength(body) !== len) len = `${len}`.length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`);
}

function streamDamage(data: Buffer, codec: Codec, rng: Rng, log: string[], where: string): Buffer {
  switch (rng.pick(['flip', 'flip', 'truncate', 'append', 'magic', 'concat'] as const)) {
    case 'flip':
      return bitflips(data, rng, log, where);
    case 'truncate':
      return truncate(data, rng, log, where);
    case 'append':
      log.push(`${where}: garbage appended`);
      return Buffer.concat([data, Buffer.from('\x00garbage\x1f\x8b\x08')]);
    case 'magic': {
      const out = Buffer.from(data);
      const magic = rng.pick([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from('ustar')]);
      magic.copy(out, 0);
      log.push(`${where}: magic replaced with ${magic.toString('hex')}`);
      return out;
    }
    case 'concat':
      log.push(`${where}: stream doubled (a second ${codec} member)`);
      return Buffer.concat([data, data]);
  }
}

// ---------------------------------------------------------------- JSON

/** A structural edit of a JSON document (or, when it does not parse, a text edit). */
function jsonEdit(data: Buffer, rng: Rng, ctx: MutationContext, log: string[], where: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(data.toString('utf8'));
  } catch {
    log.push(`${where}: not JSON, flipped instead`);
    return bitflips(data, rng, log, where).toString('latin1');
  }
  const nodes: Array<{ path: string; holder: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (v: unknown, p: string, depth = 0) => {
    if (depth > 64) return; // an earlier edit may have nested arrays thousands deep
    if (Array.isArray(v))
      v.forEach((c, i) => {
        nodes.push({ path: `${p}[${i}]`, holder: v, key: i });
        walk(c, `${p}[${i}]`, depth + 1);
      });
    else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        nodes.push({ path: `${p}.${k}`, holder: v as Record<string, unknown>, key: k });
        walk((v as Record<string, unknown>)[k], `${p}.${k}`, depth + 1);
      }
    }
  };
  walk(doc, '$');
  if (nodes.length === 0 || rng.chance(0.05)) {
    const value = hostileJson(rng, ctx, doc);
    log.push(`${where}: document replaced by ${short(value)}`);
    return JSON.stringify(value);
  }
  const node = rng.pick(nodes);
  const holder = node.holder as Record<string | number, unknown>;
  const action = rng.pick(['set', 'set', 'set', 'delete', 'duplicate', 'wrap'] as const);
  if (action === 'delete') {
    if (Array.isArray(node.holder)) node.holder.splice(node.key as number, 1);
    else delete holder[node.key];
  } else if (action === 'duplicate' && Array.isArray(node.holder)) {
    node.holder.splice(node.key as number, 0, structuredClone(node.holder[node.key as number]));
  } else if (action === 'wrap') {
    holder[node.key] = rng.chance(0.5) ? [holder[node.key]] : { value: holder[node.key] };
  } else {
    holder[node.key] = hostileJson(rng, ctx, holder[node.key]);
  }
  log.push(`${where}: ${action} ${node.path}${action === 'set' || action === 'wrap' ? ` = ${short(holder[node.key])}` : ''}`);
  return JSON.stringify(doc);
}

function hostileJson(rng: Rng, ctx: MutationContext, current: unknown): unknown {
  const deep = (n: number): unknown => (n === 0 ? [] : [deep(n - 1)]);
  const values: unknown[] = [
    null,
    true,
    false,
    0,
    -1,
    1.5,
    2 ** 53 + 1,
    1e308,
    -0,
    '',
    'x',
    [],
    {},
    [null],
    { '': null },
    `sha256:${'0'.repeat(64)}`,
    `sha256:${'f'.repeat(63)}`,
    'sha256:',
    'sha512:abcd',
    `SHA256:${'a'.repeat(64)}`,
    ...hostilePaths(ctx).slice(0, 30),
    'blobs/sha256/../../manifest.json',
    `blobs/sha256/${'0'.repeat(64)}`,
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.oci.image.layer.v1.tar+zstd',
    'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
    'application/octet-stream',
    'UPPER:case',
    'a:b:c',
    'registry:5000/x/y:z',
    '@sha256:abc',
    'x'.repeat(300),
    { os: 'linux', architecture: 'amd64' },
    { os: 'unknown', architecture: 'unknown' },
    { os: 1, architecture: [] },
    deep(rng.pick([10, 100, 3000])),
    { __proto__: { polluted: true } },
    JSON.parse('{"__proto__": {"polluted": true}}'),
    { toString: 'x', valueOf: 1, hasOwnProperty: null, constructor: 'x' },
  ];
  if (typeof current === 'number') values.push(current + 1, current - 1, current * 1000, -current, String(current));
  if (typeof current === 'string')
    values.push(`${current}x`, current.slice(0, -1), current.toUpperCase(), `../${current}`, `/${current}`, [current]);
  if (Array.isArray(current)) values.push([...current, ...current], [...current].reverse(), current.slice(1));
  return rng.pick(values);
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

// ---------------------------------------------------------------- digest fix-up

/**
 * Renames content-addressed entries and rewrites the JSON that names them, after
 * `changes` (old hex → new hex; size −1 for a diffID, which has no size beside it).
 * Each rewritten JSON entry that is itself content-addressed cascades: config →
 * manifest → index.json / manifest.json.
 */
export function fixDigests(entries: RawEntry[], changes: Array<{ from: string; to: string; size: number }>): void {
  const queue = changes.filter((c) => c.from !== c.to);
  for (let guard = 0; queue.length > 0 && guard < 32; guard++) {
    const change = queue.shift()!;
    for (const e of entries) {
      const name = entryName(e);
      if (name.includes(change.from)) setName(e, name.replaceAll(change.from, change.to));
      if (!isJsonish(e.data)) continue;
      const text = e.data.toString('latin1');
      if (!text.includes(change.from)) continue;
      const oldHex = sha(e.data);
      let next = text.replaceAll(change.from, change.to);
      if (change.size >= 0) {
        next = next.replace(new RegExp(`("digest":"sha256:${change.to}","size":)-?\\d+`, 'g'), `$1${change.size}`);
      }
      setData(e, Buffer.from(next, 'latin1'));
      if (entryName(e).includes(oldHex)) queue.push({ from: oldHex, to: sha(e.data), size: e.data.length });
    }
  }
}
