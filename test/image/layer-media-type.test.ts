import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { loadImages } from '../../src/transfer/load.js';
import { readTags } from '../../src/image/tags.js';
import { buildImageWithInfo, sha256, type Compression, type OuterEntry } from '../helpers/image-builder.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { testUnless } from '../helpers/skip.js';
import { zstdSkipReason } from '../helpers/tools.js';

// The rule README states ("Layer compression is read from the bytes"): a layer's
// compression is decided by its magic number, not by its media type, so a
// mislabelled layer in a supported compression loads. The blob digest and the
// diffID still have to match, so what loads is exactly what the image promised.

const MEDIA = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;
const hex = (digest: string) => digest.slice('sha256:'.length);
const zstdMissing = await zstdSkipReason();

/** Points the manifest's layer at `mediaType`, re-hashing the manifest and index.json. */
function declare(manifestDigest: string, mediaType: string) {
  return (entries: OuterEntry[]): OuterEntry[] => {
    const old = entries.find((e) => e.name === `blobs/sha256/${hex(manifestDigest)}`)!;
    const manifest = JSON.parse(String(old.content)) as { layers: object[] };
    const bytes = Buffer.from(JSON.stringify({ ...manifest, layers: [{ ...manifest.layers[0], mediaType }] }));
    const digest = sha256(bytes);
    return entries.map((e) => {
      if (e === old) return { name: `blobs/sha256/${hex(digest)}`, content: bytes };
      if (e.name !== 'index.json') return e;
      const index = JSON.parse(String(e.content)) as { manifests: object[] };
      return { ...e, content: JSON.stringify({ ...index, manifests: [{ ...index.manifests[0], digest, size: bytes.length }] }) };
    });
  };
}

const cases: Array<[Compression, keyof typeof MEDIA]> = [
  ['none', 'gzip'],
  ['gzip', 'none'],
  ['gzip', 'zstd'],
  ['zstd', 'gzip'],
];

for (const [actual, declared] of cases) {
  const title = `a ${actual === 'none' ? 'plain' : actual} layer declared as ${MEDIA[declared]} loads by its magic number`;
  testUnless(actual === 'zstd' ? zstdMissing : null)(title, async (t) => {
    const layers = [
      {
        entries: [
          { path: 'etc/', type: 'dir' as const },
          { path: 'etc/hostname', content: 'sniffed\n' },
        ],
        compression: actual,
      },
    ];
    const plain = await buildImageWithInfo({ format: 'oci', layers, repoTags: ['sniff:1'] });
    t.is(plain.image.layers[0]!.mediaType, MEDIA[actual], 'the builder labels the layer truthfully before the edit');
    const { tar } = await buildImageWithInfo({
      format: 'oci',
      layers,
      repoTags: ['sniff:1'],
      editEntries: declare(plain.image.manifestDigest, MEDIA[declared]),
    });

    const { store, dir } = await tmpStore(t);
    const file = path.join(dir, 'mislabelled.tar');
    await fs.writeFile(file, tar);
    const [loaded] = await loadImages(store, { path: file });
    t.is(loaded!.id, plain.image.imageId);
    t.is((await readTags(store))['sniff:1'], plain.image.imageId);
    const layer = plain.image.layers[0]!;
    t.is(await fs.readFile(path.join(store.paths.layerDiff(layer.diffId), 'etc', 'hostname'), 'utf8'), 'sniffed\n');
    const stored = await fs.readFile(path.join(store.root, 'blobs', 'sha256', hex(layer.digest)));
    t.is(`sha256:${createHash('sha256').update(stored).digest('hex')}`, layer.digest, 'the blob is stored as the archive had it');
  });
}
