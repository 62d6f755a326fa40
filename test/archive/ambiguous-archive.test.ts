import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { readTags } from '../../src/image/tags.js';
import { buildImageWithInfo, type BuildImageOptions, type BuiltImage, type OuterEntry } from '../helpers/image-builder.js';
import { assertLoadRejected, storeWithOneImage } from '../helpers/load-rejection.js';

// An outer tar that names one path twice (or puts an entry below a file or a link)
// could be read as two different images by two readers; every such archive is
// refused, by the in-place index (plain tar) and by the spool (gzip, stdin) alike.

const layers = [
  [
    { path: 'etc/', type: 'dir' as const },
    { path: 'etc/hostname', content: 'amb\n' },
  ],
];
const hex = (digest: string) => digest.slice('sha256:'.length);
const blob = (digest: string) => `blobs/sha256/${hex(digest)}`;

interface Case {
  format: BuildImageOptions['format'];
  /** Adds or renames entries; gets the image built without the edit (same digests). */
  edit: (image: BuiltImage) => (entries: OuterEntry[]) => OuterEntry[];
  /** Expected message after `ARCHIVE: `; `LAYER` and `CONFIG` stand for the blob hex names. */
  message: string;
}

function expand(text: string, image: BuiltImage): string {
  return text.replaceAll('LAYER', hex(image.layers[0]!.digest)).replaceAll('CONFIG', hex(image.configDigest));
}

const ambiguous = test.macro({
  async exec(t: ExecutionContext, c: Case, gzip: boolean) {
    const plain = await buildImageWithInfo({ format: c.format, layers, repoTags: ['amb:1'] });
    const { tar } = await buildImageWithInfo({
      format: c.format,
      layers,
      repoTags: ['amb:1'],
      outerGzip: gzip,
      editEntries: c.edit(plain.image),
    });
    await assertLoadRejected(t, tar, gzip ? 'input.tar.gz' : 'input.tar', {
      code: 'EINVALIDARCHIVE',
      message: `ARCHIVE: ${expand(c.message, plain.image)}`,
    });
  },
  title: (name = '', _c: Case, gzip: boolean) => `${name} is refused (${gzip ? 'gzip, spooled' : 'plain tar, indexed'})`,
});

const twice = (name: string) => `"${name}" appears twice in the archive; readers would disagree on which one counts`;

const cases: Array<[string, Case]> = [
  [
    'two manifest.json of different content',
    {
      format: 'docker',
      edit: () => (entries) => [...entries, { name: 'manifest.json', content: '[]' }],
      message: twice('manifest.json'),
    },
  ],
  [
    'two index.json of different content',
    {
      format: 'oci',
      edit: () => (entries) => [...entries, { name: 'index.json', content: '{"schemaVersion":2,"manifests":[]}' }],
      message: twice('index.json'),
    },
  ],
  [
    'two copies of a layer blob with different bytes',
    {
      format: 'oci',
      edit: (image) => (entries) => [...entries, { name: blob(image.layers[0]!.digest), content: 'not the layer' }],
      message: twice('blobs/sha256/LAYER'),
    },
  ],
  [
    // Refused before its data is read, mid-stream: the spool must not crash on the entry stream it leaves unread.
    'a second copy of a layer blob in the middle of the archive, with data still to come',
    {
      format: 'oci',
      edit: (image) => (entries) => {
        const at = entries.findIndex((e) => e.name === blob(image.layers[0]!.digest));
        return [
          ...entries.slice(0, at + 1),
          { name: blob(image.layers[0]!.digest), content: 'x'.repeat(256 * 1024) },
          ...entries.slice(at + 1),
        ];
      },
      message: twice('blobs/sha256/LAYER'),
    },
  ],
  [
    'two copies of the config blob with the same bytes',
    {
      format: 'oci',
      edit: (image) => (entries) => [...entries, { ...entries.find((e) => e.name === blob(image.configDigest))! }],
      message: twice('blobs/sha256/CONFIG'),
    },
  ],
  [
    'a file and a directory of the same name',
    {
      format: 'docker',
      edit: () => (entries) => [{ name: 'manifest.json/', type: 'directory' }, ...entries],
      message:
        '"manifest.json" appears twice in the archive (as "manifest.json/" and "manifest.json"); readers would disagree on which one counts',
    },
  ],
  [
    './manifest.json beside manifest.json',
    {
      format: 'docker',
      edit: () => (entries) => [...entries, { name: './manifest.json', content: '[]' }],
      message:
        '"manifest.json" appears twice in the archive (as "manifest.json" and "./manifest.json"); readers would disagree on which one counts',
    },
  ],
  [
    'blobs//sha256/x beside blobs/sha256/x',
    {
      format: 'oci',
      edit: (image) => (entries) => [...entries, { name: `blobs//sha256/${hex(image.layers[0]!.digest)}`, content: 'other' }],
      message:
        '"blobs/sha256/LAYER" appears twice in the archive (as "blobs/sha256/LAYER" and "blobs//sha256/LAYER"); readers would disagree on which one counts',
    },
  ],
  [
    'an entry below a file',
    {
      format: 'oci',
      edit: (image) => (entries) => [...entries, { name: `${blob(image.configDigest)}/x`, content: 'hidden' }],
      message:
        '"blobs/sha256/CONFIG/x" lies below "blobs/sha256/CONFIG", which is a file, not a directory; readers would disagree on what the path holds',
    },
  ],
  [
    'an entry below a symlink',
    {
      format: 'oci',
      // A reader following `alias` finds the real blob; one taking names literally, this one.
      edit: (image) => (entries) => [
        ...entries,
        { name: 'alias', type: 'symlink', linkname: 'blobs/sha256' },
        { name: `alias/${hex(image.layers[0]!.digest)}`, content: 'other' },
      ],
      message: '"alias/LAYER" lies below "alias", which is a symlink, not a directory; readers would disagree on what the path holds',
    },
  ],
];

for (const [name, c] of cases) {
  test(name, ambiguous, c, false);
  test(name, ambiguous, c, true);
}

test('a directory entry written twice is one directory, and the image loads', async (t) => {
  const { store, dir } = await storeWithOneImage(t);
  for (const gzip of [false, true]) {
    const { tar, image } = await buildImageWithInfo({
      format: 'oci',
      layers,
      repoTags: [`dirs:${gzip ? 'gz' : 'plain'}`],
      outerGzip: gzip,
      editEntries: (entries) => [...entries, { name: 'blobs/', type: 'directory' }, { name: './blobs/sha256', type: 'directory' }],
    });
    const file = path.join(dir, gzip ? 'dirs.tar.gz' : 'dirs.tar');
    await fs.writeFile(file, tar);
    const [loaded] = await loadImages(store, { path: file });
    t.is(loaded!.id, image.imageId);
  }
  t.deepEqual(Object.keys(await readTags(store)).sort(), ['dirs:gz', 'dirs:plain', 'good:1']);
});
