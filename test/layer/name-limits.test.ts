/**
 * Names that would make the unpack do unbounded work, refused by the limits of
 * src/layer/limits.ts (PATH_MAX, NAME_MAX, a depth of 1024, 40 links per lookup)
 * before that work is done. One row per hostile layer: the exact code, the limit in
 * the message, a message that stays one short line however long the name, and
 * layers/ left empty. The boundaries (exactly at each limit) still unpack.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { StrataErrorCode } from '../../src/errors.js';
import { quoteName } from '../../src/layer/entry-path.js';
import { NAME_LIMITS } from '../../src/layer/limits.js';
import { makeTar, type TarEntry } from '../helpers/make-tar.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { rejects, unpack } from './helpers.js';

/**
 * Long names and targets go in pax records written whole: tar-stream's pack() takes
 * seconds to fit a name of 100 KiB into the ustar fields, and minutes for 4 MiB.
 */
const paxed = (entry: TarEntry): TarEntry => {
  const pax: Record<string, string> = {};
  if (entry.name.length > 100) pax.path = entry.name;
  if (entry.linkname !== undefined && entry.linkname.length > 100) pax.linkpath = entry.linkname;
  if (Object.keys(pax).length === 0) return entry;
  return {
    ...entry,
    name: pax.path ? 'long-name' : entry.name,
    linkname: pax.linkpath ? 'long-target' : entry.linkname,
    type: entry.type ?? 'file',
    pax,
  };
};
const file = (name: string, content = ''): TarEntry => paxed({ name, content });
const dir = (name: string): TarEntry => paxed({ name: name.endsWith('/') ? name : `${name}/`, type: 'directory' });
const symlink = (name: string, linkname: string): TarEntry => paxed({ name, type: 'symlink', linkname });
const hardlink = (name: string, linkname: string): TarEntry => paxed({ name, type: 'link', linkname });

/** `a/a/…/a`: `n` components of `part`. */
const nested = (n: number, part = 'a'): string => Array.from({ length: n }, () => part).join('/');

/** A pax header may hold at most 4 MiB (tar-stream's bound): the longest name a tar can carry to us. */
const FOUR_MIB_NAME = nested(2_097_000) + 'f'.repeat(2);

/**
 * A layer of `count` entries, made one at a time as the unpack reads them: 10,000
 * nested directories spell ~100 MB of names, and a refusal must come long before.
 */
function streamed(count: number, entry: (i: number) => TarEntry): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 1; i <= count; i++) yield (await makeTar([entry(i)])).subarray(0, -1024); // without the end blocks
      yield Buffer.alloc(1024);
    })(),
  );
}

/** Links l0 → l1 → … → l(n-1) → `last`, at the layer root or below `under`. */
function chain(n: number, last: string, prefix = 'l', under = ''): TarEntry[] {
  return Array.from({ length: n }, (_, i) => symlink(`${under}${prefix}${i}`, i === n - 1 ? last : `${prefix}${i + 1}`));
}

interface Row {
  name: string;
  tar: () => Promise<Buffer | Readable> | Buffer | Readable;
  /** The entry named in the message (quoted, cut in the middle when long). */
  entry: string;
  /** Default ELIMIT. */
  code?: StrataErrorCode;
  reason: RegExp;
  /** The limit and what the entry had, as err.expected and err.found (the host-path rows depend on the store's path). */
  expected?: number;
  found?: number;
}

const A_1025 = nested(1025);
const rows: Row[] = [
  {
    name: 'a 4 MiB entry name',
    tar: () => makeTar([file(FOUR_MIB_NAME)]),
    entry: `"${'a/'.repeat(24)}…${'/a'.repeat(7)}ff"`, // written out once: the head, an ellipsis, the tail
    reason: /: name is 4194001 bytes, the limit is 4095$/,
    expected: 4095,
    found: 4_194_001,
  },
  {
    name: 'a name of 100,000 components',
    tar: () => makeTar([file(nested(100_000))]),
    entry: quoteName(nested(100_000)),
    reason: /: name is 199999 bytes, the limit is 4095$/,
    expected: 4095,
    found: 199_999,
  },
  {
    name: 'a name 1,025 levels deep within PATH_MAX',
    tar: () => makeTar([file(A_1025)]),
    entry: quoteName(A_1025),
    reason: /: name is 1025 levels deep, the limit is 1024$/,
    expected: 1024,
    found: 1025,
  },
  {
    name: 'a name component longer than NAME_MAX',
    tar: () => makeTar([file(`d/${'x'.repeat(256)}`)]),
    entry: quoteName(`d/${'x'.repeat(256)}`),
    reason: /: name has a component of 256 bytes, the limit is 255$/,
    expected: 255,
    found: 256,
  },
  {
    name: '10,000 nested directories, one entry each (refused at the 1,025th)',
    tar: () => streamed(10_000, (i) => dir(nested(i))),
    entry: quoteName(`${A_1025}/`),
    reason: /: name is 1025 levels deep, the limit is 1024$/,
    expected: 1024,
    found: 1025,
  },
  {
    name: '10,000 nested directories of long names, past PATH_MAX on the host',
    tar: () => streamed(10_000, (i) => dir(nested(i, 'dirname8'))),
    entry: '"dirname8/dirname8/dirname8/dirname8/dirname8/dir…rname8/dirname8/"',
    // Directory by directory, 9 bytes at a time: the host path passes 4095 by at most 9.
    reason: /: resolves to a path of \d+ bytes, a host path of (409[6-9]|410[0-4]) bytes under the layer directory, the limit is 4095$/,
  },
  {
    name: 'a hardlink target of 4 MiB',
    tar: () => makeTar([file('f'), hardlink('h', FOUR_MIB_NAME)]),
    entry: '"h"',
    reason: /: hardlink target is 4194001 bytes, the limit is 4095$/,
    expected: 4095,
    found: 4_194_001,
  },
  {
    name: 'a hardlink target 1,025 levels deep',
    tar: () => makeTar([file('f'), hardlink('h', A_1025)]),
    entry: '"h"',
    reason: /: hardlink target is 1025 levels deep, the limit is 1024$/,
    expected: 1024,
    found: 1025,
  },
  {
    name: 'a symlink target of 4 MiB',
    tar: () => makeTar([symlink('l', FOUR_MIB_NAME)]),
    entry: '"l"',
    reason: /: symlink target is 4194001 bytes, the limit is 4095$/,
    expected: 4095,
    found: 4_194_001,
  },
  {
    name: 'a symlink target of 4096 bytes (PATH_MAX with no room for its NUL)',
    tar: () => makeTar([symlink('l', 'x/'.repeat(2048))]),
    entry: '"l"',
    reason: /: symlink target is 4096 bytes, the limit is 4095$/,
    expected: 4095,
    found: 4096,
  },
  {
    name: 'a symlink that makes a short name resolve deeper than the limit',
    tar: () => makeTar([dir(nested(600)), symlink('l', nested(600)), file(`l/${nested(500)}/f`)]),
    entry: quoteName(`l/${nested(500)}/f`),
    reason: /: resolves to a path 1025 levels deep, the limit is 1024$/,
    expected: 1024,
    found: 1025,
  },
  {
    name: 'a symlink that makes a short name resolve past PATH_MAX',
    tar: () => {
      const long = nested(10, 'x'.repeat(250)); // 2,509 bytes
      return makeTar([dir(long), symlink('l', long), file(`l/${nested(7, 'y'.repeat(250))}/f`)]);
    },
    entry: quoteName(`l/${nested(7, 'y'.repeat(250))}/f`),
    reason: /: resolves to a path of \d+ bytes, a host path of \d+ bytes under the layer directory, the limit is 4095$/,
  },
  {
    name: 'a symlink whose target has a component longer than NAME_MAX, when followed',
    tar: () => makeTar([symlink('l', `d/${'x'.repeat(300)}`), file('l/f')]),
    entry: '"l/f"',
    reason: /: the target of symlink "\/l" has a component of 300 bytes, the limit is 255$/,
    expected: 255,
    found: 300,
  },
  {
    name: '41 links in one lookup, 20 of them before a directory the layer already resolved',
    tar: () => makeTar([dir('d/e'), ...chain(20, 'd'), ...chain(21, 'e', 'm', 'd/'), file('l0/x'), file('l0/m0/f')]),
    entry: '"l0/m0/f"',
    code: 'EINVALIDARCHIVE',
    reason: /: too many levels of symbolic links \(more than 40 in one lookup\)$/,
  },
];

const refused = test.macro({
  async exec(t, row: Row) {
    const { store } = await tmpStore(t);
    const tar = await row.tar();
    const options = Buffer.isBuffer(tar) ? {} : { blob: tar, diffId: `sha256:${'0'.repeat(64)}` };
    const err = await rejects(t, store, Buffer.isBuffer(tar) ? tar : Buffer.alloc(0), row.code ?? 'ELIMIT', options);
    t.regex(err.message, row.reason);
    t.true(err.message.includes(`: entry ${row.entry}: `), `names the entry ${row.entry}: ${err.message}`);
    t.false(err.message.includes('\n'), 'one line');
    t.true(err.message.length < 250, `a short line (${err.message.length} characters)`);
    if (row.expected !== undefined) t.is(err.expected, row.expected);
    if (row.found !== undefined) t.is(err.found, row.found);
  },
  title: (_provided, row: Row) => `${row.name} is refused by its limit, in one short line`,
});

for (const row of rows) test(refused, row);

test('names, targets and paths exactly at each limit unpack', async (t) => {
  const { store } = await tmpStore(t);
  const deepest = nested(NAME_LIMITS.maxDepth);
  const widest = 'n'.repeat(NAME_LIMITS.maxComponentBytes);
  const longTarget = `${'t/'.repeat(2047)}t`; // 4095 bytes, the most symlink(2) takes
  const fortyLinks = [dir('d'), ...chain(20, 'd'), ...chain(20, 'e', 'm', 'd/'), dir('d/e'), file('l0/m0/f', 'through 40 links')];
  const { diff } = await unpack(
    store,
    await makeTar([file(deepest, 'deep'), file(widest, 'wide'), symlink('long', longTarget), ...fortyLinks]),
  );
  t.is(await fs.readFile(path.join(diff, deepest), 'utf8'), 'deep');
  t.is(await fs.readFile(path.join(diff, widest), 'utf8'), 'wide');
  t.is(await fs.readlink(path.join(diff, 'long')), longTarget);
  t.is(await fs.readFile(path.join(diff, 'd/e/f'), 'utf8'), 'through 40 links');
});
