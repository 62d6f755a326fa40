import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Resolver, type ResolverMount } from '../../src/resolver/index.js';
import { buildLayer, d, f, ln } from './suite.js';

/** A container over one oci-encoded lower, with the given mounts; returns the resolver and its dirs. */
async function container(
  t: { teardown(fn: () => Promise<void>): void },
  mounts: (dirs: { vol: string; ro: string; file: string }) => ResolverMount[],
) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-mounts-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  const lower = path.join(root, 'lower');
  await buildLayer(lower, [d('/data'), f('/data/from-image', 'hidden by the volume'), f('/etc/hostname', 'image'), d('/srv')], 'oci');
  const dirs = { vol: path.join(root, 'vol'), ro: path.join(root, 'ro'), file: path.join(root, 'hostname') };
  await fs.mkdir(dirs.vol);
  await fs.mkdir(dirs.ro);
  await fs.writeFile(path.join(dirs.vol, 'v'), 'volume');
  await fs.writeFile(path.join(dirs.ro, 'r'), 'read-only');
  await fs.writeFile(dirs.file, 'bound');
  const upperDir = path.join(root, 'upper');
  await fs.mkdir(upperDir);
  const r = new Resolver({ lowerDirs: [lower], upperDir, workDir: path.join(root, 'work'), format: 'oci', mounts: mounts(dirs) });
  return { r, dirs, upperDir };
}

test('a mount is resolved before the layers and hides what the image has there', async (t) => {
  const { r } = await container(t, ({ vol }) => [{ path: '/data', source: vol, readOnly: false }]);
  t.deepEqual(await r.readdir('/data'), ['v']);
  t.is(await r.readFile('/data/v', 'utf8'), 'volume');
  t.is((await r.lstat('/data')).layer, 'mount');
  await t.throwsAsync(r.readFile('/data/from-image'), { code: 'ENOENT' });
});

test('writes under a mount land in its source, not in the upper dir', async (t) => {
  const { r, dirs, upperDir } = await container(t, ({ vol }) => [{ path: '/data', source: vol, readOnly: false }]);
  await r.writeFile('/data/new', 'kept in the volume');
  await r.mkdir('/data/sub/deeper', { recursive: true });
  await r.rename('/data/new', '/data/sub/moved');
  await r.unlink('/data/v');
  t.is(await fs.readFile(path.join(dirs.vol, 'sub', 'moved'), 'utf8'), 'kept in the volume');
  await t.throwsAsync(fs.lstat(path.join(dirs.vol, 'v')), { code: 'ENOENT' });
  t.deepEqual(await fs.readdir(upperDir), []);
});

test('a read-only mount refuses changes with EROFS while the rest stays writable', async (t) => {
  const { r } = await container(t, ({ ro }) => [{ path: '/srv/ro', source: ro, readOnly: true }]);
  await t.throwsAsync(r.writeFile('/srv/ro/r', 'x'), { code: 'EROFS' });
  await t.throwsAsync(r.writeFile('/srv/ro/new', 'x'), { code: 'EROFS' });
  await t.throwsAsync(r.unlink('/srv/ro/r'), { code: 'EROFS' });
  await t.throwsAsync(r.chmod('/srv/ro', 0o700), { code: 'EROFS' });
  t.is(await r.readFile('/srv/ro/r', 'utf8'), 'read-only');
  await r.writeFile('/srv/beside', 'fine');
  t.deepEqual(await r.readdir('/srv'), ['beside', 'ro']);
});

test('renaming or linking across a mount boundary is EXDEV; a mount point itself is EBUSY', async (t) => {
  const { r } = await container(t, ({ vol }) => [{ path: '/data', source: vol, readOnly: false }]);
  await t.throwsAsync(r.rename('/data/v', '/v'), { code: 'EXDEV' });
  await t.throwsAsync(r.rename('/etc/hostname', '/data/hostname'), { code: 'EXDEV' });
  await t.throwsAsync(r.link('/data/v', '/v'), { code: 'EXDEV' });
  // vfs_rmdir refuses a mount point before the filesystem looks at its content.
  await t.throwsAsync(r.rmdir('/data'), { code: 'EBUSY' });
  await r.unlink('/data/v');
  await t.throwsAsync(r.rmdir('/data'), { code: 'EBUSY' });
  await t.throwsAsync(r.rm('/data', { recursive: true }), { code: 'EBUSY' });
  await t.throwsAsync(r.rename('/data', '/elsewhere'), { code: 'EBUSY' });
});

test('a file can be bind-mounted over an image file', async (t) => {
  const { r, dirs } = await container(t, ({ file }) => [{ path: '/etc/hostname', source: file, readOnly: false }]);
  t.is(await r.readFile('/etc/hostname', 'utf8'), 'bound');
  await r.writeFile('/etc/hostname', 'changed');
  t.is(await fs.readFile(dirs.file, 'utf8'), 'changed');
  await t.throwsAsync(r.unlink('/etc/hostname'), { code: 'EBUSY' });
});

test('a mount point whose parents no layer has appears with them', async (t) => {
  const { r } = await container(t, ({ vol }) => [{ path: '/mnt/cache/vol', source: vol, readOnly: false }]);
  t.deepEqual(await r.readdir('/mnt'), ['cache']);
  t.deepEqual(await r.readdir('/mnt/cache'), ['vol']);
  t.is(await r.readFile('/mnt/cache/vol/v', 'utf8'), 'volume');
  await r.writeFile('/mnt/cache/note', 'made the parents real');
  t.like(await r.lstat('/mnt/cache'), { type: 'dir', layer: 'upper' });
});

test('a symlink inside a volume resolves inside the container root, not on the host', async (t) => {
  const { r, dirs } = await container(t, ({ vol }) => [{ path: '/data', source: vol, readOnly: false }]);
  await fs.symlink('/etc/hostname', path.join(dirs.vol, 'abs'));
  await fs.symlink('../../../../etc/hostname', path.join(dirs.vol, 'climb'));
  t.is(await r.readFile('/data/abs', 'utf8'), 'image');
  t.is(await r.readFile('/data/climb', 'utf8'), 'image');
  t.is(await r.realpath('/data/climb'), '/etc/hostname');
});

test('a mount at the container root serves a plain directory without decoding whiteouts', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-plain-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  await buildLayer(root, [f('/.wh.looks-like-a-whiteout', ''), ln('/l', '/.wh.looks-like-a-whiteout')], 'oci');
  const r = new Resolver({ lowerDirs: [], format: 'oci', mounts: [{ path: '/', source: root, readOnly: true }] });
  t.deepEqual(await r.readdir('/'), ['.wh.looks-like-a-whiteout', 'l']);
  t.is(await r.readFile('/l', 'utf8'), '');
  await t.throwsAsync(r.writeFile('/x', 'y'), { code: 'EROFS' });
});
