/** Reproducible commits: with a source date epoch, identical changes give one layer digest and one image ID. */
import test from 'ava';
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { testInFormat } from '../helpers/both-formats.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { commitContainer } from '../../src/transfer/commit.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { findImage } from '../../src/image/lookup.js';
import type { Resolver } from '../../src/resolver/resolver.js';

const BASE: LayerInput[] = [
  [
    { path: 'etc/' },
    { path: 'etc/hostname', content: 'box\n' },
    { path: 'etc/motd', content: 'hi\n' },
    { path: 'lib/' },
    { path: 'lib/old', content: 'o' },
  ],
];
const EPOCH = Date.parse('2022-01-23T12:34:56Z') / 1000;

/** The same changes each time; only the mtime of /app/stamp differs, and every one is later than the epoch. */
async function change(view: Resolver, i: number): Promise<void> {
  await view.mkdir('/app', { mode: 0o755 });
  await view.writeFile('/app/stamp', 'same bytes\n', { mode: 0o644 });
  const later = new Date(Date.now() + (1000 + i) * 1000);
  await view.utimes('/app/stamp', later, later);
  await view.appendFile('/etc/hostname', 'more\n');
  await view.rm('/etc/motd');
  await view.rm('/lib', { recursive: true });
  await view.mkdir('/lib', { mode: 0o755 });
  await view.link('/app/stamp', '/lib/stamp');
}

test('30 commits of the same changes, across several seconds, give one layer digest, one blob and one image ID', async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'oci', BASE);
  const containers = [{ record, view }];
  for (let i = 1; i < 30; i++) {
    const c = await createContainer(store, 'app:1', { name: `c${i}` });
    containers.push({ record: c, view: await containerView(store, c) });
  }
  const started = Date.now();
  const ids = new Set<string>();
  const layers = new Set<string>();
  for (const [i, c] of containers.entries()) {
    await change(c.view, i);
    const image = await commitContainer(store, c.record, { sourceDateEpoch: EPOCH });
    const top = (await findImage(store, image.id)).layers.at(-1)!;
    ids.add(image.id);
    layers.add(`${top.diffId} ${top.blobDigest} ${top.chainId}`);
    await sleep(40);
  }
  t.true(Date.now() - started > 1000, 'the commits span more than one second');
  t.is(ids.size, 1);
  t.is(layers.size, 1);
  t.is((await fs.readdir(store.paths.layersDir)).length, 2, 'one layer directory for all 30 commits, beside the base');
  t.is((await findImage(store, [...ids][0]!)).created, '2022-01-23T12:34:56Z');
});

testInFormat('overlay')('the same changes commit to the same image ID in both whiteout encodings', async (t) => {
  const ids: string[] = [];
  for (const format of ['oci', 'overlay'] as const) {
    const { store, record, view } = await containerFromLayers(t, format, BASE);
    await change(view, 0);
    ids.push((await commitContainer(store, record, { sourceDateEpoch: EPOCH })).id);
  }
  t.is(ids[0], ids[1]);
});

test('without an epoch the creation time is now, so two commits of one container differ', async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'oci', BASE);
  await change(view, 0);
  const first = await commitContainer(store, record);
  await sleep(5);
  const second = await commitContainer(store, record);
  t.not(first.id, second.id);
  t.deepEqual(
    (await findImage(store, first.id)).layers.map((l) => l.chainId),
    (await findImage(store, second.id)).layers.map((l) => l.chainId),
    'one layer: the same upper read twice',
  );
});
