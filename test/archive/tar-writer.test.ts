/** The tar writer: entries as data in, tar bytes out; pax records byte-exact, whatever the values. */
import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PassThrough, Readable } from 'node:stream';
import { writeTar, type PackEntry } from '../../src/archive/tar-writer.js';
import { encodeHeader, paxRecord } from '../../src/archive/tar-header.js';
import { isStrataError } from '../../src/errors.js';
import { xattr } from '../../src/xattr.js';
import { parseTar } from '../helpers/raw-tar.js';
import { testUnless } from '../helpers/skip.js';
import { gnuTarSkipReason } from '../helpers/tools.js';

const gnuTarMissing = await gnuTarSkipReason();

const run = promisify(execFile);

async function tarOf(entries: PackEntry[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeTar(entries, out);
  return Buffer.concat(chunks);
}

// security.capability v2 for cap_net_raw+ep, as setcap writes it: magic|effective, permitted (bit 13), inheritable, then zeros.
const CAP_NET_RAW_EP = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const NOT_UTF8 = Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x0a, 0x3d, 0x80, 0x00]);

const base = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 };

test('binary xattr values come back byte for byte from the pax records', async (t) => {
  const tar = await tarOf([
    {
      ...base,
      path: 'bin/ping',
      kind: 'file',
      mode: 0o755,
      content: Buffer.from('ping'),
      xattrs: [
        ['security.capability', CAP_NET_RAW_EP],
        ['user.raw', NOT_UTF8],
      ],
    },
    {
      ...base,
      path: 'etc',
      kind: 'dir',
      mode: 0o755,
      xattrs: [
        ['user.empty', Buffer.alloc(0)],
        ['trusted.a=b%c', Buffer.from('keyword escaped')],
      ],
    },
  ]);
  const [ping, etc] = parseTar(tar);
  t.is(ping!.name, 'bin/ping');
  t.deepEqual([...ping!.pax.keys()], ['SCHILY.xattr.security.capability', 'SCHILY.xattr.user.raw']);
  t.deepEqual(ping!.pax.get('SCHILY.xattr.security.capability'), CAP_NET_RAW_EP);
  t.deepEqual(ping!.pax.get('SCHILY.xattr.user.raw'), NOT_UTF8);
  t.is(ping!.body.toString(), 'ping');
  t.is(etc!.name, 'etc/');
  t.is(etc!.typeflag, '5');
  // GNU tar's escaping of `=` and `%` in xattr keywords.
  t.deepEqual(
    [...etc!.pax.entries()],
    [
      ['SCHILY.xattr.user.empty', Buffer.alloc(0)],
      ['SCHILY.xattr.trusted.a%3Db%25c', Buffer.from('keyword escaped')],
    ],
  );
});

test('a pax record counts its own length digits, across the 9/10 and 99/100 byte boundaries', (t) => {
  for (let valueLength = 0; valueLength < 200; valueLength++) {
    const record = paxRecord('k', Buffer.alloc(valueLength, 0xff));
    const space = record.indexOf(0x20);
    t.is(Number(record.subarray(0, space).toString()), record.length, `value of ${valueLength} bytes`);
    t.is(record[record.length - 1], 0x0a);
  }
  t.deepEqual(paxRecord('path', 'é'), Buffer.from('11 path=é\n'));
});

test('whiteout and opaque entries are written in the OCI encoding; long and non-ASCII names and big ids in pax', async (t) => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
  const tar = await tarOf([
    { ...base, path: 'etc/motd', kind: 'whiteout', mode: 0 },
    { ...base, path: 'gone', kind: 'whiteout', mode: 0 },
    { ...base, path: 'var/lib', kind: 'opaque', mode: 0 },
    { ...base, path: long, kind: 'symlink', linkTarget: `/${long}` },
    { ...base, path: 'café', kind: 'hardlink', linkTarget: 'bin/ping' },
    { ...base, path: 'dev/null', kind: 'char', devMajor: 1, devMinor: 3, uid: 3_000_000 },
    { ...base, path: 'old', kind: 'file', mtime: -86_400, content: Buffer.alloc(0) },
  ]);
  const entries = parseTar(tar);
  t.deepEqual(
    entries.map((e) => [e.name, e.typeflag, e.mode, e.size, e.linkname, e.uid]),
    [
      ['etc/.wh.motd', '0', 0, 0, '', 0],
      ['.wh.gone', '0', 0, 0, '', 0],
      ['var/lib/.wh..wh..opq', '0', 0, 0, '', 0],
      [long, '2', 0o644, 0, `/${long}`, 0],
      ['café', '1', 0o644, 0, 'bin/ping', 0],
      ['dev/null', '3', 0o644, 0, '', 3_000_000],
      ['old', '0', 0o644, 0, '', 0],
    ],
  );
  t.deepEqual(entries[6]!.pax, new Map([['mtime', Buffer.from('-86400')]]));
  t.deepEqual(entries[4]!.pax, new Map([['path', Buffer.from('café')]]));
});

testUnless(gnuTarMissing)('GNU tar reads what the writer writes, xattrs included', async (t) => {
  const tarFile = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'strata-tar-writer-')), 'x.tar');
  t.teardown(() => fs.rm(path.dirname(tarFile), { recursive: true, force: true }));
  await fs.writeFile(
    tarFile,
    await tarOf([
      { ...base, path: `${'a'.repeat(150)}/b`, kind: 'dir', mode: 0o755 },
      {
        ...base,
        path: 'bin/ping',
        kind: 'file',
        mode: 0o4755,
        uid: 3_000_000,
        gid: 7,
        content: Buffer.from('ping\n'),
        xattrs: [['user.raw', NOT_UTF8]],
      },
      { ...base, path: 'big', kind: 'file', size: 1_000_001, open: () => Readable.from([Buffer.alloc(1_000_001, 0x61)]) },
    ]),
  );
  const { stdout: listing } = await run('tar', ['--numeric-owner', '-tvf', tarFile]);
  const rows = listing
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/));
  t.deepEqual(
    rows.map((r) => [r[0], r[1], r[2], r.at(-1)]),
    [
      ['drwxr-xr-x', '0/0', '0', `${'a'.repeat(150)}/b/`],
      ['-rwsr-xr-x', '3000000/7', '5', 'bin/ping'],
      ['-rw-r--r--', '0/0', '1000001', 'big'],
    ],
  );
  const into = path.join(path.dirname(tarFile), 'x');
  await fs.mkdir(into);
  await run('tar', ['--xattrs', '--xattrs-include=*', '-xf', tarFile, '-C', into]);
  t.deepEqual(await xattr().getAttribute(path.join(into, 'bin/ping'), 'user.raw'), NOT_UTF8);
});

test('a file that is not the size it was announced with fails the archive, naming the file', async (t) => {
  const err = await t.throwsAsync(
    tarOf([{ ...base, path: 'grew', kind: 'file', size: 3, open: () => Readable.from([Buffer.from('four')]) }]),
  );
  t.true(isStrataError(err, 'ECONFLICT'));
  t.is(err!.message, 'grew: changed while being archived (expected 3 bytes, found more)');
  const shrank = await t.throwsAsync(
    tarOf([{ ...base, path: 'shrank', kind: 'file', size: 5, open: () => Readable.from([Buffer.from('two')]) }]),
  );
  t.is(shrank!.message, 'shrank: changed while being archived (expected 5 bytes, found 3)');
});

test('a size past 8 GiB goes into a pax record as well as GNU base-256 in the header', (t) => {
  const size = 2 ** 33 + 5;
  const header = encodeHeader({ name: 'huge', typeflag: '0', mode: 0o644, uid: 0, gid: 0, size, mtime: 0 });
  t.is(header.length, 3 * 512, 'pax header, its records, the ustar header');
  const record = paxRecord('size', String(size));
  t.deepEqual(header.subarray(512, 512 + record.length), record);
  const ustar = header.subarray(1024);
  t.is(ustar[124], 0x80);
  t.is(ustar.readBigUInt64BE(128), BigInt(size));
  const small = encodeHeader({ name: 'small', typeflag: '0', mode: 0o644, uid: 0, gid: 0, size: 2 ** 33 - 1, mtime: 0 });
  t.is(small.length, 512, 'the largest octal size needs no pax record');
});
