/**
 * A pull's layers are staged on the import pool's worker threads
 * (src/layer/import-pool.ts), fed from the download on the main thread: two layers
 * are inside the import stage at once, and a pull stopped with Ctrl-C while a worker
 * is in the middle of a layer leaves no temp behind — only the spool a later pull
 * resumes from.
 */
import type { ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/root.js';
import { removeTree } from '../../src/store/atomic.js';
import { loadImages } from '../../src/transfer/load.js';
import { deepCheckStore } from '../../src/check/deep.js';
import { buildImageWithInfo, type LayerEntry } from '../helpers/image-builder.js';
import { strataProcess } from '../helpers/cli.js';
import { startStrata } from '../helpers/crash.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { pushWithSkopeo, registrySkipReason, skopeoSkipReason, startRegistry } from '../helpers/registry.js';

const maybe = testUnless(firstReason(await registrySkipReason(), await skopeoSkipReason()));

const LAYERS = 3;
/** Layer `n`: incompressible files, so each keeps a worker busy for a while. */
const layer = (n: number): LayerEntry[] => [
  { path: `l${n}/`, type: 'dir' },
  ...Array.from({ length: 4 }, (_, i): LayerEntry => ({ path: `l${n}/f${i}`, size: 1_500_000, seed: `pull-${n}-${i}` })),
];

async function workDir(t: ExecutionContext): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-pull-workers-'));
  t.teardown(() => removeTree(dir));
  return dir;
}

/** A registry holding `par:1`, an image of LAYERS big layers. */
async function registryWithImage(t: ExecutionContext, dir: string): Promise<string> {
  const registry = await startRegistry(t, 'open');
  const file = path.join(dir, 'par.tar');
  const { tar } = await buildImageWithInfo({
    format: 'oci',
    repoTags: ['par:1'],
    layers: Array.from({ length: LAYERS }, (_, n) => layer(n)),
  });
  await fs.writeFile(file, tar);
  await pushWithSkopeo(registry, file, 'par:1');
  return `${registry.host}/par:1`;
}

maybe('the layers of a pull are staged on worker threads: two are inside the import stage together, each frozen there', async (t) => {
  const dir = await workDir(t);
  const ref = await registryWithImage(t, dir);
  const root = path.join(dir, 'store');
  await openStore({ root, whiteoutFormat: 'oci' });
  // The first two layers to enter the stage freeze there (the whole thread, not just its event loop).
  const run = startStrata(root, ['pull', '-q', ref], { pauseAt: 'layer.stage#1,layer.stage#2', env: { STRATA_IMPORT_WORKERS: '2' } });
  const stages = (): number => run.markers.filter((m) => m.name === 'layer.stage').length;
  // Staged on the thread that downloads, the first frozen stage would stop every download and the second stage.
  t.truthy(await run.waitFor((m) => m.name === 'layer.stage' && stages() === 2), 'the second layer entered the import stage');
  t.deepEqual(
    run.markers.filter((m) => m.name === 'layer.staged'),
    [],
    'no layer finished its stage before the second began',
  );
  t.is(run.child.exitCode, null, 'still running, both frozen');
  run.child.kill('SIGKILL');
  await run.exit;
  const again = await strataProcess(root, ['pull', '-q', ref], { env: { STRATA_IMPORT_WORKERS: '2' } });
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, `${ref}\n`);
  t.deepEqual(await deepCheckStore(await openStore({ root })), []);
});

maybe(
  'Ctrl-C while a worker is in the middle of a pulled layer: exit 130, no temp is left, only the spools a pull resumes from',
  async (t) => {
    const dir = await workDir(t);
    const ref = await registryWithImage(t, dir);
    const root = path.join(dir, 'store');
    const store = await openStore({ root, whiteoutFormat: 'oci' });
    // A store in use, holding another image, to compare with afterwards.
    const baseline = path.join(dir, 'baseline.tar');
    await fs.writeFile(
      baseline,
      (await buildImageWithInfo({ format: 'oci', repoTags: ['base:1'], layers: [[{ path: 'b', content: 'b\n' }]] })).tar,
    );
    await loadImages(store, { path: baseline });
    const before = await snapshotContent(root);
    // A worker freezes for a moment after writing a few chunks of a layer: the signal comes mid-layer.
    const run = startStrata(root, ['pull', ref], { pauseAt: 'ingest.chunk#4:300', env: { STRATA_IMPORT_WORKERS: '3' } });
    t.truthy(await run.waitFor((m) => m.name === 'ingest.chunk' && run.markers.filter((x) => x.name === 'ingest.chunk').length === 4));
    t.deepEqual(
      run.markers.filter((m) => m.name === 'layer.staged'),
      [],
      'no layer had finished its stage',
    );
    run.child.kill('SIGINT');
    const exit = await run.exit;
    t.is(exit.code, 130, exit.stderr);
    t.regex(exit.stderr, /interrupted/);
    const spool = /^ingest\/pull-[0-9a-f]{64}\t/;
    const after = await snapshotContent(root);
    t.true(
      after.some((row) => spool.test(row)),
      'what had arrived is kept for the next pull',
    );
    t.deepEqual(
      after.filter((row) => !spool.test(row)),
      before,
      'apart from the spools, the store is byte-for-byte as it was',
    );
    const again = await strataProcess(root, ['pull', '-q', ref], { env: { STRATA_IMPORT_WORKERS: '3' } });
    t.is(again.code, 0, again.stderr);
    t.deepEqual(await deepCheckStore(await openStore({ root })), []);
  },
);
