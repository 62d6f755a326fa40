/**
 * Whiteouts arrive OCI-encoded and are stored in the store's format: `overlay`
 * (0/0 character devices, trusted.overlay.opaque) or `oci` (`.wh.` files). Both
 * formats are run through the same cases; `overlay` needs root.
 */
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import { getAttribute } from '@napi-rs/xattr';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { makeTar, type TarEntry } from '../helpers/make-tar.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { testInFormat } from '../helpers/both-formats.js';
import { listTree, unpack } from './helpers.js';

type Listing = Array<[string, string, string?]>;

/** Unpacks `entries` into a store of `format` (tests of the overlay format are registered with testInFormat). */
async function unpackIn(t: ExecutionContext, format: WhiteoutFormat, entries: TarEntry[]): Promise<{ diff: string; listing: Listing }> {
  const { store } = await tmpStore(t, { whiteoutFormat: format });
  const { diff } = await unpack(store, await makeTar(entries));
  const listing: Listing = (await listTree(diff)).map((e) => {
    if (e.type === 'char') return [e.path, `char ${e.mode.toString(8)}`];
    return e.data === undefined ? [e.path, e.type] : [e.path, e.type, e.data];
  });
  return { diff, listing };
}

async function opaque(dir: string): Promise<string | undefined> {
  return (await getAttribute(dir, 'trusted.overlay.opaque'))?.toString();
}

const converted = test.macro({
  async exec(t, format: WhiteoutFormat) {
    const got = await unpackIn(t, format, [
      { name: 'a/', type: 'directory' },
      { name: 'a/keep', content: 'k' },
      { name: 'a/.wh.gone' },
      { name: '.wh.b' },
      { name: '.wh..baz' },
      { name: 'c/', type: 'directory' },
      { name: 'c/.wh..wh..opq' },
      { name: 'c/new', content: 'n' },
    ]);
    if (format === 'oci') {
      t.deepEqual(got.listing, [
        ['.wh..baz', 'file', ''],
        ['.wh.b', 'file', ''],
        ['a', 'dir'],
        ['a/.wh.gone', 'file', ''],
        ['a/keep', 'file', 'k'],
        ['c', 'dir'],
        ['c/.wh..wh..opq', 'file', ''],
        ['c/new', 'file', 'n'],
      ]);
    } else {
      t.deepEqual(got.listing, [
        ['.baz', 'char 0'],
        ['a', 'dir'],
        ['a/gone', 'char 0'],
        ['a/keep', 'file', 'k'],
        ['b', 'char 0'],
        ['c', 'dir'],
        ['c/new', 'file', 'n'],
      ]);
      t.is(await opaque(path.join(got.diff, 'c')), 'y');
      t.is(await opaque(path.join(got.diff, 'a')), undefined);
    }
  },
  title: (_p, format: WhiteoutFormat) => `whiteouts and opaque markers are stored in the ${format} format`,
});
testInFormat('oci')(converted, 'oci');
testInFormat('overlay')(converted, 'overlay');

const ORDERS: Record<string, TarEntry[]> = {
  'marker first': [{ name: 'd/.wh..wh..opq' }, { name: 'd/a', content: 'a' }, { name: 'd/sub/c', content: 'c' }],
  'marker between': [{ name: 'd/a', content: 'a' }, { name: 'd/.wh..wh..opq' }, { name: 'd/sub/c', content: 'c' }],
  'marker last': [{ name: 'd/a', content: 'a' }, { name: 'd/sub/c', content: 'c' }, { name: 'd/.wh..wh..opq' }],
};

const spared = test.macro({
  async exec(t, format: WhiteoutFormat, order: string) {
    const got = await unpackIn(t, format, ORDERS[order]!);
    const marker: Listing = format === 'oci' ? [['d/.wh..wh..opq', 'file', '']] : [];
    t.deepEqual(got.listing, [['d', 'dir'], ...marker, ['d/a', 'file', 'a'], ['d/sub', 'dir'], ['d/sub/c', 'file', 'c']]);
    if (format === 'overlay') t.is(await opaque(path.join(got.diff, 'd')), 'y');
  },
  title: (_p, format: WhiteoutFormat, order: string) => `an opaque marker spares this layer's entries (${format}, ${order})`,
});
for (const format of ['oci', 'overlay'] as const) for (const order of Object.keys(ORDERS)) testInFormat(format)(spared, format, order);

const dropped = test.macro({
  async exec(t, order: 'whiteout first' | 'marker first') {
    const inOpaque: TarEntry[] =
      order === 'whiteout first'
        ? [{ name: 'd/.wh.old' }, { name: 'd/.wh..wh..opq' }]
        : [{ name: 'd/.wh..wh..opq' }, { name: 'd/.wh.old' }];
    const got = await unpackIn(t, 'overlay', [
      ...inOpaque,
      { name: 'd/new', content: 'n' },
      { name: 'e/.wh.kept' },
      // Made opaque, then replaced by a plain directory: its whiteouts matter again.
      { name: 'f/.wh..wh..opq' },
      { name: 'f', content: 'file' },
      { name: 'f/', type: 'directory' },
      { name: 'f/.wh.kept' },
    ]);
    t.deepEqual(got.listing, [
      ['d', 'dir'],
      ['d/new', 'file', 'n'],
      ['e', 'dir'],
      ['e/kept', 'char 0'],
      ['f', 'dir'],
      ['f/kept', 'char 0'],
    ]);
    t.is(await opaque(path.join(got.diff, 'f')), undefined);
  },
  title: (_p, order: string) => `overlay: no whiteouts are left inside a directory this layer made opaque (${order})`,
});
testInFormat('overlay')(dropped, 'whiteout first');
testInFormat('overlay')(dropped, 'marker first');

const laterWins = test.macro({
  async exec(t, format: WhiteoutFormat) {
    const got = await unpackIn(t, format, [
      { name: 'x', content: 'old' },
      { name: '.wh.x' },
      { name: '.wh.y' },
      { name: 'y', content: 'new' },
      { name: 'z/', type: 'directory' },
      { name: 'z/f', content: 'f' },
      { name: '.wh.z' },
      { name: '.wh.w' },
      { name: 'w/', type: 'directory' },
      { name: '.wh.twice' },
      { name: '.wh.twice' },
    ]);
    t.deepEqual(
      got.listing,
      format === 'oci'
        ? [
            ['.wh.twice', 'file', ''],
            ['.wh.x', 'file', ''],
            ['.wh.z', 'file', ''],
            ['w', 'dir'],
            ['y', 'file', 'new'],
          ]
        : [
            ['twice', 'char 0'],
            ['w', 'dir'],
            ['x', 'char 0'],
            ['y', 'file', 'new'],
            ['z', 'char 0'],
          ],
    );
  },
  title: (_p, format: WhiteoutFormat) => `a later entry wins over an earlier whiteout of its path and vice versa (${format})`,
});
testInFormat('oci')(laterWins, 'oci');
testInFormat('overlay')(laterWins, 'overlay');
