import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkStore } from '../../src/check/check.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import { startStrata } from '../helpers/crash.js';

const layers: LayerEntry[][] = [
  [
    { path: 'etc/', type: 'dir' },
    { path: 'etc/os-release', content: 'ID=lease\n' },
    { path: 'big', size: 300_000, seed: 1 },
  ],
  [{ path: 'top', content: 'top\n' }],
];

/*
 * docker-save archives do not name their layers' blob digests: a load learns one only
 * when the blob is written. It must lease it before the blob becomes visible; leased
 * after the rename, a gc that runs in between sees an unreferenced, unleased blob,
 * removes it, and the load then records an image naming a blob that is gone — and
 * prints "Loaded image".
 */
test("gc running between a docker-save layer blob's commit and the load's lease never removes it", async (t) => {
  const { store, dir } = await tmpStore(t);
  const tar = path.join(dir, 'docker.tar');
  await fs.writeFile(tar, await buildImage({ format: 'docker', repoTags: ['app:1'], layers }));
  // The load freezes just before committing its first layer blob (commit #1 is the config)…
  const load = startStrata(store.root, ['load', '-i', tar], { pauseAt: 'ingest.commit#2:2500' });
  t.truthy(await load.waitFor((m) => m.name === 'ingest.commit' && load.markers.filter((x) => x.name === 'ingest.commit').length === 2));
  // …while a gc takes the store lock and holds it past the moment the load wakes and renames the blob.
  const gc = startStrata(store.root, ['gc', '--grace', '0'], { pauseAt: 'lock.acquired:3500' });
  const gcLocked = await gc.waitFor((m) => m.name === 'lock.acquired');
  const [loaded, collected] = await Promise.all([load.exit, gc.exit]);
  t.is(collected.code, 0, collected.stderr);
  if (!gcLocked || gcLocked.at - load.markers[load.markers.length - 1]!.at > 2000) {
    t.log('gc started too late to overlap the commit; nothing shown');
    return;
  }
  t.is(loaded.code, 0, loaded.stderr);
  t.is(loaded.stdout, 'Loaded image: app:1\n');
  t.deepEqual(
    (await checkStore(store)).problems.map((p) => p.message),
    [],
    'the image the load reported is complete',
  );
});

/*
 * A load's spool (and any ingest file) is its own until it is gone: the lease that
 * says "in flight" must outlive it, or a check or a `gc --grace 0` that runs in
 * between sees an unleased leftover of a load that is still running.
 */
test('while a load removes its spool, the spool is still covered by its lease', async (t) => {
  const { store, dir } = await tmpStore(t);
  const tar = path.join(dir, 'app.tar.gz');
  await fs.writeFile(tar, await buildImage({ format: 'oci', repoTags: ['app:1'], layers, outerGzip: true }));
  const load = startStrata(store.root, ['load', '-i', tar], { pauseAt: 'lease.released:60000' });
  t.truthy(await load.waitFor((m) => m.name === 'lease.released'));
  const problems = (await checkStore(store)).problems.map((p) => p.message);
  load.child.kill('SIGKILL');
  await load.exit;
  t.deepEqual(problems, [], 'nothing of a running load is reported');
});
