import test from 'ava';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { readTags } from '../../src/image/tags.js';
import type { StrataErrorCode } from '../../src/errors.js';
import { buildImageWithInfo, sha256, type BuiltImage, type OuterEntry } from '../helpers/image-builder.js';
import { assertLoadRejected, storeWithOneImage } from '../helpers/load-rejection.js';

// OCI descriptors may carry their content inline (`data`, base64). A `data` that
// disagrees with the descriptor's digest or size is refused wherever it appears; one
// that agrees is the blob itself, and the image loads.

const layers = [
  [
    { path: 'etc/', type: 'dir' as const },
    { path: 'etc/hostname', content: 'data\n' },
  ],
];
const hex = (digest: string) => digest.slice('sha256:'.length);
const blob = (digest: string) => `blobs/sha256/${hex(digest)}`;
const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');

type Json = Record<string, unknown>;

interface Edited {
  /** The manifest digest after the edit (index.json names it). */
  manifestDigest: string;
  manifestSize: number;
}

/** Rewrites the manifest through `fn` (given the blobs' bytes), then re-points index.json at it; `index` edits index.json's descriptor. */
function rewrite(
  image: BuiltImage,
  edited: Edited,
  fn: (manifest: Json, bytesOf: (digest: string) => Buffer) => Json,
  index: (d: Json) => Json = (d) => d,
) {
  return (entries: OuterEntry[]): OuterEntry[] => {
    const bytesOf = (digest: string) => {
      const e = entries.find((x) => x.name === blob(digest))!;
      return e.file ? readFileSync(e.file) : Buffer.from(e.content ?? '');
    };
    const old = entries.find((e) => e.name === blob(image.manifestDigest))!;
    const bytes = Buffer.from(JSON.stringify(fn(JSON.parse(String(old.content)) as Json, bytesOf)));
    edited.manifestDigest = sha256(bytes);
    edited.manifestSize = bytes.length;
    return entries.map((e) => {
      if (e === old) return { name: blob(edited.manifestDigest), content: bytes };
      if (e.name !== 'index.json') return e;
      const doc = JSON.parse(String(e.content)) as { manifests: Json[] };
      const descriptor = { ...doc.manifests[0], digest: edited.manifestDigest, size: bytes.length };
      return { ...e, content: JSON.stringify({ ...doc, manifests: [index(descriptor)] }) };
    });
  };
}

const withLayerData =
  (data: (layer: Buffer) => unknown) =>
  (m: Json, bytesOf: (d: string) => Buffer): Json => {
    const [layer] = m.layers as Json[];
    return { ...m, layers: [{ ...layer, data: data(bytesOf(layer!.digest as string)) }] };
  };

async function build(fn: Parameters<typeof rewrite>[2], index?: Parameters<typeof rewrite>[3]) {
  const plain = await buildImageWithInfo({ format: 'oci', layers, repoTags: ['data:1'] });
  const edited: Edited = { manifestDigest: '', manifestSize: 0 };
  const { tar } = await buildImageWithInfo({
    format: 'oci',
    layers,
    repoTags: ['data:1'],
    editEntries: rewrite(plain.image, edited, fn, index),
  });
  return { tar, image: plain.image, edited };
}

const otherConfig = '{"rootfs":{"type":"layers","diff_ids":[]}}';

const rejected: Array<
  [string, Parameters<typeof rewrite>[2], ((d: Json) => Json) | undefined, StrataErrorCode, (image: BuiltImage, edited: Edited) => string]
> = [
  [
    'a layer descriptor whose data has other bytes of the same size',
    withLayerData((layer) => b64(Buffer.alloc(layer.length, 0x41))),
    undefined,
    'EINTEGRITY',
    (image, e) =>
      `manifest ${e.manifestDigest} layers[0]: descriptor data for ${blob(image.layers[0]!.digest)} is ${sha256(Buffer.alloc(image.layers[0]!.size, 0x41))}, but its digest says ${image.layers[0]!.digest}`,
  ],
  [
    'a layer descriptor whose data is shorter than its size',
    withLayerData(() => b64('abc')),
    undefined,
    'EINTEGRITY',
    (image, e) =>
      `manifest ${e.manifestDigest} layers[0]: descriptor data for ${blob(image.layers[0]!.digest)} is 3 bytes, but its size says ${image.layers[0]!.size}`,
  ],
  [
    'a layer descriptor whose data is not base64',
    withLayerData(() => '!!not base64!!'),
    undefined,
    'EINVALIDARCHIVE',
    (image, e) =>
      `manifest ${e.manifestDigest} layers[0]: descriptor data for ${blob(image.layers[0]!.digest)} is not base64 of ${image.layers[0]!.size} bytes`,
  ],
  [
    'a layer descriptor whose data is its blob in base64 broken into MIME lines',
    withLayerData((layer) => b64(layer).replace(/.{76}/g, '$&\r\n')),
    undefined,
    'EINVALIDARCHIVE',
    (image, e) =>
      `manifest ${e.manifestDigest} layers[0]: descriptor data for ${blob(image.layers[0]!.digest)} is not base64 of ${image.layers[0]!.size} bytes`,
  ],
  [
    'a layer descriptor whose data is a number',
    withLayerData(() => 7),
    undefined,
    'EINVALIDARCHIVE',
    (image, e) =>
      `manifest ${e.manifestDigest} layers[0]: descriptor data for ${blob(image.layers[0]!.digest)} is not base64 of ${image.layers[0]!.size} bytes`,
  ],
  [
    'a config descriptor whose data is another config',
    (m) => ({ ...m, config: { ...(m.config as Json), data: b64(otherConfig) } }),
    undefined,
    'EINTEGRITY',
    (image, e) =>
      `manifest ${e.manifestDigest} config: descriptor data for ${blob(image.configDigest)} is ${otherConfig.length} bytes, but its size says ${(image.manifest.config as Json).size}`,
  ],
  [
    'an index.json descriptor whose data is another manifest',
    (m) => m,
    (d) => ({ ...d, data: b64(JSON.stringify({ schemaVersion: 2 }).padEnd(d.size as number)) }),
    'EINTEGRITY',
    (_image, e) =>
      `index.json manifests[0]: descriptor data for ${blob(e.manifestDigest)} is ${sha256(JSON.stringify({ schemaVersion: 2 }).padEnd(e.manifestSize))}, but its digest says ${e.manifestDigest}`,
  ],
];

for (const [title, fn, index, code, message] of rejected) {
  test(`${title} is refused and the store is unchanged`, async (t) => {
    const { tar, image, edited } = await build(fn, index);
    await assertLoadRejected(t, tar, 'input.tar', { code, message: `ARCHIVE: ${message(image, edited)}` });
  });
}

test('descriptors whose data is their blob, exactly, load as the same image', async (t) => {
  const { store, dir } = await storeWithOneImage(t);
  const { tar, image } = await build((m, bytesOf) => {
    const config = m.config as Json;
    return { ...withLayerData((layer) => b64(layer))(m, bytesOf), config: { ...config, data: b64(bytesOf(config.digest as string)) } };
  });
  const file = path.join(dir, 'inline.tar');
  await fs.writeFile(file, tar);
  const [loaded] = await loadImages(store, { path: file });
  t.is(loaded!.id, image.imageId);
  t.is((await readTags(store))['data:1'], image.imageId);
});

test("a descriptor whose data is null (Go's encoding of none) loads", async (t) => {
  const { store, dir } = await storeWithOneImage(t);
  const { tar, image } = await build(withLayerData(() => null));
  const file = path.join(dir, 'null-data.tar');
  await fs.writeFile(file, tar);
  const [loaded] = await loadImages(store, { path: file });
  t.is(loaded!.id, image.imageId);
});
