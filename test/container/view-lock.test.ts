/**
 * containerView takes the container's lock for every change, so a library user needs
 * no lock of their own to be safe beside `strata fs`, `cp`, `stop` and `rm`.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { containerView } from '../../src/container/view.js';
import { withContainerLock } from '../../src/container/lock.js';
import { removeContainer, startContainer, stopContainer } from '../../src/container/lifecycle.js';
import { findContainer } from '../../src/container/lookup.js';
import { isStrataError } from '../../src/errors.js';
import type { Resolver } from '../../src/resolver/resolver.js';
import { containerFromLayers } from '../helpers/container-fixture.js';

const layers = [
  [
    { path: 'etc/', type: 'dir' as const },
    { path: 'etc/motd', content: 'hello\n' },
    { path: 'dir/', type: 'dir' as const },
  ],
];

/** Every changing method of a view, each on a path it would succeed on. */
const CHANGES: [string, (v: Resolver) => Promise<unknown>][] = [
  ['writeFile', (v) => v.writeFile('/new', 'x')],
  ['appendFile', (v) => v.appendFile('/etc/motd', 'x')],
  ['truncate', (v) => v.truncate('/etc/motd', 1)],
  ['mkdir', (v) => v.mkdir('/newdir')],
  ['mkdir recursive', (v) => v.mkdir('/a/b', { recursive: true })],
  ['unlink', (v) => v.unlink('/etc/motd')],
  ['rmdir', (v) => v.rmdir('/dir')],
  ['rm', (v) => v.rm('/etc', { recursive: true })],
  ['rename', (v) => v.rename('/etc/motd', '/etc/motd2')],
  ['symlink', (v) => v.symlink('motd', '/etc/link')],
  ['link', (v) => v.link('/etc/motd', '/etc/hard')],
  ['chmod', (v) => v.chmod('/etc/motd', 0o600)],
  ['chown', (v) => v.chown('/etc/motd', 0, 0)],
  ['lchown', (v) => v.lchown('/etc/motd', 0, 0)],
  ['utimes', (v) => v.utimes('/etc/motd', 1, 1)],
];

for (const [name, change] of CHANGES) {
  test(`${name} through a container view waits while another holds the container's lock`, async (t) => {
    const { store, record, view } = await containerFromLayers(t, 'oci', layers, { name: 'box' });
    let release!: () => void;
    let holding!: () => void;
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const holder = withContainerLock(store, record.id, () => {
      holding();
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await held;
    let done = false;
    const pending = change(view).then(() => {
      done = true;
    });
    await sleep(150);
    t.false(done, 'the change waited for the lock');
    release();
    await holder;
    await pending;
    t.true(done);
  });

  test(`${name} through a view of a container removed meanwhile fails with ENOTFOUND and makes nothing`, async (t) => {
    const { store, record, view } = await containerFromLayers(t, 'oci', layers, { name: 'box' });
    await removeContainer(store, 'box');
    const err = await t.throwsAsync(change(view));
    t.true(isStrataError(err, 'ENOTFOUND'));
    t.is(err?.message, `No such container: ${record.id}`);
    t.deepEqual(await fs.readdir(store.paths.containersDir), [], 'no piece of the container came back');
  });
}

test('a batch holds the lock across its changes, and changes it did not await finish before anyone else gets in', async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'oci', layers, { name: 'box' });
  const order: string[] = [];
  let entered!: () => void;
  const inBatch = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const batch = view.batch(async () => {
    entered();
    await view.writeFile('/one', '1');
    order.push('one');
    await sleep(100);
    void view
      .writeFile(
        '/two',
        (async function* () {
          await sleep(100);
          yield '2';
        })(),
      )
      .then(() => order.push('two'));
    order.push('body returned');
  });
  await inBatch;
  const other = withContainerLock(store, record.id, async () => {
    order.push('other holder');
  });
  const otherView = (await containerView(store, record)).writeFile('/three', '3').then(() => order.push('other view'));
  await Promise.all([batch, other, otherView]);
  t.deepEqual(order, ['one', 'body returned', 'two', 'other holder', 'other view']);
  t.is(await view.readFile('/two', 'utf8'), '2');
});

test('a view of a removed container with a --tmpfs mount is refused with ENOTFOUND and does not bring its tmpfs dir back', async (t) => {
  const { store, record } = await containerFromLayers(t, 'oci', layers, {
    name: 'box',
    mounts: [{ type: 'tmpfs', destination: '/scratch' }],
  });
  await removeContainer(store, 'box');
  const err = await t.throwsAsync(containerView(store, record));
  t.true(isStrataError(err, 'ENOTFOUND'));
  t.deepEqual(await fs.readdir(store.paths.containersDir), []);
});

test('inside a batch, a call that takes the store lock is refused with EUSAGE instead of risking a deadlock', async (t) => {
  const { store, view } = await containerFromLayers(t, 'oci', layers, { name: 'box' });
  const err = await t.throwsAsync(view.batch(() => removeContainer(store, 'box')));
  t.true(isStrataError(err, 'EUSAGE'));
  t.regex(err?.message ?? '', /locks\/store: the store lock is taken before any other lock, not while one is held$/);
  t.is((await findContainer(store, 'box')).name, 'box', 'the container is still there');
  await view.writeFile('/after', 'ok');
  t.is(await view.readFile('/after', 'utf8'), 'ok');
});

test('a view made before a stop in another process still serves its --tmpfs mount afterwards, empty, as a real tmpfs', async (t) => {
  const { store, view } = await containerFromLayers(t, 'oci', layers, {
    name: 'box',
    mounts: [{ type: 'tmpfs', destination: '/scratch' }],
  });
  await startContainer(store, 'box');
  await view.writeFile('/scratch/before', 'x');
  await stopContainer(store, 'box');
  t.deepEqual(await view.readdir('/scratch'), []);
  t.is((await view.stat('/scratch')).mode, 0o1777);
  await view.writeFile('/scratch/after', 'y');
  t.deepEqual(await view.readdir('/scratch'), ['after']);
});
