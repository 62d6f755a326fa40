import test, { type ExecutionContext } from 'ava';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { openArchive } from '../../src/archive/open-archive.js';
import { readImages } from '../../src/archive/read-images.js';
import { formatPlatform, hostPlatform } from '../../src/archive/platform.js';
import type { ArchiveImage } from '../../src/archive/source.js';
import { testUnless } from '../helpers/skip.js';
import { zstdSkipReason } from '../helpers/tools.js';
import {
  buildImageWithInfo,
  buildMultiImageLayout,
  sha256,
  writeMultiImageLayout,
  type LayerEntry,
  type MultiLayoutOptions,
  type OuterEntry,
} from '../helpers/image-builder.js';

const zstdMissing = await zstdSkipReason();

async function imagesOf(t: ExecutionContext, tar: Buffer, platform?: string): Promise<ArchiveImage[]> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-oci-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const source = await openArchive({ stream: Readable.from([tar]), displayName: 'x.tar' }, { spoolDir: dir });
  try {
    return await readImages(source, platform === undefined ? {} : { platform });
  } finally {
    await source.close();
  }
}

async function rejects(t: ExecutionContext, tar: Buffer, code: string, message: string | RegExp, platform?: string) {
  const err = await t.throwsAsync(imagesOf(t, tar, platform));
  t.is((err as Error & { code: string }).code, code);
  if (typeof message === 'string') t.is(err!.message, message);
  else t.regex(err!.message, message);
}

const hex = (digest: string) => digest.slice('sha256:'.length);
const blob = (digest: string) => `blobs/sha256/${hex(digest)}`;
const small: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/hostname', content: 'oci\n' },
];
const other: LayerEntry[] = [{ path: 'other', content: 'x' }];

/** A platform that is not this host's, for the "pick the other one" cases. */
const host = hostPlatform();
const foreign = host.architecture === 'amd64' ? 'linux/arm64' : 'linux/amd64';

function editJson(name: string, fn: (doc: Record<string, unknown>) => unknown): (entries: OuterEntry[]) => OuterEntry[] {
  return (entries) =>
    entries.map((e) =>
      e.name === name ? { ...e, content: JSON.stringify(fn(JSON.parse(String(e.content)) as Record<string, unknown>)) } : e,
    );
}

test('an OCI layout image gives config, manifest and layer descriptors', async (t) => {
  const { tar, image } = await buildImageWithInfo({ format: 'oci', layers: [small, other], repoTags: ['app:1.0'] });
  const [found, ...rest] = await imagesOf(t, tar);
  t.is(rest.length, 0);
  t.deepEqual(found, {
    configPath: blob(image.configDigest),
    configDigest: image.configDigest,
    manifestDigest: image.manifestDigest,
    manifestPath: blob(image.manifestDigest),
    layers: image.layers.map((l) => ({
      path: blob(l.digest),
      digest: l.digest,
      size: l.size,
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    })),
    repoTags: ['app:1.0'],
  });
});

testUnless(zstdMissing)('zstd and uncompressed layers keep their media types', async (t) => {
  const { tar } = await buildImageWithInfo({
    format: 'oci',
    layers: [
      { entries: small, compression: 'zstd' },
      { entries: other, compression: 'none' },
    ],
  });
  const [found] = await imagesOf(t, tar);
  t.deepEqual(
    found!.layers.map((l) => l.mediaType),
    ['application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar'],
  );
});

test('a layout with several images loads all of them, named by their annotations', async (t) => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-oci-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'multi.tar');
  const built = await writeMultiImageLayout(file, {
    images: [
      { name: 'docker.io/library/app:1.0', refName: '1.0', layers: [small] },
      { refName: 'registry.example/ns/tool:2', layers: [other] },
      { refName: 'latest', layers: [small, other] },
      { layers: [other, small] },
      { name: `docker.io/library/pinned@sha256:${'a'.repeat(64)}`, layers: [[{ path: 'p', content: 'p' }]] },
    ],
  });
  const found = await imagesOf(t, await fsp.readFile(file));
  t.deepEqual(
    found.map((i) => [i.manifestDigest, i.repoTags]),
    [
      [built.images[0]!.manifestDigest, ['app:1.0']],
      [built.images[1]!.manifestDigest, ['registry.example/ns/tool:2']],
      [built.images[2]!.manifestDigest, []],
      [built.images[3]!.manifestDigest, []],
      [built.images[4]!.manifestDigest, []],
    ],
  );
});

function twoPlatforms(extra: Partial<MultiLayoutOptions['images'][number]> = {}): MultiLayoutOptions {
  return {
    images: [
      {
        name: 'docker.io/library/multi:1',
        index: [
          { platform: formatPlatform(host), layers: [small] },
          { platform: foreign, layers: [other] },
        ],
        ...extra,
      },
    ],
  };
}

async function pick(t: ExecutionContext, options: MultiLayoutOptions, platform?: string) {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-oci-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const built = await writeMultiImageLayout(path.join(dir, 'x.tar'), options);
  const found = await imagesOf(t, await fsp.readFile(path.join(dir, 'x.tar')), platform);
  return { built, found };
}

test('an image index picks the manifest for this host', async (t) => {
  const { built, found } = await pick(t, twoPlatforms());
  t.is(found.length, 1);
  t.is(found[0]!.manifestDigest, built.images[0]!.manifestDigest);
  t.deepEqual(found[0]!.repoTags, ['multi:1']);
});

test('--platform overrides the host', async (t) => {
  const { built, found } = await pick(t, twoPlatforms(), foreign);
  t.is(found[0]!.manifestDigest, built.images[1]!.manifestDigest);
});

test('an index nested in an index is descended', async (t) => {
  const { built, found } = await pick(t, twoPlatforms({ nested: true }), foreign);
  t.is(found[0]!.manifestDigest, built.images[1]!.manifestDigest);
  t.deepEqual(found[0]!.repoTags, ['multi:1']);
});

test('a Docker manifest list is read like an OCI index', async (t) => {
  const { built, found } = await pick(t, twoPlatforms({ dockerList: true }));
  t.is(found[0]!.manifestDigest, built.images[0]!.manifestDigest);
});

test('no manifest for the wanted platform is EPLATFORM listing what is there', async (t) => {
  const tar = await buildMultiImageLayout(twoPlatforms());
  const have = [formatPlatform(host), foreign === 'linux/arm64' ? 'linux/arm64/v8' : foreign].join(', ');
  await rejects(
    t,
    tar,
    'EPLATFORM',
    new RegExp(`^x\\.tar: index sha256:[0-9a-f]{64} has no image for linux/s390x; it has ${have.replace(/\//g, '\\/')}$`),
    'linux/s390x',
  );
});

test('a malformed --platform is EUSAGE', async (t) => {
  const tar = await buildMultiImageLayout(twoPlatforms());
  await rejects(t, tar, 'EUSAGE', 'invalid platform "amd64" (want os/arch[/variant], e.g. linux/arm64)', 'amd64');
});

test('ARM variants: v7 is preferred for linux/arm/v7, v6 still runs there, v8 does not', async (t) => {
  const layout = (variants: string[]): MultiLayoutOptions => ({
    images: [{ index: variants.map((v, i) => ({ platform: `linux/arm/${v}`, layers: [[{ path: `v${i}`, content: v }]] })) }],
  });
  const both = await pick(t, layout(['v6', 'v7']), 'linux/arm/v7');
  t.is(both.found[0]!.manifestDigest, both.built.images[1]!.manifestDigest);
  const older = await pick(t, layout(['v6']), 'linux/arm/v7');
  t.is(older.found[0]!.manifestDigest, older.built.images[0]!.manifestDigest);
  const arm64Alias = await pick(t, { images: [{ index: [{ platform: 'linux/arm64', layers: [other] }] }] }, 'linux/aarch64');
  t.is(arm64Alias.found.length, 1);
  await rejects(
    t,
    await buildMultiImageLayout(layout(['v8'])),
    'EPLATFORM',
    /has no image for linux\/arm\/v7; it has linux\/arm\/v8$/,
    'linux/arm/v7',
  );
});

test('attestation manifests in an index are never picked', async (t) => {
  const tar = await buildMultiImageLayout({
    images: [
      {
        index: [
          { platform: 'unknown/unknown', layers: [other] },
          { platform: foreign, layers: [small] },
        ],
      },
    ],
  });
  await rejects(t, tar, 'EPLATFORM', /has no image for .*; it has /);
  const found = await imagesOf(t, tar, foreign);
  t.is(found.length, 1);
});

test('a single manifest that states no platform is loaded on any host', async (t) => {
  const { tar } = await buildImageWithInfo({ format: 'oci', layers: [small], platform: foreign });
  t.is((await imagesOf(t, tar)).length, 1, 'index.json states no platform: taken as it is');
});

test('a single manifest whose descriptor states another platform is EPLATFORM only under --platform', async (t) => {
  const tar = await buildMultiImageLayout({ images: [{ name: 'one:1', platform: foreign, describePlatform: true, layers: [small] }] });
  t.is((await imagesOf(t, tar)).length, 1);
  await rejects(t, tar, 'EPLATFORM', /^x\.tar: manifest sha256:[0-9a-f]{64} has no image for linux\/s390x; it has linux\//, 'linux/s390x');
});

test("platform manifests listed flat in index.json under one name are one image: the host's is picked", async (t) => {
  const { built, found } = await pick(t, {
    images: [
      { name: 'flat:1', platform: foreign, describePlatform: true, layers: [other] },
      { name: 'flat:1', platform: formatPlatform(host), describePlatform: true, layers: [small] },
    ],
  });
  t.deepEqual(
    found.map((i) => [i.manifestDigest, i.repoTags]),
    [[built.images[1]!.manifestDigest, ['flat:1']]],
  );
});

test('one manifest listed under several names is one image with all the tags', async (t) => {
  const { built, found } = await pick(t, {
    images: [
      { name: 'docker.io/library/app:1', layers: [small] },
      { name: 'docker.io/library/app:latest', layers: [small] },
    ],
  });
  t.is(built.images[0]!.manifestDigest, built.images[1]!.manifestDigest);
  t.deepEqual(
    found.map((i) => [i.manifestDigest, i.repoTags]),
    [[built.images[0]!.manifestDigest, ['app:1', 'app:latest']]],
  );
});

// ---------------------------------------------------------------- hostile and broken layouts

interface Case {
  title: string;
  code: string;
  message: string | RegExp;
  edit: (image: Awaited<ReturnType<typeof buildImageWithInfo>>['image']) => (entries: OuterEntry[]) => OuterEntry[];
}

const cases: Case[] = [
  {
    title: 'a missing layer blob',
    code: 'EINVALIDARCHIVE',
    message: /^x\.tar: manifest sha256:[0-9a-f]{64} layers\[1\]: blob blobs\/sha256\/[0-9a-f]{64} is missing from the archive$/,
    edit: (image) => (entries) => entries.filter((e) => e.name !== blob(image.layers[1]!.digest)),
  },
  {
    title: 'a missing manifest blob',
    code: 'EINVALIDARCHIVE',
    message: /^x\.tar: manifest sha256:[0-9a-f]{64}: blob blobs\/sha256\/[0-9a-f]{64} is missing from the archive$/,
    edit: (image) => (entries) => entries.filter((e) => e.name !== blob(image.manifestDigest)),
  },
  {
    title: 'a missing config blob',
    code: 'EINVALIDARCHIVE',
    message: /^x\.tar: manifest sha256:[0-9a-f]{64} config: blob blobs\/sha256\/[0-9a-f]{64} is missing from the archive$/,
    edit: (image) => (entries) => entries.filter((e) => e.name !== blob(image.configDigest)),
  },
  {
    title: 'a manifest whose bytes do not match its digest',
    code: 'EINTEGRITY',
    message: /^x\.tar: blobs\/sha256\/[0-9a-f]{64}: content is sha256:[0-9a-f]{64}, but it was named sha256:[0-9a-f]{64}$/,
    edit: (image) => (entries) =>
      entries.map((e) =>
        e.name === blob(image.manifestDigest) ? { ...e, content: String(e.content).replace('"schemaVersion":2', '"schemaVersion":3') } : e,
      ),
  },
  {
    title: "a blob whose size is not its descriptor's",
    code: 'EINTEGRITY',
    message: /^x\.tar: blobs\/sha256\/[0-9a-f]{64}: 6 bytes, but manifest sha256:[0-9a-f]{64} config says \d+$/,
    edit: (image) => (entries) => entries.map((e) => (e.name === blob(image.configDigest) ? { ...e, content: '{"a":1' } : e)),
  },
  {
    title: 'a sha512 digest',
    code: 'EINVALIDARCHIVE',
    message: `x.tar: index.json manifests[0]: invalid digest "sha512:${'ab'.repeat(64)}" (want sha256:<64 hex>)`,
    edit: () =>
      editJson('index.json', (doc) => ({
        ...doc,
        manifests: [{ ...(doc.manifests as object[])[0], digest: `sha512:${'ab'.repeat(64)}` }],
      })),
  },
  {
    title: 'a digest that tries to be a path',
    code: 'EINVALIDARCHIVE',
    message: 'x.tar: index.json manifests[0]: invalid digest "sha256:../../../etc/passwd" (want sha256:<64 hex>)',
    edit: () =>
      editJson('index.json', (doc) => ({
        ...doc,
        manifests: [{ ...(doc.manifests as object[])[0], digest: 'sha256:../../../etc/passwd' }],
      })),
  },
  {
    title: 'invalid JSON in index.json',
    code: 'EINVALIDARCHIVE',
    message: /^x\.tar: index\.json: invalid JSON: .+$/,
    edit: () => (entries) => entries.map((e) => (e.name === 'index.json' ? { ...e, content: '{"schemaVersion": 2, "manifests": [' } : e)),
  },
  {
    title: 'an index.json bigger than 4 MiB',
    code: 'ELIMIT',
    message: /^x\.tar: index\.json: JSON entry is \d+ bytes \(limit 4194304\)$/,
    edit: () => editJson('index.json', (doc) => ({ ...doc, padding: 'x'.repeat(4 * 1024 * 1024) })),
  },
  {
    title: 'a descriptor that calls an index a manifest',
    code: 'EINVALIDARCHIVE',
    message: /^x\.tar: index sha256:[0-9a-f]{64} is a manifest, not an index$/,
    edit: () =>
      editJson('index.json', (doc) => ({
        ...doc,
        manifests: [{ ...(doc.manifests as object[])[0], mediaType: 'application/vnd.oci.image.index.v1+json' }],
      })),
  },
  {
    title: 'an unsupported oci-layout version',
    code: 'EINVALIDARCHIVE',
    message: 'x.tar: oci-layout: unsupported imageLayoutVersion "2.0.0"',
    edit: () => editJson('oci-layout', () => ({ imageLayoutVersion: '2.0.0' })),
  },
  {
    title: 'no oci-layout file',
    code: 'EINVALIDARCHIVE',
    message: 'x.tar: oci-layout is missing (not an OCI image layout)',
    edit: () => (entries) => entries.filter((e) => e.name !== 'oci-layout'),
  },
  {
    title: 'index.json naming only artifacts',
    code: 'EINVALIDARCHIVE',
    message: 'x.tar: index.json names no image manifests',
    edit: () =>
      editJson('index.json', (doc) => ({
        ...doc,
        manifests: [{ ...(doc.manifests as object[])[0], mediaType: 'application/vnd.cncf.helm.chart.v1+json' }],
      })),
  },
];

for (const c of cases) {
  test(`OCI layout with ${c.title} is ${c.code}`, async (t) => {
    const first = await buildImageWithInfo({ format: 'oci', layers: [small, other] });
    // Same spec, so the same digests: the edit can name the blobs it breaks.
    const { tar } = await buildImageWithInfo({ format: 'oci', layers: [small, other], editEntries: c.edit(first.image) });
    await rejects(t, tar, c.code, c.message);
  });
}

/** Rewrites the manifest blob and index.json together, so only the manifest's content is at fault. */
function rewriteManifest(
  fn: (m: Record<string, unknown>) => unknown,
): (image: { manifestDigest: string }) => (entries: OuterEntry[]) => OuterEntry[] {
  return (image) => (entries) => {
    const old = entries.find((e) => e.name === blob(image.manifestDigest))!;
    const bytes = Buffer.from(JSON.stringify(fn(JSON.parse(String(old.content)) as Record<string, unknown>)));
    const digest = sha256(bytes);
    return entries.map((e) => {
      if (e === old) return { name: blob(digest), content: bytes };
      if (e.name === 'index.json') {
        const doc = JSON.parse(String(e.content)) as { manifests: object[] };
        return { ...e, content: JSON.stringify({ ...doc, manifests: [{ ...doc.manifests[0], digest, size: bytes.length }] }) };
      }
      return e;
    });
  };
}

const manifestCases: Array<[string, (m: Record<string, unknown>) => unknown, RegExp]> = [
  [
    'a foreign layer',
    (m) => ({
      ...m,
      layers: [
        {
          ...(m.layers as object[])[0],
          mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
          urls: ['https://example.invalid/l'],
        },
      ],
    }),
    /^x\.tar: manifest sha256:[0-9a-f]{64} layers\[0\] is a foreign \(non-distributable\) layer sha256:[0-9a-f]{64}; its content is not in the archive and strata does not fetch it$/,
  ],
  [
    'a non-distributable OCI layer',
    (m) => ({
      ...m,
      layers: [{ ...(m.layers as object[])[0], mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip' }],
    }),
    /layers\[0\] is a foreign \(non-distributable\) layer/,
  ],
  [
    'an unknown layer media type',
    (m) => ({ ...m, layers: [{ ...(m.layers as object[])[0], mediaType: 'text/plain' }] }),
    /^x\.tar: manifest sha256:[0-9a-f]{64} layers\[0\]: unsupported layer media type text\/plain$/,
  ],
  [
    'a config that is not an image config',
    (m) => ({ ...m, config: { ...(m.config as object), mediaType: 'application/vnd.cncf.helm.config.v1+json' } }),
    /^x\.tar: manifest sha256:[0-9a-f]{64}: not a container image \(config media type application\/vnd\.cncf\.helm\.config\.v1\+json\)$/,
  ],
  [
    'an implausible media type',
    (m) => ({ ...m, mediaType: 'application/json' }),
    /^x\.tar: manifest sha256:[0-9a-f]{64}: media type "application\/json" is not an image manifest$/,
  ],
  [
    'an index inside',
    (m) => ({ schemaVersion: 2, manifests: [], config: m.config }),
    /^x\.tar: manifest sha256:[0-9a-f]{64} is an index, not a manifest$/,
  ],
  ['a missing layers array', (m) => ({ ...m, layers: undefined }), /^x\.tar: manifest sha256:[0-9a-f]{64}: layers is not an array$/],
];
for (const [title, fn, message] of manifestCases) {
  test(`a manifest with ${title} is EINVALIDARCHIVE`, async (t) => {
    const first = await buildImageWithInfo({ format: 'oci', layers: [small] });
    const { tar } = await buildImageWithInfo({ format: 'oci', layers: [small], editEntries: rewriteManifest(fn)(first.image) });
    await rejects(t, tar, 'EINVALIDARCHIVE', message);
  });
}
