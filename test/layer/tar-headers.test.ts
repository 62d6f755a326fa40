/**
 * Tar headers whose numbers or structure GNU tar and Go's archive/tar refuse, or read
 * otherwise than tar-stream would (src/layer/tar-header-check.ts): each is refused
 * with a one-line error naming the layer and the entry, and layers/ is left empty.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { makeTar, paxRecord, type TarEntry } from '../helpers/make-tar.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { SOURCE, isRoot, listTree, rejects, unpack } from './helpers.js';

const BLOCK = 512;
/** A tar without its two end-of-archive blocks, to put more after it. */
const open = async (entries: TarEntry[]) => (await makeTar(entries)).subarray(0, -2 * BLOCK);
const END = Buffer.alloc(2 * BLOCK);

interface Row {
  name: string;
  tar: () => Promise<Buffer>;
  /** The whole message after the layer's name. */
  reason: RegExp;
}

const rows: Row[] = [
  {
    name: 'negative size (GNU base-256)',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { size: -1 } }]),
    reason: /^: entry "f": size -1 is out of range: a negative number \(GNU base-256\)$/,
  },
  {
    name: 'negative uid (GNU base-256)',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { uid: -5 } }]),
    reason: /^: entry "f": uid -5 is out of range: a negative number \(GNU base-256\)$/,
  },
  {
    name: 'negative gid (GNU base-256)',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { gid: -1 } }]),
    reason: /^: entry "f": gid -1 is out of range: a negative number \(GNU base-256\)$/,
  },
  {
    name: 'negative mtime (GNU base-256)',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { mtime: -1 } }]),
    reason: /^: entry "f": mtime -1 is out of range: a negative number \(GNU base-256\)$/,
  },
  {
    name: 'base-256 size past 2^53',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { size: 2 ** 60 } }]),
    reason: /^: entry "f": size is out of range: larger than 2\^53$/,
  },
  {
    name: 'base-256 with a lead byte other than 0x80 or 0xff',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { size: '\x81\0\0\0\0\0\0\0\0\0\0\x01' } }]),
    reason: /^: entry "f": size field is not a valid GNU base-256 number$/,
  },
  // tar-stream's parseInt would read 0o1 and stop at the "x": one byte of data instead of refusing.
  {
    name: 'non-octal garbage after the digits of the size',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { size: '0000000001x' } }]),
    reason: /^: entry "f": size field "0000000001x\\u0000" is not an octal number$/,
  },
  {
    name: 'non-octal digit in the mtime',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { mtime: '00000000009' } }]),
    reason: /^: entry "f": mtime field "00000000009\\u0000" is not an octal number$/,
  },
  {
    name: 'a space inside the mode',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { mode: '0006 44' } }]),
    reason: /^: entry "f": mode field "0006 44\\u0000" is not an octal number$/,
  },
  {
    name: 'letters in the devmajor of a device',
    tar: () => makeTar([{ name: 'dev/x', type: 'character-device', raw: { devmajor: 'abc' } }]),
    reason: /^: entry "dev\/x": devmajor field "abc\\u0000\\u0000\\u0000\\u0000\\u0000" is not an octal number$/,
  },
  {
    name: 'a wrong header checksum',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { checksum: '0001234\0' } }]),
    reason: /^: tar header at byte 0: not a valid tar stream \(header checksum is 668, but the header sums to \d+\)$/,
  },
  {
    name: 'a checksum that is not octal',
    tar: () => makeTar([{ name: 'f', content: 'x', raw: { checksum: '12x4\0\0\0\0' } }]),
    reason: /^: tar header at byte 0: not a valid tar stream \(checksum field "12x4\\u0000\\u0000\\u0000\\u0000" is not an octal number\)$/,
  },
  // tar-stream reads it as a zero block and goes on; Go reads a header with no name.
  {
    name: 'a block that is zero but for its checksum',
    tar: async () => {
      const block = Buffer.alloc(BLOCK);
      block.write('0000400\0', 148, 'latin1');
      return Buffer.concat([block, await makeTar([{ name: 'f', content: 'x' }])]);
    },
    reason: /^: entry "": not a ustar, pax or GNU tar header$/,
  },
  {
    name: 'a size past the end of the stream',
    tar: () => makeTar([{ name: 'big', content: 'ten bytes.', raw: { size: 5000 } }]),
    reason: /^: entry "big": its size \(5000 bytes\) runs past the end of the layer stream: 3464 bytes of data missing$/,
  },
  {
    name: 'a huge base-256 size past the end of the stream',
    tar: () => makeTar([{ name: 'big', content: 'x', raw: { size: 2 ** 40 } }]),
    reason: /^: entry "big": its size \(1099511627776 bytes\) runs past the end of the layer stream: 1099511626240 bytes of data missing$/,
  },
  {
    name: 'a stream that ends inside the padding after the data',
    tar: async () => (await open([{ name: 'f', content: 'x' }])).subarray(0, BLOCK + 100),
    reason: /^: entry "f": the layer stream ends inside the padding after its data$/,
  },
  {
    name: 'a stream that ends inside a header',
    tar: async () => Buffer.concat([await open([{ name: 'f', content: 'x' }]), Buffer.alloc(100, 0x41)]),
    reason: /^: tar header at byte 1024: the layer stream ends inside this header \(100 of 512 bytes\)$/,
  },
  // GNU tar stops at a zero block; Go refuses a lone one; tar-stream skips it and reads on.
  {
    name: 'a lone zero block followed by another entry',
    tar: async () =>
      Buffer.concat([await open([{ name: 'a', content: 'a' }]), Buffer.alloc(BLOCK), await makeTar([{ name: 'hidden', content: 'h' }])]),
    reason:
      /^: entry "hidden": a single zero block \(at byte 1024\) comes before this header: the archive ended there for other tar readers$/,
  },
  // Go reads no data for a symlink, tar-stream skips `size` bytes: a header hidden there is seen by one only.
  {
    name: 'a symlink that declares data',
    tar: () => makeTar([{ name: 'l', type: 'symlink', linkname: 'x', raw: { size: 512 } }]),
    reason: /^: entry "l": a symlink entry declares 512 bytes of data$/,
  },
  {
    name: 'a directory that declares data',
    tar: () => makeTar([{ name: 'd/', type: 'directory', raw: { size: 1 } }]),
    reason: /^: entry "d\/": a directory entry declares 1 bytes of data$/,
  },
  // Go reads a directory (and no data), tar-stream a file with its data.
  {
    name: 'type NUL with a name ending in "/"',
    tar: () => makeTar([{ name: 'x/', type: 'file', content: 'data', raw: { typeflag: '\0' } }]),
    reason: /^: entry "x\/": type NUL with a name ending in "\/", which tar readers take for a file or a directory$/,
  },
  {
    name: 'a pax size that is not a number',
    tar: () => makeTar([{ name: 'f', content: 'x', paxBytes: paxRecord('size', '1abc') }]),
    reason: /^: entry "PaxHeaders\/f": pax size "1abc" is not a non-negative decimal number$/,
  },
  {
    name: 'a negative pax uid',
    tar: () => makeTar([{ name: 'f', content: 'x', paxBytes: paxRecord('uid', '-1') }]),
    reason: /^: entry "PaxHeaders\/f": pax uid "-1" is not a non-negative decimal number$/,
  },
  {
    name: 'a negative pax mtime',
    tar: () => makeTar([{ name: 'f', content: 'x', paxBytes: paxRecord('mtime', '-10.5') }]),
    reason: /^: entry "PaxHeaders\/f": pax mtime "-10.5" is not a non-negative decimal number$/,
  },
  // tar-stream stops at a bad record and drops the rest; Go refuses the archive.
  {
    name: 'a malformed pax record',
    tar: () => makeTar([{ name: 'f', content: 'x', paxBytes: Buffer.concat([Buffer.from('4 x\n'), paxRecord('path', 'other')]) }]),
    reason: /^: entry "PaxHeaders\/f": pax record at byte 0 has a length \(4\) beyond its header$/,
  },
  {
    name: 'a global pax header that sets a path',
    tar: () =>
      makeTar([
        { name: 'pax_global_header', content: paxRecord('path', 'evil'), raw: { typeflag: 'g' } },
        { name: 'f', content: 'x', pax: { comment: 'c' } },
      ]),
    reason: /^: entry "pax_global_header": a global pax header sets "path", which tar readers apply differently$/,
  },
  {
    name: 'both a GNU long name and a pax path',
    tar: () =>
      makeTar([
        { name: '././@LongLink', content: 'from-gnu\0', raw: { typeflag: 'L' } },
        { name: 'f', content: 'x', pax: { path: 'from-pax' } },
      ]),
    reason: /^: entry "from-pax": both a GNU long name and a pax path, which tar readers disagree on$/,
  },
  {
    name: 'an old GNU long-name header (N)',
    tar: () => makeTar([{ name: 'n', content: 'x', raw: { typeflag: 'N' } }]),
    reason: /^: entry "n": an old GNU long-name header \(type N\), which tar readers disagree on$/,
  },
  {
    name: 'a pax header too large to buffer (5 MiB)',
    tar: () => makeTar([{ name: 'f', content: 'x', paxBytes: paxRecord('comment', 'x'.repeat(5 << 20)) }]),
    reason: /^: entry "PaxHeaders\/f": header extension of 5242897 bytes exceeds max size \(4194304 bytes\)$/,
  },
];

const refused = test.macro({
  async exec(t, row: Row) {
    const { store } = await tmpStore(t);
    const err = await rejects(t, store, await row.tar(), 'EINVALIDARCHIVE');
    t.true(err.message.startsWith(SOURCE), err.message);
    t.regex(err.message.slice(SOURCE.length), row.reason);
    t.false(err.message.includes('\n'), 'one line');
  },
  title: (_provided, row: Row) => `refused: ${row.name}`,
});

for (const row of rows) test(refused, row);

test('what follows the end-of-archive marker is hashed into the diffID but never applied', async (t) => {
  const { store } = await tmpStore(t);
  const tar = Buffer.concat([
    await open([{ name: 'a', content: 'a' }]),
    END,
    await makeTar([{ name: 'hidden', content: 'GNU tar and Go never see this' }]),
  ]);
  // unpack() checks the diffID of the whole buffer, trailing entry included.
  const { diff, record } = await unpack(store, tar);
  t.deepEqual(
    (await listTree(diff)).map((e) => e.path),
    ['a'],
  );
  t.is(record.entries, 1);
});

test('numbers as old and other tars write them are read: leading spaces, NUL padding, positive base-256', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await makeTar([
    { name: 'spaced', content: 'x', raw: { mode: '  0640 ', mtime: ' 14000000000' } },
    { name: 'nul-padded', content: 'x', raw: { mode: '\x00\x00\x000644', devmajor: '', devminor: '\0\0\0\0\0\0\0\0' } },
    { name: 'big-uid', content: 'x', uid: 1, raw: { uid: 2 ** 21 } },
    { name: 'pax_global_header', content: paxRecord('comment', 'git archive writes its commit here'), raw: { typeflag: 'g' } },
  ]);
  const { diff, record } = await unpack(store, tar);
  t.deepEqual(
    (await listTree(diff)).map((e) => [e.path, e.type, e.mode]),
    [
      ['big-uid', 'file', 0o644],
      ['nul-padded', 'file', 0o644],
      ['spaced', 'file', 0o640],
    ],
  );
  t.is((await fs.lstat(path.join(diff, 'spaced'))).mtimeMs, 0o14000000000 * 1000);
  if (isRoot()) t.is((await fs.lstat(path.join(diff, 'big-uid'))).uid, 2 ** 21);
  else t.deepEqual(record.unapplied.owners['/big-uid'], { uid: 2 ** 21, gid: 0 });
});
