/** What a layer's entries become on disk: types, modes, owners, times, xattrs, sizes. */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { getAttribute } from '@napi-rs/xattr';
import { FIXED_MTIME, makeTar } from '../helpers/make-tar.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { testUnless } from '../helpers/skip.js';
import { isRoot, listTree, readText, sameInode, unpack, userXattrSkipReason } from './helpers.js';

const userXattrsMissing = await userXattrSkipReason();

// The result must not depend on the importing process's umask.
process.umask(0o027);

const T = FIXED_MTIME.getTime() / 1000;

test('every entry type lands with its exact type, mode, owner and mtime', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await makeTar([
    { name: './', type: 'directory', mode: 0o700 },
    { name: 'etc/', type: 'directory', mode: 0o750 },
    { name: 'etc/passwd', content: 'root:x:0:0\n', mode: 0o644 },
    { name: 'bin/su', content: '#!su', mode: 0o4755 },
    { name: 'bin/wall', content: '#!wall', mode: 0o2755, gid: 5 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/su-link', type: 'link', linkname: '/bin/su' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'locked/', type: 'directory', mode: 0o000 },
    { name: 'locked/inner', content: 'in', mode: 0o600 },
    { name: 'data/contig', type: 'contiguous-file', content: 'contiguous' },
    { name: 'run/fifo', type: 'fifo', mode: 0o620 },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
    { name: 'home/user/file', content: 'mine', uid: 1000, gid: 1000, mode: 0o640 },
    { name: 'typed', content: 'x', raw: { mode: '0100600' } },
  ]);
  const { record, diff } = await unpack(store, tar);
  const root = isRoot();
  const rows: Array<[string, string, number, number, number, number | null]> = [];
  for (const entry of await listTree(diff)) {
    const st = await fs.lstat(path.join(diff, entry.path));
    rows.push([entry.path, entry.type, entry.mode, st.uid, st.gid, st.mtimeMs === FIXED_MTIME.getTime() ? T : null]);
  }
  const own = (uid: number, gid: number): [number, number] => (root ? [uid, gid] : [process.getuid!(), process.getgid!()]);
  const dev = (type: string, mode: number): [string, number] => (root ? [type, mode] : ['file', 0o600]);
  t.deepEqual(rows, [
    ['bin', 'dir', 0o755, ...own(0, 0), null],
    ['bin/sh', 'symlink', 0o777, ...own(0, 0), T],
    ['bin/su', 'file', 0o4755, ...own(0, 0), T],
    ['bin/su-link', 'file', 0o4755, ...own(0, 0), T],
    ['bin/wall', 'file', 0o2755, ...own(0, 5), T],
    ['data', 'dir', 0o755, ...own(0, 0), null],
    ['data/contig', 'file', 0o644, ...own(0, 0), T],
    ['dev', 'dir', 0o755, ...own(0, 0), null],
    ['dev/loop0', ...dev('block', 0o660), ...own(0, 6), T],
    ['dev/null', ...dev('char', 0o666), ...own(0, 0), T],
    ['etc', 'dir', 0o750, ...own(0, 0), T],
    ['etc/passwd', 'file', 0o644, ...own(0, 0), T],
    ['home', 'dir', 0o755, ...own(0, 0), null],
    ['home/user', 'dir', 0o755, ...own(0, 0), null],
    ['home/user/file', 'file', 0o640, ...own(1000, 1000), T],
    ['locked', 'dir', 0o000, ...own(0, 0), T],
    ['locked/inner', 'file', 0o600, ...own(0, 0), T],
    ['run', 'dir', 0o755, ...own(0, 0), null],
    ['run/fifo', 'fifo', 0o620, ...own(0, 0), T],
    ['tmp', 'dir', 0o1777, ...own(0, 0), T],
    ['typed', 'file', 0o600, ...own(0, 0), T],
  ]);
  t.is((await fs.lstat(diff)).mode & 0o7777, 0o755, 'the `./` entry does not change the layer root');
  t.is(await readText(path.join(diff, 'locked/inner')), 'in');
  t.is(await fs.readlink(path.join(diff, 'bin/sh')), 'busybox');
  t.true(await sameInode(path.join(diff, 'bin/su'), path.join(diff, 'bin/su-link')));
  if (root) {
    t.is((await fs.lstat(path.join(diff, 'dev/null'))).rdev, (1 << 8) | 3);
    t.is((await fs.lstat(path.join(diff, 'dev/loop0'))).rdev, 7 << 8);
    t.deepEqual(record.unapplied, { owners: {}, devices: {}, xattrs: {} });
  } else {
    t.log('not root: ownership and device nodes are recorded, not applied (see rootless.test)');
    t.deepEqual(record.unapplied.devices, {
      '/dev/loop0': { type: 'block', major: 7, minor: 0, mode: 0o660 },
      '/dev/null': { type: 'char', major: 1, minor: 3, mode: 0o666 },
    });
  }
  t.is(record.entries, 16);
  // 11 + 4 + 6 + 7 (the symlink's target "busybox") + 2 + 10 + 4 + 1; su-link is su's inode.
  t.is(record.size, 45);
});

test('pax records override the header: sub-second mtimes and ids beyond the octal fields', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await makeTar([
    { name: 'precise', content: 'x', pax: { mtime: '1700000000.25' } },
    { name: 'big-ids', content: 'x', uid: 7, gid: 7, pax: { uid: '3000000', gid: '3000001' } },
    { name: 'link', type: 'symlink', linkname: 'precise', mtime: new Date(1_600_000_000_000) },
  ]);
  const { record, diff } = await unpack(store, tar);
  t.is((await fs.lstat(path.join(diff, 'precise'))).mtimeMs, 1_700_000_000_250);
  t.is((await fs.lstat(path.join(diff, 'link'))).mtimeMs, 1_600_000_000_000);
  const st = await fs.lstat(path.join(diff, 'big-ids'));
  if (isRoot()) t.deepEqual([st.uid, st.gid, record.unapplied.owners], [3_000_000, 3_000_001, {}]);
  else t.deepEqual(record.unapplied.owners, { '/big-ids': { uid: 3_000_000, gid: 3_000_001 } });
});

test('a directory entry over a directory only updates its metadata; any other entry replaces it', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await makeTar([
    { name: 'd/', type: 'directory', mode: 0o700 },
    { name: 'd/f', content: 'kept' },
    { name: 'd/', type: 'directory', mode: 0o751 },
    { name: 'e/', type: 'directory' },
    { name: 'e/f', content: 'gone' },
    { name: 'e', content: 'now a file' },
    { name: 'f', content: 'first' },
    { name: 'f', type: 'symlink', linkname: 'somewhere' },
  ]);
  const { diff } = await unpack(store, tar);
  t.deepEqual(
    (await listTree(diff)).map((e) => [e.path, e.type, e.mode, e.data]),
    [
      ['d', 'dir', 0o751, undefined],
      ['d/f', 'file', 0o644, 'kept'],
      ['e', 'file', 0o644, 'now a file'],
      ['f', 'symlink', 0o777, 'somewhere'],
    ],
  );
});

testUnless(userXattrsMissing)('xattrs from pax records are applied; trusted.overlay.* never is, and is recorded', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await makeTar([
    { name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.user.dir': 'on a dir' } },
    { name: 'd/f', content: 'x', pax: { 'SCHILY.xattr.user.note': 'héllo', 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } },
    { name: 'd/g', type: 'link', linkname: 'd/f' },
  ]);
  const { record, diff } = await unpack(store, tar);
  t.is((await getAttribute(path.join(diff, 'd'), 'user.dir'))?.toString(), 'on a dir');
  t.is((await getAttribute(path.join(diff, 'd/f'), 'user.note'))?.toString(), 'héllo');
  t.is(await getAttribute(path.join(diff, 'd/f'), 'trusted.overlay.redirect'), null);
  t.deepEqual(record.unapplied.xattrs, { '/d/f': { 'trusted.overlay.redirect': null }, '/d/g': { 'trusted.overlay.redirect': null } });
});

test('what an entry could not apply is forgotten when a later entry removes it', async (t) => {
  const { store } = await tmpStore(t);
  const refused = { 'SCHILY.xattr.trusted.overlay.metacopy': '' };
  const tar = await makeTar([
    { name: 'd/', type: 'directory' },
    { name: 'd/f', content: 'x', pax: refused },
    { name: 'g', content: 'x', pax: refused },
    { name: '.wh.d' },
    { name: 'g', content: 'plain' },
    // Removed with its parent, then made again as an implied directory: nothing to report.
    { name: 'k/x/', type: 'directory', pax: refused },
    { name: '.wh.k' },
    { name: 'k/', type: 'directory' },
    { name: 'k/x/f', content: 'again' },
    // Removed, then made again by an entry that carries the same refusal: reported.
    { name: 'm/n/', type: 'directory', pax: refused },
    { name: '.wh.m' },
    { name: 'm/', type: 'directory' },
    { name: 'm/n/', type: 'directory', pax: refused },
  ]);
  const { record } = await unpack(store, tar);
  t.deepEqual(record.unapplied, { owners: {}, devices: {}, xattrs: { '/m/n': { 'trusted.overlay.metacopy': null } } });
});

test('sizes follow Docker: files and symlink targets by length, hardlinks once, dirs and whiteouts 0', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await makeTar([
    { name: 'd/', type: 'directory' },
    { name: 'd/big', content: Buffer.alloc(5000, 1) },
    { name: 'd/small', content: 'a'.repeat(1000) },
    { name: 'd/small-again', type: 'link', linkname: 'd/small' },
    { name: 'd/link', type: 'symlink', linkname: 'abcdef' },
    { name: 'd/.wh.gone' },
    { name: 'e/.wh..wh..opq' },
  ]);
  const { record, diff } = await unpack(store, tar);
  t.is(record.size, 5000 + 1000 + 6);
  let allocated = 0;
  for (const name of ['big', 'small', 'link', '.wh.gone']) allocated += (await fs.lstat(path.join(diff, 'd', name))).blocks * 512;
  allocated += (await fs.lstat(path.join(diff, 'e', '.wh..wh..opq'))).blocks * 512;
  t.is(record.allocatedSize, allocated);
  t.true(record.allocatedSize >= 8192, 'two files with data take at least two blocks');
  t.is(record.entries, 7);
});

test('a layer does not resolve a symlink of the layer below (each layer is unpacked alone)', async (t) => {
  const { store } = await tmpStore(t);
  const lower = await unpack(
    store,
    await makeTar([
      { name: 'usr/lib/', type: 'directory' },
      { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
    ]),
  );
  const before = await listTree(lower.diff);
  const upper = await unpack(store, await makeTar([{ name: 'lib/systemd/system/container.service', content: 'unit' }]), {
    parent: lower.record.chainId,
  });
  t.deepEqual(
    (await listTree(upper.diff)).map((e) => [e.path, e.type]),
    [
      ['lib', 'dir'],
      ['lib/systemd', 'dir'],
      ['lib/systemd/system', 'dir'],
      ['lib/systemd/system/container.service', 'file'],
    ],
  );
  t.deepEqual(await listTree(lower.diff), before);
});
