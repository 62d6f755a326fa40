import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { strata, strataProcess } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerInput } from '../helpers/image-builder.js';
import { dirManifest } from '../helpers/fs-manifest.js';
import { testUnless } from '../helpers/skip.js';
import { kernelMountSkipReason, mountsUnder, realMerged, unmountAllOnTeardown } from '../helpers/mounts.js';
import { runDir } from '../../src/mount/run-dir.js';

const run = promisify(execFile);

/**
 * `strata mount` / `umount` as root with the kernel's overlayfs: the printed path is
 * inspect's MergedDir, the mounted tree is what `export` writes, holds are shared
 * between processes, and nothing stays in mountinfo after umount or rm.
 */
const withKernel = testUnless(await kernelMountSkipReason());

const LAYERS: LayerInput[] = [
  [
    { path: 'etc/', mode: 0o755 },
    { path: 'etc/os-release', content: 'ID=strata\n' },
    { path: 'bin/', mode: 0o755 },
    { path: 'bin/tool', content: '#!/bin/sh\necho tool\n', mode: 0o755 },
    { path: 'bin/alias', type: 'symlink', linkname: 'tool' },
    { path: 'bin/hard', type: 'hardlink', linkname: 'bin/tool' },
    { path: 'srv/', mode: 0o750, uid: 33, gid: 33 },
    { path: 'srv/old/', mode: 0o755 },
    { path: 'srv/old/a.txt', content: 'a' },
    { path: 'srv/keep.txt', content: 'keep', uid: 33, gid: 33 },
  ],
  [
    { path: 'srv/keep.txt', type: 'whiteout' },
    { path: 'srv/new.txt', content: 'new' },
    { path: 'etc/os-release', content: 'ID=strata\nVERSION=2\n' },
  ],
  [
    { path: 'srv/old/', mode: 0o755 },
    { path: 'srv/old/', type: 'opaque' },
    { path: 'srv/old/b.txt', content: 'b' },
  ],
];

async function setup(t: ExecutionContext, layers: LayerInput[] = LAYERS) {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: 'overlay' });
  unmountAllOnTeardown(t, dir, store);
  const s = (args: string[]) => strata(store.root, args);
  await fsp.writeFile(path.join(dir, 'app.tar'), await buildImage({ format: 'oci', repoTags: ['app:1'], layers }));
  t.is((await s(['load', '-i', path.join(dir, 'app.tar')])).code, 0);
  const created = await s(['create', '--name', 'c1', 'app:1']);
  t.is(created.code, 0, created.stderr);
  return { store, dir, s, id: created.stdout.trim() };
}

/** The tree `strata export` writes, unpacked by GNU tar as root (owners, modes, links kept). */
async function exportedTree(s: (args: string[]) => Promise<{ code: number }>, dir: string, name: string): Promise<string[]> {
  const tar = path.join(dir, `${name}.tar`);
  const out = path.join(dir, `${name}-export`);
  t_ok(await s(['export', '-o', tar, name]));
  await fsp.mkdir(out);
  await run('tar', ['-xpf', tar, '-C', out, '--numeric-owner']);
  return dirManifest(out);
}

function t_ok(result: { code: number }): void {
  if (result.code !== 0) throw new Error(`strata exited ${result.code}`);
}

withKernel('mount prints inspect MergedDir, a private overlay mount whose tree equals export', async (t) => {
  const { dir, s, id } = await setup(t);
  const mounted = await s(['mount', 'c1']);
  t.is(mounted.code, 0, mounted.stderr);
  const merged = mounted.stdout.trim();
  const inspect = JSON.parse((await s(['inspect', 'c1'])).stdout)[0];
  t.is(merged, inspect.GraphDriver.Data.MergedDir);
  const [entry, ...more] = mountsUnder(dir);
  t.is(more.length, 0);
  t.is(entry?.mountPoint, realMerged(merged));
  t.is(entry?.fsType, 'overlay');
  t.true(entry?.superOptions.includes(`upperdir=${fs.realpathSync(inspect.GraphDriver.Data.UpperDir)}`));
  // No `shared:N` peer group: nothing mounted here propagates into other namespaces.
  const line = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === realMerged(merged));
  t.notRegex(line ?? '', / shared:\d+ /);
  t.deepEqual(await dirManifest(merged), await exportedTree(s, dir, 'c1'));
  t.is(fs.readFileSync(path.join(merged, 'etc/os-release'), 'utf8'), 'ID=strata\nVERSION=2\n');
  t.deepEqual(fs.readdirSync(path.join(merged, 'srv/old')), ['b.txt']);

  t.is((await s(['mount'])).stdout, `${id.slice(0, 12)} ${merged}\n`);
  t.is((await s(['mount', '--no-trunc'])).stdout, `${id} ${merged}\n`);
  t.deepEqual(JSON.parse((await s(['mount', '--format', 'json'])).stdout), [{ id, names: ['c1'], mountpoint: merged }]);

  t.is((await s(['umount', 'c1'])).stdout, `${id}\n`);
  t.deepEqual(mountsUnder(dir), []);
  t.is((await s(['mount'])).stdout, '');
  t.deepEqual(JSON.parse((await s(['mount', '--format', 'json'])).stdout), []);
});

withKernel('processes share one mount: it stays until the last holder unmounts, umount -f ends it at once', async (t) => {
  const { store, dir } = await setup(t);
  for (let i = 0; i < 3; i++) t.is((await strataProcess(store.root, ['mount', 'c1'])).code, 0);
  t.is(mountsUnder(dir).length, 1);
  t.is((await strataProcess(store.root, ['umount', 'c1'])).code, 0);
  t.is((await strataProcess(store.root, ['umount', 'c1'])).code, 0);
  t.is(mountsUnder(dir).length, 1);
  t.is((await strataProcess(store.root, ['umount', 'c1'])).code, 0);
  t.deepEqual(mountsUnder(dir), []);

  await strata(store.root, ['mount', 'c1']);
  await strata(store.root, ['mount', 'c1']);
  const forced = await strata(store.root, ['umount', '-f', 'c1']);
  t.is(forced.code, 0, forced.stderr);
  t.deepEqual(mountsUnder(dir), []);
  t.deepEqual(
    fs.readdirSync(runDir(store)).filter((n) => n.endsWith('.json')),
    [],
  );
});

withKernel('a mount dropped behind strata (umount by hand) voids its holds: the next mount and one umount', async (t) => {
  const { store, dir, s } = await setup(t);
  const merged = (await s(['mount', 'c1'])).stdout.trim();
  await s(['mount', 'c1']);
  await run('umount', [merged]);
  t.is((await s(['mount'])).stdout, '');
  t.is((await s(['mount', 'c1'])).stdout.trim(), merged);
  t.is((await s(['umount', 'c1'])).code, 0);
  t.deepEqual(mountsUnder(dir), []);
  t.false(fs.existsSync(path.join(runDir(store), `${(await s(['inspect', '-f', '{{.Id}}', 'c1'])).stdout.trim()}.json`)));
});

withKernel('umount of a busy mount refuses with one line; -f detaches it lazily', async (t) => {
  const { dir, s } = await setup(t);
  const merged = (await s(['mount', 'c1'])).stdout.trim();
  const fd = fs.openSync(path.join(merged, 'etc/os-release'), 'r');
  try {
    const busy = await s(['umount', 'c1']);
    t.is(busy.code, 1);
    t.regex(busy.stderr, /^strata: .*merged: still in use by a process; umount -f detaches it anyway\n$/);
    t.is(mountsUnder(dir).length, 1);
    t.is((await s(['umount', '-f', 'c1'])).code, 0);
    t.deepEqual(mountsUnder(dir), []);
    // Lazy: the open file still reads.
    t.is(fs.readFileSync(fd, 'utf8'), 'ID=strata\nVERSION=2\n');
  } finally {
    fs.closeSync(fd);
  }
});

withKernel('rm of a mounted container unmounts it and leaves nothing in mountinfo or the run dir', async (t) => {
  const { store, dir, s, id } = await setup(t);
  await s(['mount', 'c1']);
  await s(['mount', 'c1']);
  const removed = await s(['rm', 'c1']);
  t.is(removed.code, 0, removed.stderr);
  t.deepEqual(mountsUnder(dir), []);
  t.false(fs.existsSync(store.paths.containerDir(id)));
  t.false(fs.existsSync(path.join(runDir(store), `${id}.json`)));
  t.is((await s(['mount', 'c1'])).stderr, 'strata: No such container: c1\n');
});

withKernel('mount of an unknown container is one line and exit 1; umount of one not mounted is a no-op', async (t) => {
  const { s, id } = await setup(t);
  const missing = await s(['mount', 'nope']);
  t.is(missing.code, 1);
  t.is(missing.stderr, 'strata: No such container: nope\n');
  const idle = await s(['umount', 'c1']);
  t.is(idle.code, 0);
  t.is(idle.stdout, `${id}\n`);
  t.is((await s(['mount', '--format', 'table'])).stderr, 'strata: invalid --format "table": only json is supported\n');
});

withKernel('processes mounting and unmounting at once: one mount while any holds it, none after the last umount', async (t) => {
  const { store, dir } = await setup(t);
  const mounted = await Promise.all(Array.from({ length: 6 }, () => strataProcess(store.root, ['mount', 'c1'])));
  t.deepEqual(
    mounted.map((r) => r.code),
    [0, 0, 0, 0, 0, 0],
  );
  t.is(new Set(mounted.map((r) => r.stdout)).size, 1);
  t.is(mountsUnder(dir).length, 1);
  const released = await Promise.all(Array.from({ length: 5 }, () => strataProcess(store.root, ['umount', 'c1'])));
  t.deepEqual(
    released.map((r) => r.code),
    [0, 0, 0, 0, 0],
  );
  t.is(mountsUnder(dir).length, 1);
  t.is((await strataProcess(store.root, ['umount', 'c1'])).code, 0);
  t.deepEqual(mountsUnder(dir), []);
  t.is((await strata(store.root, ['check'])).stdout, '');
});
