/**
 * The library's changing calls take their locks themselves (the CLI only calls them):
 * each waits while another holds the store lock, and decides what to change only
 * once it holds it, so what another process did meanwhile is seen.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { withStoreLock } from '../../src/store/lock.js';
import { withContainerLock } from '../../src/container/lock.js';
import { createContainer } from '../../src/container/create.js';
import { findContainer } from '../../src/container/lookup.js';
import { removeContainer, startContainer } from '../../src/container/lifecycle.js';
import { ensureVolume } from '../../src/volume/volume.js';
import { removeVolume } from '../../src/container/volume-use.js';
import { pruneContainers, pruneImages } from '../../src/gc/prune.js';
import { listImages } from '../../src/image/list.js';
import { checkStore } from '../../src/check/check.js';
import type { Store } from '../../src/store/root.js';
import { containerFromLayers } from '../helpers/container-fixture.js';

const layers = [
  [
    { path: 'etc/', type: 'dir' as const },
    { path: 'etc/motd', content: 'hello\n' },
  ],
];

/**
 * Takes a lock (from an async context of its own, as another process would hold it),
 * starts `call` while holding it, runs `meanwhile` under it, then lets go.
 */
async function whileHeld<T>(
  take: (work: () => Promise<void>) => Promise<void>,
  call: () => Promise<T>,
  meanwhile: () => Promise<void> = () => sleep(150),
): Promise<T> {
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => {
    entered = resolve;
  });
  let go!: () => void;
  const gate = new Promise<void>((resolve) => {
    go = resolve;
  });
  const holder = take(async () => {
    entered();
    await gate;
    await meanwhile();
  });
  await inside;
  // Called from the test's own context, not the holder's: it must wait like a stranger.
  const started = call();
  go();
  await holder;
  return started;
}

const storeLock = (store: Store) => (work: () => Promise<void>) => withStoreLock(store, work);

test('volume create waits for the store lock', async (t) => {
  const { store } = await containerFromLayers(t, 'oci', layers, { name: 'box' });
  const seenMeanwhile: boolean[] = [];
  const volumeDir = store.paths.volumeDir('fresh');
  await whileHeld(
    storeLock(store),
    () => ensureVolume(store, 'fresh'),
    async () => {
      await sleep(150);
      seenMeanwhile.push(
        await fs.access(volumeDir).then(
          () => true,
          () => false,
        ),
      );
    },
  );
  t.deepEqual(seenMeanwhile, [false], 'not created while another held the store lock');
  t.is((await fs.readdir(volumeDir)).sort().join(','), '_data,volume.json');
});

test('volume rm waits for the store lock', async (t) => {
  const { store } = await containerFromLayers(t, 'oci', layers, { name: 'box' });
  await ensureVolume(store, 'old');
  const seenMeanwhile: boolean[] = [];
  await whileHeld(
    storeLock(store),
    () => removeVolume(store, 'old'),
    async () => {
      await sleep(150);
      seenMeanwhile.push(
        await fs.access(store.paths.volumeDir('old')).then(
          () => true,
          () => false,
        ),
      );
    },
  );
  t.deepEqual(seenMeanwhile, [true], 'not removed while another held the store lock');
  t.deepEqual(await fs.readdir(store.paths.volumesDir), []);
});

test('volume rm -f waits for a change in flight through a view of a container that uses the volume', async (t) => {
  const { store, record } = await containerFromLayers(t, 'oci', layers, {
    name: 'box',
    mounts: [{ type: 'volume', name: 'data', destination: '/data', readOnly: false, anonymous: false }],
  });
  const seenMeanwhile: boolean[] = [];
  await whileHeld(
    (work) => withContainerLock(store, record.id, work),
    () => removeVolume(store, 'data', { force: true }),
    async () => {
      await sleep(150);
      seenMeanwhile.push(
        await fs.access(store.paths.volumeDir('data')).then(
          () => true,
          () => false,
        ),
      );
    },
  );
  t.deepEqual(seenMeanwhile, [true], "not removed while the container's lock was held");
  t.deepEqual(await fs.readdir(store.paths.volumesDir), []);
});

test('container prune lists under the store lock: a container started meanwhile is kept, not an error', async (t) => {
  const { store } = await containerFromLayers(t, 'oci', layers, { name: 'box' });
  const pruned = await whileHeld(
    storeLock(store),
    () => pruneContainers(store),
    async () => {
      await sleep(150);
      await startContainer(store, 'box'); // by the holder, as another process would
    },
  );
  t.deepEqual(pruned, { removed: [], bytes: 0 });
  t.is((await findContainer(store, 'box')).state.status, 'running');
});

test('image prune lists under the store lock: an image that gained a container meanwhile is kept', async (t) => {
  const { store } = await containerFromLayers(t, 'oci', layers, { name: 'box' });
  await removeContainer(store, 'box');
  const [image] = await listImages(store);
  const pruned = await whileHeld(
    storeLock(store),
    () => pruneImages(store, { all: true }),
    async () => {
      await sleep(150);
      await createContainer(store, image!.record.id, { name: 'second' });
    },
  );
  t.deepEqual(pruned, { events: [], bytes: 0 });
  t.deepEqual(
    (await listImages(store)).map((i) => i.record.id),
    [image!.record.id],
  );
  t.deepEqual(
    (await checkStore(store)).problems.map((p) => p.message),
    [],
  );
});
