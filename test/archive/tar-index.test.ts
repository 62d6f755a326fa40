import test from 'ava';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { openArchive } from '../../src/archive/open-archive.js';
import { indexTar, normalizeEntryName, parseHeader, parsePax } from '../../src/archive/tar-index.js';
import { isStrataError } from '../../src/errors.js';
import { packTar } from '../helpers/image-builder.js';

/** A raw header block, written by hand so the tests control every field. */
function header(fields: {
  name?: string;
  size?: number | Buffer;
  typeflag?: string;
  linkname?: string;
  magic?: 'ustar' | 'gnu' | 'v7';
  prefix?: string;
}): Buffer {
  const block = Buffer.alloc(512);
  block.write(fields.name ?? 'file', 0, 'utf8');
  block.write('0000644\0', 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  if (Buffer.isBuffer(fields.size)) fields.size.copy(block, 124);
  else block.write(`${(fields.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  block.write('00000000000\0', 136, 'latin1');
  block.write(fields.typeflag ?? '0', 156, 'latin1');
  if (fields.linkname) block.write(fields.linkname, 157, 'utf8');
  const magic = fields.magic ?? 'ustar';
  if (magic === 'ustar') block.write('ustar\u000000', 257, 'latin1');
  if (magic === 'gnu') block.write('ustar  \0', 257, 'latin1');
  if (fields.prefix) block.write(fields.prefix, 345, 'utf8');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

/** One PAX record: its decimal length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const n = Buffer.byteLength(body);
  let len = n + 1;
  while (len !== n + String(len).length) len = n + String(len).length;
  return `${len}${body}`;
}
const paxData = (records: Record<string, string>) =>
  Buffer.from(
    Object.entries(records)
      .map(([k, v]) => paxRecord(k, v))
      .join(''),
  );

const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
const entry = (fields: Parameters<typeof header>[0], data = Buffer.alloc(0)) =>
  Buffer.concat([header({ ...fields, size: fields.size ?? data.length }), pad(data)]);
const END = Buffer.alloc(1024);

async function indexOf(tarBytes: Buffer) {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-tar-index-'));
  const file = path.join(dir, 'x.tar');
  await fsp.writeFile(file, tarBytes);
  try {
    return await indexTar(file, 'x.tar');
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

async function indexError(t: import('ava').ExecutionContext, tarBytes: Buffer): Promise<{ code: string; message: string }> {
  const err = await t.throwsAsync(indexOf(tarBytes));
  t.true(isStrataError(err));
  return err as unknown as { code: string; message: string };
}

test('ustar name and prefix are joined into one path', (t) => {
  const h = parseHeader(header({ name: 'layer.tar', prefix: 'a/b' }));
  t.deepEqual(h, { name: 'a/b/layer.tar', typeflag: '0', size: 0, linkname: '' });
});

test('GNU headers keep their prefix bytes out of the name', (t) => {
  const block = header({ name: 'x', magic: 'gnu' });
  t.is(parseHeader(block)?.name, 'x');
});

test('a base-256 size field is decoded', (t) => {
  const size = Buffer.alloc(12);
  size[0] = 0x80;
  size.writeUIntBE(0x0203_0405_06, 7, 5);
  t.is(parseHeader(header({ size }))?.size, 0x0203_0405_06);
});

test('a header with a wrong checksum is refused', (t) => {
  const block = header({ name: 'x' });
  block[0] = 'y'.charCodeAt(0);
  t.throws(() => parseHeader(block), { message: 'bad header checksum' });
});

test('an all-zero block is the end marker', (t) => {
  t.is(parseHeader(Buffer.alloc(512)), null);
});

test('PAX records are parsed with their lengths', (t) => {
  t.deepEqual(parsePax(paxData({ path: 'a/é', size: '12' })), { path: 'a/é', size: '12' });
});

test('index records offsets, sizes, types and link names', async (t) => {
  const tarBytes = Buffer.concat([
    entry({ name: 'dir/', typeflag: '5' }),
    entry({ name: 'dir/a' }, Buffer.from('hello')),
    entry({ name: 'dir/l', typeflag: '2', linkname: 'a' }),
    entry({ name: 'dir/h', typeflag: '1', linkname: 'dir/a' }),
    entry({ name: 'fifo', typeflag: '6' }),
    END,
  ]);
  t.deepEqual(await indexOf(tarBytes), [
    { name: 'dir/', type: 'directory', size: 0, offset: 512, linkname: '' },
    { name: 'dir/a', type: 'file', size: 5, offset: 1024, linkname: '' },
    { name: 'dir/l', type: 'symlink', size: 0, offset: 2048, linkname: 'a' },
    { name: 'dir/h', type: 'hardlink', size: 0, offset: 2560, linkname: 'dir/a' },
    { name: 'fifo', type: 'other', size: 0, offset: 3072, linkname: '' },
  ]);
});

test('PAX path, linkpath and size override the ustar fields; global headers are ignored', async (t) => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
  const tarBytes = Buffer.concat([
    entry({ name: 'pax_global_header', typeflag: 'g' }, paxData({ path: 'ignored' })),
    entry({ name: 'PaxHeader/x', typeflag: 'x' }, paxData({ path: long, size: '3' })),
    entry({ name: 'short', size: 0 }, Buffer.alloc(0)),
    Buffer.from('abc'),
    Buffer.alloc(509),
    entry({ name: 'PaxHeader/y', typeflag: 'x' }, paxData({ linkpath: long })),
    entry({ name: 'link', typeflag: '2', linkname: 'short' }),
    END,
  ]);
  const entries = await indexOf(tarBytes);
  t.is(entries.length, 2);
  t.like(entries[0], { name: long, type: 'file', size: 3 });
  t.like(entries[1], { name: 'link', type: 'symlink', linkname: long });
});

test('GNU long names (L) and long link names (K) apply to the next entry', async (t) => {
  const longName = `${'n'.repeat(150)}/file`;
  const longLink = `${'k'.repeat(150)}/target`;
  const tarBytes = Buffer.concat([
    entry({ name: '././@LongLink', typeflag: 'L', magic: 'gnu' }, Buffer.from(`${longName}\0`)),
    entry({ name: 'truncated', magic: 'gnu' }, Buffer.from('x')),
    entry({ name: '././@LongLink', typeflag: 'K', magic: 'gnu' }, Buffer.from(`${longLink}\0`)),
    entry({ name: 'sym', typeflag: '2', linkname: 'trunc', magic: 'gnu' }),
    END,
  ]);
  const entries = await indexOf(tarBytes);
  t.like(entries[0], { name: longName, type: 'file', size: 1 });
  t.like(entries[1], { name: 'sym', linkname: longLink });
});

test('a tar written by tar-stream (with PAX for long names) indexes to the same names', async (t) => {
  const longName = `${'p'.repeat(130)}/${'q'.repeat(40)}`;
  const tarBytes = await packTar([
    { name: longName, content: 'data' },
    { name: 'café', content: 'x' },
  ]);
  t.deepEqual(
    (await indexOf(tarBytes)).map((e) => [e.name, e.size]),
    [
      [longName, 4],
      ['café', 1],
    ],
  );
});

test('EOF on a block boundary ends the archive like the zero blocks do', async (t) => {
  t.is((await indexOf(entry({ name: 'a' }, Buffer.from('abc')))).length, 1);
});

test('data cut off by the end of the file is a truncated archive naming the entry', async (t) => {
  const whole = Buffer.concat([entry({ name: 'layer.tar' }, Buffer.alloc(2000, 1)), END]);
  const err = await indexError(t, whole.subarray(0, 1500));
  t.is(err.code, 'EINVALIDARCHIVE');
  t.is(err.message, 'x.tar: truncated archive: entry "layer.tar" needs 2000 bytes at offset 512, the file ends at 1500');
});

test('a header cut off is a truncated archive', async (t) => {
  const whole = Buffer.concat([entry({ name: 'a' }, Buffer.from('abc')), entry({ name: 'b' })]);
  const err = await indexError(t, whole.subarray(0, 1024 + 100));
  t.is(err.message, 'x.tar: truncated archive: header at offset 1024 cut off');
});

test('a bad checksum after the first header names its offset', async (t) => {
  const tarBytes = Buffer.concat([entry({ name: 'a' }, Buffer.from('abc')), entry({ name: 'b' }), END]);
  tarBytes[1027] = tarBytes[1027]! ^ 0x01;
  const err = await indexError(t, tarBytes);
  t.is(err.code, 'EINVALIDARCHIVE');
  t.is(err.message, 'x.tar: bad header checksum at offset 1024');
});

test('a file that does not start with a tar header is not a tar archive', async (t) => {
  const err = await indexError(t, Buffer.from('{"not":"a tar"}\n'.repeat(64)));
  t.is(err.message, 'x.tar: not a tar archive');
  const empty = await indexError(t, Buffer.alloc(0));
  t.is(empty.message, 'x.tar: not a tar archive (empty file)');
});

test('an oversized PAX header is a limit, not an allocation', async (t) => {
  const tarBytes = Buffer.concat([
    header({ name: 'PaxHeader/x', typeflag: 'x', size: 8 * 1024 * 1024 }),
    Buffer.alloc(8 * 1024 * 1024),
    END,
  ]);
  const err = await indexError(t, tarBytes);
  t.is(err.code, 'ELIMIT');
  t.is(err.message, `x.tar: extended header at offset 0 is ${8 * 1024 * 1024} bytes (limit ${4 * 1024 * 1024})`);
  const spooled = await t.throwsAsync(openArchive({ stream: Readable.from([tarBytes]), displayName: 'stdin' }, { spoolDir: os.tmpdir() }));
  t.is((spooled as Error & { code: string }).code, 'ELIMIT');
  t.is(spooled!.message, 'stdin: an extended (PAX or long-name) header exceeds 4 MiB');
});

const names: Array<[string, string | null]> = [
  ['manifest.json', 'manifest.json'],
  ['./manifest.json', 'manifest.json'],
  ['/blobs/sha256/ab', 'blobs/sha256/ab'],
  ['.//./a//b/', 'a/b'],
  ['a/../b', 'b'],
  ['a/./b', 'a/b'],
  ['../x', null],
  ['a/../../x', null],
  ['/..', null],
  ['./', null],
  ['.', null],
];
for (const [raw, want] of names) {
  test(`entry name ${JSON.stringify(raw)} normalises to ${JSON.stringify(want)}`, (t) => {
    t.is(normalizeEntryName(raw), want);
  });
}
