import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadImages, type LoadEvent } from '../../src/transfer/load.js';
import { listImages } from '../../src/image/list.js';
import { readTags } from '../../src/image/tags.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, buildImageWithInfo, buildMultiImageLayout, type LayerEntry } from '../helpers/image-builder.js';
import { snapshotTree } from '../helpers/store-snapshot.js';

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/os-release', content: 'ID=strata\n' },
  { path: 'bin/', type: 'dir' },
  { path: 'bin/tool', content: 'x'.repeat(1000), mode: 0o755 },
];

async function layerDirs(root: string): Promise<string[]> {
  return (await fs.readdir(path.join(root, 'layers'))).filter((n) => !n.startsWith('.'));
}

test('two images sharing a base unpack the base once', async (t) => {
  const { store, dir } = await tmpStore(t);
  const a = await buildImageWithInfo({ format: 'oci', repoTags: ['a:1'], layers: [base, [{ path: 'a.txt', content: 'a' }]] });
  const b = await buildImageWithInfo({ format: 'docker', repoTags: ['b:1'], layers: [base, [{ path: 'b.txt', content: 'bb' }]] });
  await fs.writeFile(path.join(dir, 'a.tar'), a.tar);
  await fs.writeFile(path.join(dir, 'b.tar'), b.tar);
  await loadImages(store, { path: path.join(dir, 'a.tar') });
  const events: LoadEvent[] = [];
  await loadImages(store, { path: path.join(dir, 'b.tar') }, { onEvent: (e) => events.push(e) });
  // base + a's top + b's top: the base chainID is one directory for both images.
  t.is((await layerDirs(store.root)).length, 3);
  t.is(a.image.layers[0]!.diffId, b.image.layers[0]!.diffId);
  const reused = events.filter((e) => e.type === 'layer-done' && e.reused);
  t.is(reused.length, 1, 'the shared base is reported as already there');
  t.deepEqual((await listImages(store)).map((i) => i.repoTags).sort(), [['a:1'], ['b:1']]);
});

test('loading the same image again adds nothing and moves no tag', async (t) => {
  const { store, dir } = await tmpStore(t);
  const tar = await buildImage({ format: 'oci', repoTags: ['same:1'], layers: [base] });
  await fs.writeFile(path.join(dir, 'i.tar'), tar);
  const [first] = await loadImages(store, { path: path.join(dir, 'i.tar') });
  const before = await snapshotTree(store.root);
  const [second] = await loadImages(store, { path: path.join(dir, 'i.tar') });
  t.is(second!.id, first!.id);
  t.deepEqual(second!.retagged, []);
  t.deepEqual(
    (await snapshotTree(store.root)).filter((r) => !r.startsWith('images/')),
    before.filter((r) => !r.startsWith('images/')),
  );
});

test('a tag that named another image moves to the newly loaded one', async (t) => {
  const { store, dir } = await tmpStore(t);
  await fs.writeFile(path.join(dir, '1.tar'), await buildImage({ format: 'docker', repoTags: ['app:1'], layers: [base] }));
  await fs.writeFile(
    path.join(dir, '2.tar'),
    await buildImage({ format: 'docker', repoTags: ['app:1'], layers: [base, [{ path: 'new', content: 'n' }]] }),
  );
  const [old] = await loadImages(store, { path: path.join(dir, '1.tar') });
  const [next] = await loadImages(store, { path: path.join(dir, '2.tar') });
  t.deepEqual(next!.retagged, [{ tag: 'app:1', previous: old!.id }]);
  t.is((await readTags(store))['app:1'], next!.id);
  t.is((await listImages(store)).find((i) => i.record.id === old!.id)?.repoTags.length, 0, 'the old image stays, untagged');
});

test('an OCI layout with several named images loads them all', async (t) => {
  const { store, dir } = await tmpStore(t);
  const layout = await buildMultiImageLayout({
    images: [
      { name: 'docker.io/library/one:1', layers: [base] },
      { name: 'registry.example/team/two:2', layers: [base, [{ path: 'two', content: '2' }]] },
    ],
  } as Parameters<typeof buildMultiImageLayout>[0]);
  await fs.writeFile(path.join(dir, 'layout.tar'), layout);
  const loaded = await loadImages(store, { path: path.join(dir, 'layout.tar') });
  t.deepEqual(loaded.flatMap((l) => l.repoTags).sort(), ['one:1', 'registry.example/team/two:2']);
});

test('a gzipped archive on a stream loads the same image as the plain file', async (t) => {
  const { store, dir } = await tmpStore(t);
  const plain = await buildImageWithInfo({ format: 'oci', repoTags: ['s:1'], layers: [base] });
  const gz = await buildImage({ format: 'oci', repoTags: ['s:1'], layers: [base], outerGzip: true });
  await fs.writeFile(path.join(dir, 'plain.tar'), plain.tar);
  const [fromStream] = await loadImages(store, { stream: Readable.from([gz]), displayName: 'stdin' });
  const [fromFile] = await loadImages(store, { path: path.join(dir, 'plain.tar') });
  t.is(fromStream!.id, plain.image.imageId);
  t.is(fromFile!.id, plain.image.imageId);
  t.deepEqual(await fs.readdir(store.paths.ingestDir), [], 'spool files are gone');
});

test('an untagged image is reported by ID', async (t) => {
  const { store, dir } = await tmpStore(t);
  const built = await buildImageWithInfo({ format: 'oci', layers: [base] });
  await fs.writeFile(path.join(dir, 'u.tar'), built.tar);
  const [loaded] = await loadImages(store, { path: path.join(dir, 'u.tar') });
  t.deepEqual(loaded!.repoTags, []);
  t.is(loaded!.id, built.image.imageId);
});
