/**
 * What save and push will need from a loaded image: each layer blob as the manifest
 * named it (digest, media type, byte size), from records of this version and of the
 * versions before, which did not record media types and sizes.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadImages, type LoadEvent } from '../../src/transfer/load.js';
import { imageContentProvider, imageLayerDescriptors } from '../../src/image/descriptors.js';
import { readImageRecord, writeImageRecord, type ImageRecord } from '../../src/image/record.js';
import { StoreContentProvider } from '../../src/content/provider.js';
import { ingestBlob } from '../../src/content/ingest.js';
import type { Store } from '../../src/store/root.js';
import { buildImageWithInfo, type BuildImageOptions, type BuiltImage } from '../helpers/image-builder.js';
import { tmpStore } from '../helpers/tmp-store.js';

const OCI = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

const DOCKER = ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.docker.image.rootfs.diff.tar'];

const BASE = {
  entries: [
    { path: 'etc/', type: 'dir' as const },
    { path: 'etc/os-release', content: 'ID=strata\n' },
  ],
  compression: 'gzip' as const,
};
const TOP = { entries: [{ path: 'app', content: 'x'.repeat(3000) }], compression: 'none' as const };

async function load(
  store: Store,
  dir: string,
  options: BuildImageOptions,
  events?: LoadEvent[],
): Promise<{ record: ImageRecord; built: BuiltImage }> {
  const { tar, image } = await buildImageWithInfo(options);
  const file = path.join(dir, `${options.format}-${options.repoTags?.[0] ?? 'x'}.tar`);
  await fs.writeFile(file, tar);
  const [loaded] = await loadImages(store, { path: file }, events ? { onEvent: (e) => events.push(e) } : {});
  return { record: await readImageRecord(store, loaded!.id), built: image };
}

const named = (built: BuiltImage) => built.layers.map((l) => ({ blobDigest: l.digest, blobMediaType: l.mediaType, blobSize: l.size }));
const recorded = (record: ImageRecord) =>
  record.layers.map(({ blobDigest, blobMediaType, blobSize }) => ({ blobDigest, blobMediaType, blobSize }));

/** The record as strata wrote it before media types and sizes were recorded. */
async function asOldRecord(store: Store, record: ImageRecord): Promise<ImageRecord> {
  const old = { ...record, layers: record.layers.map(({ blobMediaType: _t, blobSize: _s, ...rest }) => rest) };
  await writeImageRecord(store, old);
  return readImageRecord(store, record.id);
}

test('a load of an OCI layout records each layer blob with the media type and size its manifest names', async (t) => {
  const { store, dir } = await tmpStore(t);
  const { record, built } = await load(store, dir, { format: 'oci', repoTags: ['a:1'], layers: [BASE, TOP] });
  t.deepEqual(recorded(record), named(built));
  t.deepEqual(
    built.layers.map((l) => l.mediaType),
    [OCI.gzip, OCI.none],
    'the fixture names one layer of each kind',
  );
  t.deepEqual(
    await imageLayerDescriptors(new StoreContentProvider(store), record),
    built.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
  );
});

test('a docker-save layer, which nothing names a media type for, is recorded as the OCI type of its compression', async (t) => {
  const { store, dir } = await tmpStore(t);
  const { record, built } = await load(store, dir, { format: 'docker', repoTags: ['d:1'], layers: [BASE, TOP] });
  t.deepEqual(recorded(record), [
    { blobDigest: built.layers[0]!.digest, blobMediaType: OCI.gzip, blobSize: built.layers[0]!.size },
    { blobDigest: built.layers[1]!.digest, blobMediaType: OCI.none, blobSize: built.layers[1]!.size },
  ]);
});

test("a layer reused from an earlier load is recorded with the stored blob's size and media type", async (t) => {
  const { store, dir } = await tmpStore(t);
  await load(store, dir, { format: 'oci', repoTags: ['a:1'], layers: [BASE] });
  const events: LoadEvent[] = [];
  const { record, built } = await load(store, dir, { format: 'docker', repoTags: ['d:1'], layers: [BASE, TOP] }, events);
  t.deepEqual(
    events.filter((e) => e.type === 'layer-done').map((e) => e.type === 'layer-done' && e.reused),
    [true, false],
    'the base was not read again',
  );
  t.deepEqual(recorded(record), [
    { blobDigest: built.layers[0]!.digest, blobMediaType: OCI.gzip, blobSize: built.layers[0]!.size },
    { blobDigest: built.layers[1]!.digest, blobMediaType: OCI.none, blobSize: built.layers[1]!.size },
  ]);
});

test('a record written before media types were recorded gets them from its stored manifest, not from the bytes', async (t) => {
  const { store, dir } = await tmpStore(t);
  const { record, built } = await load(store, dir, { format: 'oci', repoTags: ['a:1'], layers: [BASE, TOP] });
  t.deepEqual(
    await imageLayerDescriptors(new StoreContentProvider(store), await asOldRecord(store, record)),
    built.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
  );
  // A manifest naming Docker's media types, which the blobs' bytes could not tell from OCI's.
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: record.configDigest, size: 1 },
      layers: built.layers.map((l, i) => ({ mediaType: DOCKER[i]!, digest: l.digest, size: l.size })),
    }),
  );
  const { digest } = await ingestBlob(store, Readable.from([manifest]), { source: 'manifest' });
  const old = await asOldRecord(store, { ...record, manifestDigest: digest });
  t.is(old.layers[0]!.blobMediaType, undefined);
  t.deepEqual(
    await imageLayerDescriptors(new StoreContentProvider(store), old),
    built.layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: DOCKER[i]! })),
  );
});

test('a record written before media types were recorded, with no manifest, gets them from the stored blobs', async (t) => {
  const { store, dir } = await tmpStore(t);
  const { record, built } = await load(store, dir, { format: 'docker', repoTags: ['d:1'], layers: [BASE, TOP] });
  t.is(record.manifestDigest, null);
  const old = await asOldRecord(store, record);
  t.deepEqual(await imageLayerDescriptors(new StoreContentProvider(store), old), [
    { digest: built.layers[0]!.digest, size: built.layers[0]!.size, mediaType: OCI.gzip },
    { digest: built.layers[1]!.digest, size: built.layers[1]!.size, mediaType: OCI.none },
  ]);
});

test('the image content provider gives every layer blob an image names its media type, old records included', async (t) => {
  const { store, dir } = await tmpStore(t);
  const oci = await load(store, dir, { format: 'oci', repoTags: ['a:1'], layers: [BASE] });
  const docker = await load(store, dir, { format: 'docker', repoTags: ['d:1'], layers: [TOP] });
  await asOldRecord(store, docker.record);
  const provider = imageContentProvider(store);
  const [base] = oci.built.layers;
  const [top] = docker.built.layers;
  t.deepEqual(await provider.info(base!.digest), { digest: base!.digest, size: base!.size, mediaType: OCI.gzip });
  t.deepEqual(await provider.info(top!.digest), { digest: top!.digest, size: top!.size, mediaType: OCI.none });
  t.deepEqual(
    await provider.info(oci.record.configDigest),
    { digest: oci.record.configDigest, size: (await fs.stat(store.paths.blob(oci.record.configDigest))).size },
    'a config carries its media type in the manifest that names it, not here',
  );
});
