import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { loadImages } from '../../src/transfer/load.js';
import { removeImage } from '../../src/gc/remove-image.js';
import { createContainer } from '../../src/container/create.js';
import { collectGarbage } from '../../src/gc/sweep.js';
import { checkStore } from '../../src/check/check.js';
import { tempName } from '../../src/store/atomic.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import { strataProcess } from '../helpers/cli.js';

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/os-release', content: 'ID=gc\n' },
];

async function loadTwo(t: Parameters<typeof tmpStore>[0]) {
  const { store, dir } = await tmpStore(t);
  for (const [tag, top] of [
    ['one:1', 'one'],
    ['two:1', 'two'],
  ] as const) {
    const file = path.join(dir, `${top}.tar`);
    await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: [tag], layers: [base, [{ path: top, content: top }]] }));
    await loadImages(store, { path: file });
  }
  return { store, dir };
}

test('gc after rmi of every image leaves blobs/ and layers/ empty, and check is clean', async (t) => {
  const { store } = await loadTwo(t);
  // An unreferenced layer and blob, as a crash between commit and record would leave.
  await fs.mkdir(path.join(store.paths.layersDir, 'f'.repeat(64), 'diff'), { recursive: true });
  await fs.writeFile(path.join(store.paths.blobsDir, 'e'.repeat(64)), 'orphan');
  await removeImage(store, 'one:1');
  await removeImage(store, 'two:1');
  const report = await collectGarbage(store);
  t.deepEqual(report.removed.map((r) => r.kind).sort(), ['blob', 'layer']);
  t.deepEqual(await fs.readdir(store.paths.blobsDir), []);
  t.deepEqual(await fs.readdir(store.paths.layersDir), []);
  t.deepEqual((await checkStore(store)).problems, []);
});

test('gc stops between removals when interrupted; what it left is whole and the next gc finishes', async (t) => {
  const { store } = await loadTwo(t);
  // Unreferenced but sound blobs, as crashes between commit and record would leave.
  const orphanNames: string[] = [];
  for (let i = 0; i < 6; i++) {
    const content = `orphan ${i}`;
    orphanNames.push(createHash('sha256').update(content).digest('hex'));
    await fs.writeFile(path.join(store.paths.blobsDir, orphanNames[i]!), content);
  }
  const orphans = async () => (await fs.readdir(store.paths.blobsDir)).filter((n) => orphanNames.includes(n));
  const controller = new AbortController();
  const err = await t.throwsAsync(
    collectGarbage(store, {
      signal: controller.signal,
      onProgress: (done) => {
        if (done === 1) controller.abort('SIGINT');
      },
    }),
  );
  t.is((err as { code?: string }).code, 'EINTERRUPTED');
  t.regex(err!.message, /^gc interrupted after removing 1 of 6 items \(\d+ bytes reclaimed\)$/);
  t.is((await orphans()).length, 5, 'one removed, five left untouched');
  t.deepEqual((await checkStore(store)).problems, [], 'an interrupted gc leaves nothing half-removed');
  t.is((await collectGarbage(store)).removed.length, 5);
  t.deepEqual(await orphans(), []);
});

test('gc keeps the layers of an image a container still uses', async (t) => {
  const { store } = await loadTwo(t);
  await createContainer(store, 'one:1', { name: 'keeper' });
  await removeImage(store, 'one:1', { force: true });
  await removeImage(store, 'two:1');
  await collectGarbage(store);
  t.is((await fs.readdir(store.paths.layersDir)).length, 2, "base and one's top stay for the container");
  t.deepEqual(
    (await checkStore(store)).problems.map((p) => p.kind),
    [],
    'a container on a removed image is not an inconsistency',
  );
});

test('gc --dry-run removes nothing; leftovers go only after the grace period', async (t) => {
  const { store } = await loadTwo(t);
  const leftover = path.join(store.paths.layersDir, tempName());
  await fs.mkdir(path.join(leftover, 'diff'), { recursive: true });
  await fs.writeFile(path.join(leftover, 'diff', 'half'), 'x'.repeat(100));
  t.deepEqual((await collectGarbage(store)).removed, [], 'a fresh leftover may belong to a running load');
  const old = new Date(Date.now() - 2 * 3600_000);
  await fs.utimes(leftover, old, old);
  const dry = await collectGarbage(store, { dryRun: true });
  t.deepEqual(
    dry.removed.map((r) => [r.kind, r.bytes]),
    [['leftover', 100]],
  );
  await fs.access(leftover);
  await collectGarbage(store);
  await t.throwsAsync(fs.access(leftover));
  t.deepEqual((await checkStore(store)).problems, []);
});

test('gc in another process while a load runs never removes what the load needs', async (t) => {
  const { store, dir } = await tmpStore(t);
  const layers: LayerEntry[][] = Array.from({ length: 6 }, (_, i) =>
    Array.from({ length: 400 }, (_, j): LayerEntry => ({ path: `l${i}/f${j}`, size: 2048, seed: i * 1000 + j })),
  );
  const file = path.join(dir, 'big.tar');
  await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: ['big:1'], layers, outerGzip: true }));
  const load = strataProcess(store.root, ['load', '-q', '-i', file]);
  let done = false;
  void load.then(() => {
    done = true;
  });
  let sweeps = 0;
  while (!done) {
    const gc = await strataProcess(store.root, ['gc', '--grace', '0', '-q']);
    t.is(gc.code, 0, gc.stderr);
    sweeps++;
  }
  const result = await load;
  t.is(result.code, 0, result.stderr);
  t.true(sweeps >= 2, `gc ran ${sweeps} times during the load`);
  t.is((await fs.readdir(store.paths.layersDir)).filter((n) => !n.startsWith('.')).length, 6);
  const check = await strataProcess(store.root, ['check']);
  t.is(check.code, 0, check.stdout);
});
