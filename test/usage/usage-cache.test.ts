import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { startContainer, stopContainer } from '../../src/container/lifecycle.js';
import { containerDirs, containerUsageFiles, type ContainerRecord } from '../../src/container/record.js';
import { diskUsage } from '../../src/usage/df.js';
import { checkStore } from '../../src/check/check.js';
import type { Store } from '../../src/store/root.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { bothFormats } from '../helpers/both-formats.js';
import { strata } from '../helpers/cli.js';
import { kernelOverlaySkipReason, mountOverlay } from '../helpers/kernel-overlay.js';
import { testUnless } from '../helpers/skip.js';

const kernelMissing = await kernelOverlaySkipReason();

// Every figure below follows from these sizes: the image holds /data/old.txt (400 B);
// a file written behind strata's back into upper/ is 1000 B.
const OLD = 400;
const SNEAKED = 1000;

async function lab(t: ExecutionContext, format: WhiteoutFormat = 'oci'): Promise<{ store: Store; c: ContainerRecord; dir: string }> {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: format });
  const file = path.join(dir, 'img.tar');
  await fs.writeFile(
    file,
    await buildImage({
      format: 'oci',
      repoTags: ['img:1'],
      layers: [
        [
          { path: 'data/', type: 'dir' },
          { path: 'data/old.txt', size: OLD, seed: 1 },
        ],
      ],
    }),
  );
  await loadImages(store, { path: file });
  const c = await createContainer(store, 'img:1', { name: 'web' });
  return { store, c, dir };
}

/** Docker's SIZE of the container as `system df -v --format json` prints it. */
async function dfSize(store: Store, args: string[] = []): Promise<number> {
  const out = await strata(store.root, ['system', 'df', '-v', '--format', 'json', ...args]);
  return (JSON.parse(out.stdout) as { Containers: { Names: string; Size: number }[] }).Containers.find((x) => x.Names === 'web')!.Size;
}

/** A write into upper/ that strata does not see: what root editing the directory does. */
async function sneak(store: Store, c: ContainerRecord, name = 'sneaked.bin'): Promise<void> {
  await fs.writeFile(path.join(containerDirs(store, c.id).upper, name), Buffer.alloc(SNEAKED));
}

bothFormats(
  "a second df trusts the cache: a file written into upper/ behind strata's back shows only with --no-cache",
  async (t, format) => {
    const { store, c } = await lab(t, format);
    await (await containerView(store, c)).writeFile('/new.txt', 'n'.repeat(10));
    t.is(await dfSize(store), 10);
    await sneak(store, c);
    t.is(await dfSize(store), 10, 'unchanged as far as strata knows: the cached figure');
    t.is((await diskUsage(store)).containers[0]!.usage.sizeRw, 10, 'the library reads the same cache');
    t.is(await dfSize(store, ['--no-cache']), 10 + SNEAKED, '--no-cache walks the upper');
    t.is((await diskUsage(store, { noCache: true })).containers[0]!.usage.sizeRw, 10 + SNEAKED);
    const ps = JSON.parse((await strata(store.root, ['ps', '-a', '-s', '--no-cache', '--format', 'json'])).stdout) as { Size: number };
    t.is(ps.Size, 10 + SNEAKED, 'ps -s --no-cache too');
  },
);

test('a write through strata (fs write, cp, fs rm) counts at once, with what was sneaked in before it', async (t) => {
  const { store, c, dir } = await lab(t);
  t.is(await dfSize(store), 0);
  await sneak(store, c);
  t.is(await dfSize(store), 0);
  t.is((await strata(store.root, ['fs', 'write', 'web', '/w.txt'], { stdin: Buffer.from('w'.repeat(20)) })).code, 0);
  t.is(await dfSize(store), SNEAKED + 20, 'the change token moved: the upper is walked again');

  const host = path.join(dir, 'host.txt');
  await fs.writeFile(host, 'h'.repeat(30));
  t.is((await strata(store.root, ['cp', host, 'web:/h.txt'])).code, 0);
  t.is(await dfSize(store), SNEAKED + 20 + 30);
  const copied = JSON.parse((await strata(store.root, ['ps', '-a', '-s', '--format', 'json'])).stdout) as { Size: number };
  t.is(copied.Size, SNEAKED + 20 + 30, 'ps -s reads the same cache');

  t.is((await strata(store.root, ['fs', 'rm', 'web', '/data/old.txt'])).code, 0);
  const json = JSON.parse((await strata(store.root, ['system', 'df', '-v', '--format', 'json'])).stdout) as {
    Containers: { Hidden: number }[];
  };
  t.is(json.Containers[0]!.Hidden, OLD, 'the whiteout made through strata is counted');
});

test('a failed change through strata still makes df measure again', async (t) => {
  const { store, c } = await lab(t);
  t.is(await dfSize(store), 0);
  await sneak(store, c);
  const result = await strata(store.root, ['fs', 'mkdir', 'web', '/data/old.txt']);
  t.is(result.code, 1, 'mkdir over a file fails');
  t.is(await dfSize(store), SNEAKED, 'the token is rewritten after a failed change too');
});

test('start and stop make df measure again; a running container is always measured', async (t) => {
  const { store, c } = await lab(t);
  t.is(await dfSize(store), 0);
  await sneak(store, c, 'before-start.bin');
  await startContainer(store, c.id);
  t.is(await dfSize(store), SNEAKED, 'start: a runtime may write from now on');
  await sneak(store, c, 'while-running.bin');
  t.is(await dfSize(store), 2 * SNEAKED, 'running: never from the cache');
  t.is(
    await fs.access(containerUsageFiles(store, c.id).cache).then(
      () => 'cached',
      () => 'none',
    ),
    'cached',
    'the cache from before start is still there …',
  );
  t.is((await diskUsage(store)).containers[0]!.usage.sizeRw, 2 * SNEAKED, '… and not trusted while running');
  await stopContainer(store, c.id);
  await sneak(store, c, 'at-stop.bin');
  t.is(await dfSize(store), 3 * SNEAKED, 'stop: what ran may have written');
});

test('a corrupt or torn usage.json is a miss, not an error, and is rewritten', async (t) => {
  const { store, c } = await lab(t);
  await (await containerView(store, c)).writeFile('/a.txt', 'a'.repeat(7));
  t.is(await dfSize(store), 7);
  const cacheFile = containerUsageFiles(store, c.id).cache;
  for (const garbage of ['', '{"version":1,"layers":[', 'null', '{"version":1}', '[]', '{"version":999}']) {
    await fs.writeFile(cacheFile, garbage);
    await sneak(store, c);
    const out = await strata(store.root, ['system', 'df', '-v', '--format', 'json']);
    t.is(out.code, 0, JSON.stringify(garbage));
    t.is(out.stderr, '');
    t.is(
      (JSON.parse(out.stdout) as { Containers: { Size: number }[] }).Containers[0]!.Size,
      7 + SNEAKED,
      `a miss for ${JSON.stringify(garbage)}`,
    );
    t.is((JSON.parse(await fs.readFile(cacheFile, 'utf8')) as { usage: { sizeRw: number } }).usage.sizeRw, 7 + SNEAKED);
  }
  // A valid cache whose token no longer matches (a torn token file reads as no token).
  await fs.writeFile(containerUsageFiles(store, c.id).token, '');
  await sneak(store, c, 'other.bin');
  t.is(await dfSize(store), 7 + 2 * SNEAKED, 'an unreadable token never matches');
});

test('df prints correct figures where the cache cannot be written', async (t) => {
  const { store, c } = await lab(t);
  await (await containerView(store, c)).writeFile('/a.txt', 'a'.repeat(7));
  // A directory where the cache file goes: the rename over it fails, as on a read-only or full disk.
  await fs.mkdir(path.join(containerUsageFiles(store, c.id).cache, 'blocker'), { recursive: true });
  t.is(await dfSize(store), 7);
  await sneak(store, c);
  t.is(await dfSize(store), 7 + SNEAKED, 'nothing cached, so every df walks');
  const leftovers = (await fs.readdir(store.paths.containerDir(c.id))).filter((n) => n.startsWith('.tmp-'));
  t.deepEqual(leftovers, [], 'the failed write left no temp file');
});

test('rm removes the cache with the container; check is clean with caches present', async (t) => {
  const { store, c } = await lab(t);
  await (await containerView(store, c)).writeFile('/a.txt', 'a');
  const other = await createContainer(store, 'img:1', { name: 'db' });
  await (await containerView(store, other)).writeFile('/b.txt', 'b');
  t.is((await strata(store.root, ['system', 'df'])).code, 0);
  for (const id of [c.id, other.id]) {
    for (const f of Object.values(containerUsageFiles(store, id)))
      t.true(
        await fs.access(f).then(
          () => true,
          () => false,
        ),
        f,
      );
  }
  const report = await checkStore(store);
  t.deepEqual(report.problems, []);
  t.is((await strata(store.root, ['check'])).code, 0);
  t.is((await strata(store.root, ['rm', 'web'])).code, 0);
  await t.throwsAsync(fs.access(store.paths.containerDir(c.id)));
  t.deepEqual((await checkStore(store)).problems, []);
});

testUnless(kernelMissing)('a kernel overlay mount of the upper is seen: while mounted, and after it is gone', async (t) => {
  const { store, c, dir } = await lab(t, 'overlay');
  t.is(await dfSize(store), 0);
  const layerDir = store.paths.layerDiff(c.layers[0]!);
  const dirs = containerDirs(store, c.id);
  const target = path.join(dir, 'merged');
  await fs.mkdir(target);

  // Mounted, written, unmounted between two dfs: overlayfs re-created work/work.
  let mount = await mountOverlay({ lowerDirs: [layerDir], upperDir: dirs.upper, workDir: dirs.work, target });
  try {
    await fs.writeFile(path.join(target, 'k1.bin'), Buffer.alloc(SNEAKED));
  } finally {
    await mount.unmount();
  }
  t.is(await dfSize(store), SNEAKED, 'a mount since the last df invalidates the cache');

  // Mounted now: every df measures, and the cache stays distrusted after the unmount.
  mount = await mountOverlay({ lowerDirs: [layerDir], upperDir: dirs.upper, workDir: dirs.work, target });
  try {
    t.is(await dfSize(store), SNEAKED);
    await fs.writeFile(path.join(target, 'k2.bin'), Buffer.alloc(SNEAKED));
    t.is(await dfSize(store), 2 * SNEAKED, 'mounted: never from the cache');
    await fs.writeFile(path.join(target, 'k3.bin'), Buffer.alloc(SNEAKED));
  } finally {
    await mount.unmount();
  }
  t.is(await dfSize(store), 3 * SNEAKED, 'written after the last df while mounted: still seen');
  t.is(await dfSize(store), 3 * SNEAKED);
});
