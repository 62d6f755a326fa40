/**
 * rename takes the store lock (no create or other rename can claim the name
 * meanwhile) and the container's lock (a write to the container in flight ends
 * first), and replaces the record in one atomic write.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { renameContainer } from '../../src/container/rename.js';
import { createContainer } from '../../src/container/create.js';
import { withContainerLock } from '../../src/container/lock.js';
import { findContainer } from '../../src/container/lookup.js';
import { containerFile, readContainerRecord } from '../../src/container/record.js';
import { isStrataError } from '../../src/errors.js';
import { withStoreLock } from '../../src/store/lock.js';
import { containerFromLayers } from '../helpers/container-fixture.js';

const layers = [
  [
    { path: 'etc/', type: 'dir' as const },
    { path: 'etc/motd', content: 'hello\n' },
  ],
];

for (const [which, hold] of [
  ['container', (store: Parameters<typeof withStoreLock>[0], id: string, work: () => Promise<void>) => withContainerLock(store, id, work)],
  ['store', (store: Parameters<typeof withStoreLock>[0], _id: string, work: () => Promise<void>) => withStoreLock(store, work)],
] as const) {
  test(`rename waits while another holds the ${which} lock`, async (t) => {
    const { store, record } = await containerFromLayers(t, 'oci', layers, { name: 'box' });
    let release!: () => void;
    let holding!: () => void;
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const holder = hold(store, record.id, () => {
      holding();
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await held;
    let done = false;
    const pending = renameContainer(store, 'box', 'crate').then(() => {
      done = true;
    });
    await sleep(150);
    t.false(done, 'the rename waited for the lock');
    t.is((await readContainerRecord(store, record.id)).name, 'box');
    release();
    await holder;
    await pending;
    t.is((await readContainerRecord(store, record.id)).name, 'crate');
  });
}

test('two renames to one name at once: exactly one wins, the other is a conflict', async (t) => {
  const { store, record } = await containerFromLayers(t, 'oci', layers, { name: 'one' });
  const other = await createContainer(store, 'app:1', { name: 'two' });
  const results = await Promise.allSettled([renameContainer(store, 'one', 'same'), renameContainer(store, 'two', 'same')]);
  t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  const failure = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  t.true(isStrataError(failure.reason, 'ECONFLICT'));
  const names = [(await readContainerRecord(store, record.id)).name, (await readContainerRecord(store, other.id)).name].sort();
  t.true(names.includes('same') && (names.includes('one') || names.includes('two')), names.join(','));
});

test('the record is rewritten whole, with nothing but the name changed and no temp file left', async (t) => {
  const { store, record } = await containerFromLayers(t, 'oci', layers, { name: 'box' });
  const before = JSON.parse(await fs.readFile(containerFile(store, record.id), 'utf8'));
  const listing = (await fs.readdir(store.paths.containerDir(record.id))).sort();
  const renamed = await renameContainer(store, record.id.slice(0, 10), 'crate');
  t.is(renamed.name, 'crate');
  t.deepEqual(JSON.parse(await fs.readFile(containerFile(store, record.id), 'utf8')), { ...before, name: 'crate' });
  t.deepEqual((await fs.readdir(store.paths.containerDir(record.id))).sort(), listing, 'no temp file left beside the record');
  t.is((await findContainer(store, 'crate')).id, record.id);
  await t.throwsAsync(findContainer(store, 'box'), { message: 'No such container: box' });
});
