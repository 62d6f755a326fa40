import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { findImage } from '../../src/image/lookup.js';
import { removeImageRecord } from '../../src/image/record.js';
import { checkStore } from '../../src/check/check.js';
import type { Store } from '../../src/store/root.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import { strataProcess } from '../helpers/cli.js';
import { startStrata } from '../helpers/crash.js';

const layers: LayerEntry[][] = Array.from({ length: 3 }, (_, i) =>
  Array.from({ length: 20 }, (_, j): LayerEntry => ({ path: `l${i}/f${j}`, size: 100_000, seed: i * 100 + j })),
);

async function image(dir: string, outerGzip: boolean): Promise<string> {
  const file = path.join(dir, outerGzip ? 'app.tar.gz' : 'app.tar');
  await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: ['app:1'], layers, outerGzip }));
  return file;
}

/** Interrupted means: nothing left behind — not even what `check --repair` would clean — and loading again works. */
async function assertCleanAndLoadable(t: ExecutionContext, store: Store, file: string): Promise<void> {
  t.deepEqual(
    (await checkStore(store)).problems.map((p) => p.message),
    [],
  );
  t.deepEqual(await fs.readdir(store.paths.ingestDir), []);
  t.deepEqual(
    (await fs.readdir(store.paths.layersDir)).filter((n) => n.startsWith('.')),
    [],
  );
  await t.throwsAsync(findImage(store, 'app:1'));
  const again = await strataProcess(store.root, ['load', '-i', file]);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, 'Loaded image: app:1\n');
  t.deepEqual((await checkStore(store)).problems, []);
}

test('Ctrl-C while a load unpacks a layer: exit 130, nothing left behind, loading again works', async (t) => {
  const { store, dir } = await tmpStore(t);
  const file = await image(dir, true);
  // Frozen for 300 ms at the 4th chunk written: the signal is handled when it wakes, mid-layer.
  const run = startStrata(store.root, ['load', '-i', file], { pauseAt: 'ingest.chunk#4:300' });
  t.truthy(await run.waitFor((m) => m.name === 'ingest.chunk' && run.markers.filter((x) => x.name === 'ingest.chunk').length === 4));
  run.child.kill('SIGINT');
  const exit = await run.exit;
  t.is(exit.code, 130, exit.stderr);
  t.regex(exit.stderr, /interrupted/);
  t.is(exit.stdout, '');
  await assertCleanAndLoadable(t, store, file);
});

test('SIGTERM between the layers of an indexed tar: exit 143, nothing left behind', async (t) => {
  const { store, dir } = await tmpStore(t);
  const file = await image(dir, false);
  const run = startStrata(store.root, ['load', '-i', file], { pauseAt: 'load.layer#2:300' });
  t.truthy(await run.waitFor((m) => m.name === 'load.layer' && run.markers.filter((x) => x.name === 'load.layer').length === 2));
  run.child.kill('SIGTERM');
  const exit = await run.exit;
  t.is(exit.code, 143, exit.stderr);
  await assertCleanAndLoadable(t, store, file);
});

test('Ctrl-C while stdin is being spooled stops at once, without waiting for the writer to close the pipe', async (t) => {
  const { store, dir } = await tmpStore(t);
  const file = await image(dir, true);
  const bytes = await fs.readFile(file);
  const run = startStrata(store.root, ['load'], { stdin: 'pipe' });
  await run.waitFor((m) => m.name === 'cli.start');
  run.child.stdin!.write(bytes.subarray(0, bytes.length >> 1));
  // The spool directory in ingest/ says the archive is being read.
  for (let i = 0; i < 200 && (await fs.readdir(store.paths.ingestDir)).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.is((await fs.readdir(store.paths.ingestDir)).length, 1);
  run.child.kill('SIGINT');
  const exit = await run.exit; // stdin is still open: only the signal can end this
  t.is(exit.code, 130, exit.stderr);
  t.regex(exit.stderr, /interrupted/);
  await assertCleanAndLoadable(t, store, file);
});

test('Ctrl-C during gc: exit 130, and the store is consistent', async (t) => {
  const { store, dir } = await tmpStore(t);
  await loadImages(store, { path: await image(dir, false) });
  // rmi's own sweep would leave nothing for gc: drop only the record and tag, as a crash would.
  await removeImageRecord(store, (await findImage(store, 'app:1')).id);
  await fs.writeFile(store.paths.tagsFile, '{}\n');
  const run = startStrata(store.root, ['gc'], { pauseAt: 'gc.remove#2:300' });
  t.truthy(await run.waitFor((m) => m.name === 'gc.remove'));
  run.child.kill('SIGINT');
  const exit = await run.exit;
  t.is(exit.code, 130, exit.stderr);
  // Interrupted by the first or second removal (the signal lands while one runs): that
  // one finishes, and gc stops before the next instead of sweeping on.
  const stopped = /^strata: gc interrupted after removing ([12]) of (\d+) items/m.exec(exit.stderr);
  t.truthy(stopped, exit.stderr);
  t.true(Number(stopped![1]) < Number(stopped![2]));
  t.deepEqual(
    (await checkStore(store)).problems.map((p) => p.message),
    [],
  );
  t.is((await strataProcess(store.root, ['gc'])).code, 0);
  t.deepEqual(await fs.readdir(store.paths.layersDir), []);
  t.deepEqual(await fs.readdir(store.paths.blobsDir), []);
});
