import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Resolver, listTree, readUpperMeta, type LayerMetadata } from '../../src/resolver/index.js';
import { testUnless } from '../helpers/skip.js';
import { buildLayer, d, f } from './suite.js';

/**
 * A rootless unpack cannot chown or mknod; layer.json records what it could not
 * apply and the resolver reports it (layers 'unapplied' → stat). These tests build
 * such a layer by hand: an empty placeholder file where the device node would be.
 */
const recorded: LayerMetadata = {
  owners: { '/home/app/file': { uid: 1000, gid: 1001 }, '/home/app': { uid: 1000, gid: 1000 } },
  devices: {
    '/dev/null': { type: 'char', major: 1, minor: 3, mode: 0o666 },
    '/dev/sda': { type: 'block', major: 8, minor: 0, mode: 0o660 },
  },
  xattrs: {},
};

async function rootlessLayer(t: { teardown(fn: () => Promise<void>): void }, rootless: boolean) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-meta-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  const lower = path.join(root, 'lower');
  await buildLayer(
    lower,
    [d('/home/app'), f('/home/app/file', 'data'), f('/unrecorded', 'x'), d('/dev'), f('/dev/null', '', 0o600), f('/dev/sda', '', 0o600)],
    'oci',
  );
  const upperDir = path.join(root, 'upper');
  await fs.mkdir(upperDir);
  const r = new Resolver({
    lowerDirs: [lower],
    upperDir,
    workDir: path.join(root, 'work'),
    format: 'oci',
    rootless,
    lowerMetadata: [recorded],
    privileged: process.geteuid?.() === 0,
  });
  return { r, lower, upperDir };
}

test('stat reports ownership a rootless unpack recorded, and 0:0 for the rest', async (t) => {
  const { r } = await rootlessLayer(t, true);
  t.like(await r.lstat('/home/app/file'), { uid: 1000, gid: 1001, layer: 0 });
  t.like(await r.lstat('/home/app'), { uid: 1000, gid: 1000 });
  t.like(await r.lstat('/unrecorded'), { uid: 0, gid: 0 });
});

test('recorded devices show as device nodes with their numbers and mode', async (t) => {
  const { r } = await rootlessLayer(t, true);
  t.like(await r.lstat('/dev/null'), { type: 'char', rdev: 0x103, mode: 0o666, size: 0 });
  t.like(await r.lstat('/dev/sda'), { type: 'block', rdev: 0x800, mode: 0o660 });
  t.deepEqual(await r.readdir('/dev', { withFileTypes: true }), [
    { name: 'null', type: 'char' },
    { name: 'sda', type: 'block' },
  ]);
  const rows = await listTree(r, '/dev');
  t.deepEqual(
    rows.map((row) => [row.path, row.type, row.mode]),
    [
      ['/null', 'char', 0o666],
      ['/sda', 'block', 0o660],
    ],
  );
  await t.throwsAsync(r.readFile('/dev/null'), { code: 'EINVAL' });
});

test('rootless copy-up keeps what was recorded, on the upper copy', async (t) => {
  const { r, upperDir } = await rootlessLayer(t, true);
  await r.chmod('/home/app/file', 0o600);
  await r.chmod('/dev/null', 0o644);
  t.like(await r.lstat('/home/app/file'), { uid: 1000, gid: 1001, mode: 0o600, layer: 'upper' });
  t.like(await r.lstat('/home/app'), { uid: 1000, gid: 1000, layer: 'upper' });
  t.like(await r.lstat('/dev/null'), { type: 'char', rdev: 0x103, mode: 0o644, layer: 'upper' });
  t.deepEqual(await readUpperMeta(path.join(upperDir, 'home/app/file')), { uid: 1000, gid: 1001 });
});

test('rootless chown records the owner instead of failing', async (t) => {
  const { r, upperDir } = await rootlessLayer(t, true);
  await r.writeFile('/made', 'x');
  await r.chown('/made', 33, -1);
  await r.chown('/unrecorded', 7, 8);
  t.like(await r.lstat('/made'), { uid: 33, gid: 0 });
  t.like(await r.lstat('/unrecorded'), { uid: 7, gid: 8 });
  t.is((await fs.lstat(path.join(upperDir, 'made'))).uid, process.getuid?.() ?? 0, 'the host file keeps its real owner');
});

testUnless(process.getuid?.() === 0 ? null : 'needs root to give a layer file another owner')(
  'without rootless, unrecorded entries show their real owner',
  async (t) => {
    const { r, lower } = await rootlessLayer(t, false);
    await fs.chown(path.join(lower, 'unrecorded'), 4321, 4322);
    t.like(await r.lstat('/unrecorded'), { uid: 4321, gid: 4322 });
    t.like(await r.lstat('/home/app/file'), { uid: 1000, gid: 1001 });
    await r.chmod('/unrecorded', 0o600);
    t.like(await r.lstat('/unrecorded'), { uid: 4321, gid: 4322, layer: 'upper' }, 'root copy-up keeps the owner');
  },
);
