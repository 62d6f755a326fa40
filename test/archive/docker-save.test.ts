import test, { type ExecutionContext } from 'ava';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { openArchive } from '../../src/archive/open-archive.js';
import { readImages } from '../../src/archive/read-images.js';
import type { ArchiveImage } from '../../src/archive/source.js';
import { buildImageWithInfo, packTar, type BuildImageOptions, type OuterEntry } from '../helpers/image-builder.js';

async function imagesOf(t: ExecutionContext, tar: Buffer, options: { maxJsonBytes?: number } = {}): Promise<ArchiveImage[]> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-docker-save-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const source = await openArchive({ stream: Readable.from([tar]), displayName: 'x.tar' }, { spoolDir: dir, ...options });
  try {
    return await readImages(source);
  } finally {
    await source.close();
  }
}

async function rejects(t: ExecutionContext, tar: Buffer, code: string, message: string | RegExp, options: { maxJsonBytes?: number } = {}) {
  const err = await t.throwsAsync(imagesOf(t, tar, options));
  t.is((err as Error & { code: string }).code, code);
  if (typeof message === 'string') t.is(err!.message, message);
  else t.regex(err!.message, message);
}

const layers: BuildImageOptions['layers'] = [
  [
    { path: 'etc/', type: 'dir' },
    { path: 'etc/hostname', content: 'one\n' },
  ],
  [{ path: 'etc/hostname', content: 'two\n' }],
];
const hex = (digest: string) => digest.slice('sha256:'.length);

/** The entries of a tarball, to re-pack two `docker save` outputs into one. */
async function entriesOf(tar: Buffer): Promise<OuterEntry[]> {
  const extract = tarStream.extract();
  Readable.from([tar]).pipe(extract as unknown as NodeJS.WritableStream);
  const out: OuterEntry[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    out.push({ name: entry.header.name, type: entry.header.type === 'directory' ? 'directory' : 'file', content: Buffer.concat(chunks) });
  }
  return out;
}

/** Rewrites manifest.json of a built docker archive. */
function editManifest(fn: (items: Array<Record<string, unknown>>) => unknown): (entries: OuterEntry[]) => OuterEntry[] {
  return (entries) =>
    entries.map((e) =>
      e.name === 'manifest.json'
        ? { ...e, content: JSON.stringify(fn(JSON.parse(String(e.content)) as Array<Record<string, unknown>>)) }
        : e,
    );
}

test('docker 20.10 layout: config named by image ID, layers by path, tags normalised', async (t) => {
  const { tar, image } = await buildImageWithInfo({
    format: 'docker',
    layers,
    repoTags: ['docker.io/library/app:1.0', 'localhost:5000/x', 'user/app'],
  });
  const [found, ...rest] = await imagesOf(t, tar);
  t.is(rest.length, 0);
  t.is(found!.configPath, `${hex(image.configDigest)}.json`);
  t.is(found!.configDigest, image.configDigest);
  t.is(found!.manifestDigest, undefined);
  t.deepEqual(found!.repoTags, ['app:1.0', 'localhost:5000/x:latest', 'user/app:latest']);
  t.is(found!.layers.length, 2);
  for (const layer of found!.layers) t.deepEqual(Object.keys(layer), ['path']);
  t.regex(found!.layers[0]!.path, /^[0-9a-f]{64}\/layer\.tar$/);
});

test('docker ≥ 25 layout: manifest.json wins over the OCI index, its blob paths carry digests, and the layout keeps the manifest', async (t) => {
  const { tar, image } = await buildImageWithInfo({ format: 'docker25', layers, repoTags: ['app:2'] });
  const [found] = await imagesOf(t, tar);
  t.deepEqual(found, {
    configPath: `blobs/sha256/${hex(image.configDigest)}`,
    configDigest: image.configDigest,
    manifestDigest: image.manifestDigest,
    manifestPath: `blobs/sha256/${hex(image.manifestDigest)}`,
    layers: image.layers.map((l) => ({ path: `blobs/sha256/${hex(l.digest)}`, digest: l.digest, size: l.size, mediaType: l.mediaType })),
    repoTags: ['app:2'],
  });
});

test('docker ≥ 25 layout: a manifest in the index naming other layers is not taken for the image', async (t) => {
  const { tar, image } = await buildImageWithInfo({
    format: 'docker25',
    layers,
    repoTags: ['app:2'],
    editEntries: editManifest((m) => [{ ...m[0], Layers: (m[0]!.Layers as string[]).slice(0, 1) }]),
  });
  const [found] = await imagesOf(t, tar);
  t.is(found!.manifestDigest, undefined);
  t.deepEqual(found!.layers, [{ path: `blobs/sha256/${hex(image.layers[0]!.digest)}`, digest: image.layers[0]!.digest }]);
});

test('an untagged save (RepoTags null) loads with no tags', async (t) => {
  const { tar } = await buildImageWithInfo({ format: 'docker', layers });
  const [found] = await imagesOf(t, tar);
  t.deepEqual(found!.repoTags, []);
});

test('several images in one manifest.json all load, duplicate tags once', async (t) => {
  const a = await buildImageWithInfo({ format: 'docker', layers: [layers[0]!], repoTags: ['a:1'] });
  const b = await buildImageWithInfo({ format: 'docker', layers, repoTags: ['b:1', 'docker.io/library/b:1'] });
  const ea = await entriesOf(a.tar);
  const eb = await entriesOf(b.tar);
  const manifest = [
    ...JSON.parse(String(ea.find((e) => e.name === 'manifest.json')!.content)),
    ...JSON.parse(String(eb.find((e) => e.name === 'manifest.json')!.content)),
  ];
  // docker save writes a layer both images share once; an archive naming a path twice is refused.
  const merged = [...ea, ...eb].filter(
    (e, i, all) => e.name !== 'manifest.json' && e.name !== 'repositories' && all.findIndex((o) => o.name === e.name) === i,
  );
  const tar = await packTar([...merged, { name: 'manifest.json', content: JSON.stringify(manifest) }]);
  const found = await imagesOf(t, tar);
  t.deepEqual(
    found.map((i) => [i.configDigest, i.repoTags, i.layers.length]),
    [
      [a.image.configDigest, ['a:1'], 1],
      [b.image.configDigest, ['b:1'], 2],
    ],
  );
});

const hostile: Array<[string, (items: Array<Record<string, unknown>>) => unknown, string | RegExp]> = [
  [
    'a layer path climbing out',
    (m) => [{ ...m[0], Layers: ['../x'] }],
    'x.tar: manifest.json[0].Layers[0]: path "../x" escapes the archive',
  ],
  [
    'an absolute layer path',
    (m) => [{ ...m[0], Layers: ['/etc/passwd'] }],
    'x.tar: manifest.json[0].Layers[0]: path "/etc/passwd" escapes the archive',
  ],
  [
    'a config path climbing out',
    (m) => [{ ...m[0], Config: 'a/../../c.json' }],
    'x.tar: manifest.json[0].Config: path "a/../../c.json" escapes the archive',
  ],
  [
    'a missing layer',
    (m) => [{ ...m[0], Layers: ['nope/layer.tar'] }],
    'x.tar: manifest.json[0].Layers[0]: "nope/layer.tar" is missing from the archive',
  ],
  [
    'a missing config',
    (m) => [{ ...m[0], Config: 'gone.json' }],
    'x.tar: manifest.json[0].Config: "gone.json" is missing from the archive',
  ],
  ['a non-string layer', (m) => [{ ...m[0], Layers: [7] }], 'x.tar: manifest.json[0].Layers[0]: expected a path, found 7'],
  ['Layers that is not an array', (m) => [{ ...m[0], Layers: 'x' }], 'x.tar: manifest.json[0]: Layers is not an array'],
  ['an invalid tag', (m) => [{ ...m[0], RepoTags: ['App:1'] }], /^x\.tar: manifest\.json\[0\]: invalid tag "App:1": /],
  [
    'a digest reference as a tag',
    (m) => [{ ...m[0], RepoTags: [`app@sha256:${'a'.repeat(64)}`] }],
    /^x\.tar: manifest\.json\[0\]: invalid tag "app@sha256:a+": .*a digest reference is not a tag$/,
  ],
  ['an empty manifest', () => [], 'x.tar: manifest.json: expected a non-empty array of images'],
  ['an object instead of an array', (m) => m[0], 'x.tar: manifest.json: expected a non-empty array of images'],
];
for (const [title, edit, message] of hostile) {
  test(`manifest.json with ${title} is EINVALIDARCHIVE`, async (t) => {
    const { tar } = await buildImageWithInfo({ format: 'docker', layers, editEntries: editManifest(edit) });
    await rejects(t, tar, 'EINVALIDARCHIVE', message);
  });
}

test('invalid JSON in manifest.json is EINVALIDARCHIVE naming the entry and the parse error', async (t) => {
  const { tar } = await buildImageWithInfo({
    format: 'docker',
    layers,
    editEntries: (entries) => entries.map((e) => (e.name === 'manifest.json' ? { ...e, content: '[{"Config": ' } : e)),
  });
  await rejects(t, tar, 'EINVALIDARCHIVE', /^x\.tar: manifest\.json: invalid JSON: .+/);
});

test('a manifest.json larger than maxJsonBytes is ELIMIT', async (t) => {
  const { tar } = await buildImageWithInfo({ format: 'docker', layers, repoTags: Array.from({ length: 50 }, (_, i) => `app:${i}`) });
  await rejects(t, tar, 'ELIMIT', /^x\.tar: manifest\.json: JSON entry is \d+ bytes \(limit 256\)$/, { maxJsonBytes: 256 });
});

test('the default JSON limit is 4 MiB', async (t) => {
  const huge = JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: [], Pad: 'x'.repeat(4 * 1024 * 1024) }]);
  const tar = await packTar([
    { name: 'manifest.json', content: huge },
    { name: 'c.json', content: '{}' },
  ]);
  await rejects(t, tar, 'ELIMIT', `x.tar: manifest.json: JSON entry is ${huge.length} bytes (limit 4194304)`);
});

test('an archive with neither manifest.json nor index.json is not an image archive', async (t) => {
  const tar = await packTar([{ name: 'hello.txt', content: 'hi' }]);
  await rejects(
    t,
    tar,
    'EINVALIDARCHIVE',
    'x.tar: not an image archive (neither manifest.json from docker save nor index.json of an OCI layout)',
  );
});
