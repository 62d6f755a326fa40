import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { testUnless } from '../helpers/skip.js';
import { kernelMountSkipReason, mountsUnder, realMerged, unmountAllOnTeardown } from '../helpers/mounts.js';
import { runDir } from '../../src/mount/run-dir.js';

const run = promisify(execFile);

/**
 * check finds every mount strata cannot account for — a view nobody holds, a mount of
 * a removed container — and holds on nothing; --repair unmounts and drops them, and
 * the store then checks clean with nothing left in mountinfo.
 */
const withKernel = testUnless(await kernelMountSkipReason());

async function setup(t: ExecutionContext) {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: 'overlay' });
  unmountAllOnTeardown(t, dir, store);
  const s = (args: string[]) => strata(store.root, args);
  await fsp.writeFile(
    path.join(dir, 'app.tar'),
    await buildImage({ format: 'oci', repoTags: ['app:1'], layers: [[{ path: 'f', content: 'f' }]] }),
  );
  t.is((await s(['load', '-i', path.join(dir, 'app.tar')])).code, 0);
  const id = (await s(['create', '--name', 'c1', 'app:1'])).stdout.trim();
  const holds = path.join(runDir(store), `${id}.json`);
  return { store, dir, s, id, holds };
}

async function repairedClean(t: ExecutionContext, s: (args: string[]) => Promise<{ code: number; stdout: string }>, dir: string) {
  const repaired = await s(['check', '--repair']);
  t.is(repaired.code, 0, repaired.stdout);
  t.deepEqual(mountsUnder(dir), []);
  const again = await s(['check']);
  t.is(again.code, 0, again.stdout);
  t.is(again.stdout, '');
  return repaired.stdout;
}

withKernel('a mounted view whose holds are gone: check reports it, repair unmounts it', async (t) => {
  const { dir, s, holds } = await setup(t);
  const merged = realMerged((await s(['mount', 'c1'])).stdout.trim());
  fs.rmSync(holds);
  const checked = await s(['check']);
  t.is(checked.code, 1);
  t.is(checked.stdout, `${merged}: mounted, but no strata mount or process holds it\n`);
  t.is(await repairedClean(t, s, dir), `unmounted ${merged} (no holder)\n`);
});

withKernel('a mount held by a process that died: check reports it, repair unmounts it', async (t) => {
  const { store, dir, s } = await setup(t);
  const mountModule = new URL('../../src/mount/mount.js', import.meta.url).href;
  const rootModule = new URL('../../src/store/root.js', import.meta.url).href;
  // A process takes a process hold (as a runtime would) and ends without releasing it.
  const script = `const { openStore } = await import(${JSON.stringify(rootModule)});
    const { mountContainer } = await import(${JSON.stringify(mountModule)});
    const store = await openStore({ root: ${JSON.stringify(store.root)} });
    console.log((await mountContainer(store, 'c1', { heldBy: 'process' })).mergedDir);`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
  const merged = realMerged(stdout.trim());
  t.deepEqual(
    mountsUnder(dir).map((m) => m.mountPoint),
    [merged],
  );
  t.is((await s(['mount'])).stdout.split(' ')[1]?.trim(), stdout.trim());
  const checked = await s(['check']);
  t.is(checked.stdout, `${merged}: mounted, but no strata mount or process holds it\n`);
  t.is(await repairedClean(t, s, dir), `unmounted ${merged} (no holder)\n`);
});

withKernel('a mount left under a removed container: repair unmounts it before removing the directory', async (t) => {
  const { store, dir, s, id, holds } = await setup(t);
  await s(['mount', 'c1']);
  // What a removal interrupted after its rename to trash, by an older strata, leaves.
  const trash = path.join(store.paths.containersDir, `.rm-000000000000-${id}`);
  fs.renameSync(store.paths.containerDir(id), trash);
  const point = path.join(fs.realpathSync(trash), 'merged');
  const checked = await s(['check']);
  t.is(checked.code, 1);
  t.deepEqual(checked.stdout.trim().split('\n').sort(), [
    `${holds}: holds a mount, but the container is removed`,
    `${point}: mounted, but container .rm-000000000000-${id} is removed`,
    `${trash}: leftover of an interrupted operation`,
  ]);
  const fixed = await repairedClean(t, s, dir);
  t.deepEqual(fixed.trim().split('\n'), [
    `unmounted ${point} (container .rm-000000000000-${id} is removed)`,
    `dropped stale mount holds ${holds} (container is removed)`,
    `removed leftover ${trash}`,
  ]);
  t.false(fs.existsSync(trash));
  t.false(fs.existsSync(holds));
});

withKernel('holds on a view unmounted by hand: check reports them, repair drops them', async (t) => {
  const { dir, s, holds } = await setup(t);
  const merged = (await s(['mount', 'c1'])).stdout.trim();
  await run('umount', [merged]);
  const checked = await s(['check']);
  t.is(checked.code, 1);
  t.is(checked.stdout, `${holds}: holds a mount, but the container is not mounted\n`);
  t.is(await repairedClean(t, s, dir), `dropped stale mount holds ${holds} (container is not mounted)\n`);
  t.false(fs.existsSync(holds));
});

withKernel('a held mount is no problem: check is clean while it is mounted', async (t) => {
  const { dir, s } = await setup(t);
  await s(['mount', 'c1']);
  const checked = await s(['check']);
  t.is(checked.code, 0, checked.stdout);
  t.is(mountsUnder(dir).length, 1);
});
