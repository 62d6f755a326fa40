import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot, strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerInput } from '../helpers/image-builder.js';
import { dirManifest } from '../helpers/fs-manifest.js';
import { layerLines } from '../helpers/layer-listing.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { fuseOverlaySkipReason, mountsUnder, realMerged, unmountAllOnTeardown } from '../helpers/mounts.js';
import { handOver, NOBODY, sharedTempDir, strataUnprivileged, unprivilegedSkipReason } from '../helpers/unprivileged.js';
import { removeTree } from '../../src/store/atomic.js';

const run = promisify(execFile);

/**
 * A store in the `.wh.` encoding (every rootless store) is mounted with fuse-overlayfs,
 * which reads that encoding as the resolver does: the mounted tree is what export
 * writes, as root and as an unprivileged user (whose mount is made by fusermount3 in
 * the host's namespace, where the user's shell sees it).
 */
const LAYERS: LayerInput[] = [
  [
    { path: 'etc/', mode: 0o755 },
    { path: 'etc/os-release', content: 'ID=strata\n' },
    { path: 'srv/', mode: 0o755 },
    { path: 'srv/old/', mode: 0o755 },
    { path: 'srv/old/a.txt', content: 'a' },
    { path: 'srv/keep.txt', content: 'keep' },
    { path: 'srv/link', type: 'symlink', linkname: 'keep.txt' },
  ],
  [
    { path: 'srv/keep.txt', type: 'whiteout' },
    { path: 'srv/old/', type: 'opaque' },
    { path: 'srv/old/b.txt', content: 'b' },
    { path: 'etc/os-release', content: 'ID=strata\nVERSION=2\n' },
  ],
];

const isRoot = process.geteuid?.() === 0;
const asRoot = testUnless(firstReason(isRoot ? null : 'needs root (the unprivileged case runs below)', await fuseOverlaySkipReason()));

async function nobodyFuseReason(): Promise<string | null> {
  const why = firstReason(await fuseOverlaySkipReason(), await unprivilegedSkipReason());
  if (why !== null) return why;
  if (!isRoot) return null;
  // fuse-overlayfs opens /dev/fuse itself before handing the mount to fusermount3.
  const probe = await run('setpriv', [
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    '--clear-groups',
    'test',
    '-r',
    '/dev/fuse',
    '-a',
    '-w',
    '/dev/fuse',
  ]).then(
    () => null,
    () => `/dev/fuse is not open to unprivileged users here (mode ${(fs.statSync('/dev/fuse').mode & 0o777).toString(8)})`,
  );
  return probe;
}
const asNobody = testUnless(await nobodyFuseReason());

async function exportedTree(dir: string, tar: string): Promise<string[]> {
  const out = path.join(dir, 'export');
  await fsp.mkdir(out);
  await run('tar', ['-xpf', tar, '-C', out, '--numeric-owner']);
  return dirManifest(out);
}

asRoot('as root, a .wh.-encoded store mounts with fuse-overlayfs; the tree equals export and ps -s sees writes', async (t) => {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: 'oci' });
  unmountAllOnTeardown(t, dir, store);
  const s = (args: string[]) => strata(store.root, args);
  await fsp.writeFile(path.join(dir, 'app.tar'), await buildImage({ format: 'oci', repoTags: ['app:1'], layers: LAYERS }));
  t.is((await s(['load', '-i', path.join(dir, 'app.tar')])).code, 0);
  t.is((await s(['create', '--name', 'c1', 'app:1'])).code, 0);
  t.is(await psSize(s), 0);
  const mounted = await s(['mount', 'c1']);
  t.is(mounted.code, 0, mounted.stderr);
  const merged = mounted.stdout.trim();
  const [entry, ...more] = mountsUnder(dir);
  t.deepEqual([entry?.mountPoint, entry?.fsType, more.length], [realMerged(merged), 'fuse.fuse-overlayfs', 0]);
  t.is((await s(['export', '-o', path.join(dir, 'c1.tar'), 'c1'])).code, 0);
  t.deepEqual(await dirManifest(merged), await exportedTree(dir, path.join(dir, 'c1.tar')));
  t.deepEqual(fs.readdirSync(path.join(merged, 'srv')).sort(), ['link', 'old']);
  t.deepEqual(fs.readdirSync(path.join(merged, 'srv/old')), ['b.txt']);
  fs.writeFileSync(path.join(merged, 'srv/new.txt'), 'n'.repeat(300));
  t.is(await psSize(s), 300);
  t.is((await s(['umount', 'c1'])).code, 0);
  t.deepEqual(mountsUnder(dir), []);
  t.deepEqual((await s(['diff', 'c1'])).stdout.trim().split('\n'), ['C /srv', 'A /srv/new.txt']);
});

asNobody('an unprivileged user mounts a .wh.-encoded store with fuse-overlayfs; the tree equals export', async (t) => {
  const dir = await sharedTempDir('strata-fuse-nobody-');
  t.teardown(() => removeTree(dir));
  unmountAllOnTeardown(t, dir);
  const root = path.join(dir, 'store');
  const home = path.join(dir, 'home');
  await fsp.mkdir(home);
  await fsp.writeFile(path.join(dir, 'app.tar'), await buildImage({ format: 'oci', repoTags: ['app:1'], layers: LAYERS }));
  await handOver(dir);
  const s = (args: string[]) => strataUnprivileged(root, args, home);
  t.is((await s(['load', '-i', path.join(dir, 'app.tar')])).code, 0);
  t.is((await s(['create', '--name', 'c1', 'app:1'])).code, 0);
  const mounted = await s(['mount', 'c1']);
  t.is(mounted.code, 0, mounted.stderr);
  const merged = mounted.stdout.trim();
  t.is(mountsUnder(dir)[0]?.fsType, 'fuse.fuse-overlayfs');
  t.is((await s(['export', '-o', path.join(dir, 'c1.tar'), 'c1'])).code, 0);
  // A fuse mount is the user's alone (root included is kept out): list both trees as that user.
  const manifest = async (tree: string) => {
    const script = `import(${JSON.stringify(path.join(repoRoot, 'dist/test/helpers/fs-manifest.js'))}).then(async (m) => console.log(JSON.stringify(await m.dirManifest(${JSON.stringify(tree)}))))`;
    const user = isRoot ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'] : [];
    const { stdout } = await run(user[0] ?? process.execPath, [...user.slice(1), ...(isRoot ? [process.execPath] : []), '-e', script]);
    return JSON.parse(stdout) as string[];
  };
  const out = path.join(dir, 'export');
  await fsp.mkdir(out);
  await handOver(out);
  const user = isRoot ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'] : [];
  await run(user[0] ?? 'tar', [...user.slice(1), ...(isRoot ? ['tar'] : []), '-xpf', path.join(dir, 'c1.tar'), '-C', out]);
  t.deepEqual(await manifest(merged), await manifest(out));
  t.is((await s(['mount'])).stdout.trim().split(' ')[1], merged);
  t.is((await s(['umount', 'c1'])).code, 0);
  t.deepEqual(mountsUnder(dir), []);
});

async function psSize(s: (args: string[]) => Promise<{ stdout: string }>): Promise<number> {
  return JSON.parse((await s(['ps', '-a', '-s', '--format', 'json'])).stdout.trim()).Size as number;
}

asRoot(
  'as root, deletions through fuse-overlayfs in a .wh.-encoded store read as the resolver makes them: diff, size and commit agree',
  async (t) => {
    const { store, dir } = await tmpStore(t, { whiteoutFormat: 'oci' });
    unmountAllOnTeardown(t, dir, store);
    const s = (args: string[]) => strata(store.root, args);
    await fsp.writeFile(path.join(dir, 'app.tar'), await buildImage({ format: 'oci', repoTags: ['app:1'], layers: LAYERS }));
    t.is((await s(['load', '-i', path.join(dir, 'app.tar')])).code, 0);
    for (const name of ['c1', 'c2']) t.is((await s(['create', '--name', name, 'app:1'])).code, 0);
    const merged = (await s(['mount', 'c1'])).stdout.trim();
    fs.rmSync(path.join(merged, 'etc/os-release'));
    fs.rmSync(path.join(merged, 'srv/old'), { recursive: true });
    fs.mkdirSync(path.join(merged, 'srv/old'));
    fs.chmodSync(path.join(merged, 'srv/old'), 0o755);
    fs.writeFileSync(path.join(merged, 'srv/old/new.txt'), 'new\n');
    const fuseTree = await dirManifest(merged);
    t.is((await s(['umount', 'c1'])).code, 0);

    const host = path.join(dir, 'new.txt');
    fs.writeFileSync(host, 'new\n');
    t.is((await s(['fs', 'rm', 'c2', '/etc/os-release'])).code, 0);
    t.is((await s(['fs', 'rm', '-r', 'c2', '/srv/old'])).code, 0);
    t.is((await s(['fs', 'mkdir', '-m', '755', 'c2', '/srv/old'])).code, 0);
    t.is((await s(['cp', host, 'c2:/srv/old/new.txt'])).code, 0);

    const c2 = (await s(['mount', 'c2'])).stdout.trim();
    t.deepEqual(await dirManifest(c2), fuseTree);
    t.is((await s(['umount', 'c2'])).code, 0);
    t.is((await s(['diff', 'c1'])).stdout, (await s(['diff', 'c2'])).stdout);
    t.is(JSON.parse((await s(['ps', '-a', '-s', '--filter', 'name=c1', '--format', 'json'])).stdout).Size, 4);
    t.is((await s(['commit', 'c1', 'app:fuse'])).code, 0, 'commit c1');
    t.is((await s(['commit', 'c2', 'app:resolver'])).code, 0);
    t.deepEqual(await layerLines(store, 'app:fuse'), await layerLines(store, 'app:resolver'));
    // Where fuse-overlayfs left its 0/0 device, the resolver writes the file again.
    t.is((await s(['cp', host, 'c1:/etc/os-release'])).code, 0);
    t.is((await s(['fs', 'cat', 'c1', '/etc/os-release'])).stdout, 'new\n');
    t.deepEqual((await s(['diff', 'c1'])).stdout.split('\n').slice(0, 2), ['C /etc', 'C /etc/os-release']);
  },
);
