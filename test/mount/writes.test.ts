import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerInput } from '../helpers/image-builder.js';
import { dirManifest } from '../helpers/fs-manifest.js';
import { layerLines } from '../helpers/layer-listing.js';
import { testUnless } from '../helpers/skip.js';
import { kernelMountSkipReason, mountsUnder, unmountAllOnTeardown } from '../helpers/mounts.js';
import { xattr } from '../../src/xattr.js';

/**
 * While mounted, the kernel writes upper/: what a process does through the mount is
 * what diff, ps -s, system df and commit report — the kernel's own whiteouts (0/0
 * devices sharing one inode) and opaque xattrs included — and a size cached before
 * the mount is never served while the upper can change under it.
 */
const withKernel = testUnless(await kernelMountSkipReason());

const LAYERS: LayerInput[] = [
  [
    { path: 'etc/', mode: 0o755 },
    { path: 'etc/os-release', content: 'ID=strata\n' },
    { path: 'bin/', mode: 0o755 },
    { path: 'bin/tool', content: 'tool\n', mode: 0o755 },
    { path: 'srv/', mode: 0o755 },
    { path: 'srv/old/', mode: 0o755 },
    { path: 'srv/old/a.txt', content: 'a' },
    { path: 'srv/old/deep/', mode: 0o755 },
    { path: 'srv/old/deep/b.txt', content: 'b' },
  ],
  [{ path: 'srv/old/c.txt', content: 'c' }],
];

async function setup(t: ExecutionContext) {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: 'overlay' });
  unmountAllOnTeardown(t, dir, store);
  const s = (args: string[]) => strata(store.root, args);
  await fsp.writeFile(path.join(dir, 'app.tar'), await buildImage({ format: 'oci', repoTags: ['app:1'], layers: LAYERS }));
  t.is((await s(['load', '-i', path.join(dir, 'app.tar')])).code, 0);
  for (const name of ['c1', 'c2']) t.is((await s(['create', '--name', name, 'app:1'])).code, 0);
  return { store, dir, s };
}

async function sizeRw(s: (args: string[]) => Promise<{ stdout: string }>, name: string): Promise<number> {
  const rows = (await s(['ps', '-a', '-s', '--format', 'json'])).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return rows.find((r) => r.Names === name).Size as number;
}

async function containersDf(s: (args: string[]) => Promise<{ stdout: string }>): Promise<number> {
  const rows = (await s(['system', 'df', '--format', 'json'])).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return rows.find((r) => r.Type === 'Containers').Size as number;
}

withKernel(
  'writes through the mount land in upper/; ps -s, system df, diff and commit see them, cached sizes are not trusted',
  async (t) => {
    const { store, dir, s } = await setup(t);
    // Measured (and cached) before anything is mounted.
    t.is(await sizeRw(s, 'c1'), 0);
    t.is(await containersDf(s), 0);
    const merged = (await s(['mount', 'c1'])).stdout.trim();
    const upper = JSON.parse((await s(['inspect', 'c1'])).stdout)[0].GraphDriver.Data.UpperDir as string;
    fs.writeFileSync(path.join(merged, 'srv/written.txt'), 'w'.repeat(1000));
    t.is(fs.readFileSync(path.join(upper, 'srv/written.txt'), 'utf8'), 'w'.repeat(1000));
    t.is(await sizeRw(s, 'c1'), 1000);
    // Measured while mounted, then written again: still not served from a cache.
    fs.writeFileSync(path.join(merged, 'etc/extra'), 'e'.repeat(500));
    t.is(await sizeRw(s, 'c1'), 1500);
    t.is(await containersDf(s), 1500);
    t.deepEqual((await s(['diff', 'c1'])).stdout.trim().split('\n'), ['C /etc', 'A /etc/extra', 'C /srv', 'A /srv/written.txt']);
    t.is((await s(['umount', 'c1'])).code, 0);
    t.deepEqual(mountsUnder(dir), []);
    t.is(await sizeRw(s, 'c1'), 1500);
    const committed = await s(['commit', 'c1', 'app:written']);
    t.is(committed.code, 0, committed.stderr);
    t.deepEqual(await layerLines(store, 'app:written'), [
      'etc/ dir 0755 0:0',
      `etc/extra file 0644 0:0 500B`,
      'srv/ dir 0755 0:0',
      `srv/written.txt file 0644 0:0 1000B`,
    ]);
  },
);

withKernel(
  "the kernel's whiteouts and opaque dirs read as the resolver's own: diff, du and commit equal the same changes made by strata fs",
  async (t) => {
    const { store, dir, s } = await setup(t);
    const merged = (await s(['mount', 'c1'])).stdout.trim();
    // Through the kernel: delete two lower files (one shared whiteout inode), replace a lower dir.
    fs.rmSync(path.join(merged, 'etc/os-release'));
    fs.rmSync(path.join(merged, 'bin/tool'));
    fs.rmSync(path.join(merged, 'srv/old'), { recursive: true });
    fs.mkdirSync(path.join(merged, 'srv/old'), { mode: 0o755 });
    fs.writeFileSync(path.join(merged, 'srv/old/new.txt'), 'new\n');
    fs.chmodSync(path.join(merged, 'srv/old'), 0o755);
    const kernelTree = await dirManifest(merged);
    t.is((await s(['umount', 'c1'])).code, 0);
    t.deepEqual(mountsUnder(dir), []);

    const upper = store.paths.container(JSON.parse((await s(['inspect', 'c1'])).stdout)[0].Id).upper;
    const [wh1, wh2] = [fs.lstatSync(path.join(upper, 'etc/os-release')), fs.lstatSync(path.join(upper, 'bin/tool'))];
    t.true(wh1.isCharacterDevice() && wh1.rdev === 0 && wh2.isCharacterDevice() && wh2.rdev === 0);
    // Since Linux 5.8 the kernel links every whiteout to one 0/0 inode: commit must not make that a hardlink.
    t.is(wh1.ino, wh2.ino);
    t.is(xattr().getAttributeSync(path.join(upper, 'srv/old'), 'trusted.overlay.opaque')?.toString(), 'y');

    // The same changes through strata's own resolver, in c2.
    const host = path.join(dir, 'new.txt');
    fs.writeFileSync(host, 'new\n');
    t.is((await s(['fs', 'rm', 'c2', '/etc/os-release', '/bin/tool'])).code, 0);
    t.is((await s(['fs', 'rm', '-r', 'c2', '/srv/old'])).code, 0);
    t.is((await s(['fs', 'mkdir', '-m', '755', 'c2', '/srv/old'])).code, 0);
    t.is((await s(['cp', host, 'c2:/srv/old/new.txt'])).code, 0);

    // The resolver reads the kernel's upper as the kernel showed it.
    const c2 = (await s(['mount', 'c2'])).stdout.trim();
    t.deepEqual(await dirManifest(c2), kernelTree);
    t.is((await s(['umount', 'c2'])).code, 0);
    const diff1 = (await s(['diff', 'c1'])).stdout;
    t.is(diff1, (await s(['diff', 'c2'])).stdout);
    // What the opaque dir hides of the lowers is listed as deleted, as strata's diff does for its own opaque dirs.
    t.deepEqual(diff1.trim().split('\n'), [
      'C /bin',
      'D /bin/tool',
      'C /etc',
      'D /etc/os-release',
      'C /srv',
      'C /srv/old',
      'D /srv/old/a.txt',
      'D /srv/old/c.txt',
      'D /srv/old/deep',
      'A /srv/old/new.txt',
    ]);
    t.is(await sizeRw(s, 'c1'), 4);
    t.is(await sizeRw(s, 'c2'), 4);

    t.is((await s(['commit', 'c1', 'app:kernel'])).code, 0);
    t.is((await s(['commit', 'c2', 'app:resolver'])).code, 0);
    const lines = await layerLines(store, 'app:kernel');
    t.deepEqual(lines, [
      'bin/ dir 0755 0:0',
      'bin/.wh.tool file 0600 0:0 ""',
      'etc/ dir 0755 0:0',
      'etc/.wh.os-release file 0600 0:0 ""',
      'srv/ dir 0755 0:0',
      'srv/old/ dir 0755 0:0',
      'srv/old/.wh..wh..opq file 0755 0:0 ""',
      'srv/old/new.txt file 0644 0:0 "new\\n"',
    ]);
    t.deepEqual(await layerLines(store, 'app:resolver'), lines);
  },
);
