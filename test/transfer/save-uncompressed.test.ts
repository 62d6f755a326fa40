import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { PassThrough } from 'node:stream';
import { loadImages } from '../../src/transfer/load.js';
import { saveImages, saveImagesToFile } from '../../src/transfer/save.js';
import { readImageRecord } from '../../src/image/record.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { formatTreeTsv, listTree } from '../../src/resolver/tree.js';
import type { Store } from '../../src/store/root.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { strata } from '../helpers/cli.js';
import { parseTar } from '../helpers/raw-tar.js';
import { testUnless } from '../helpers/skip.js';
import { zstdSkipReason } from '../helpers/tools.js';
import { buildImageWithInfo, sha256, type Compression, type LayerEntry } from '../helpers/image-builder.js';

const zstdMissing = await zstdSkipReason();

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/os-release', content: 'ID=strata\n' },
  { path: 'bin/', type: 'dir' },
  { path: 'bin/tool', content: 'x'.repeat(5000), mode: 0o755 },
];
const middle: LayerEntry[] = [{ path: 'etc/.wh.os-release' }, { path: 'lib/', type: 'dir' }, { path: 'lib/a.so', size: 70_000, seed: 7 }];
const top: LayerEntry[] = [{ path: 'app.txt', content: 'app\n' }];
const hex = (digest: string) => digest.slice('sha256:'.length);
const TAR = 'application/vnd.oci.image.layer.v1.tar';

async function saveToBuffer(store: Store, names: string[], uncompressed = true): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await saveImages(store, names, out, { uncompressed });
  out.end();
  return Buffer.concat(chunks);
}

async function loaded(t: Parameters<typeof tmpStore>[0], compression: Compression[], tag = 'app:1') {
  const fixture = await tmpStore(t);
  const built = await buildImageWithInfo({
    format: 'oci',
    repoTags: [tag],
    layers: [base, middle, top].map((entries, i) => ({ entries, compression: compression[i % compression.length] })),
  });
  const file = path.join(fixture.dir, 'in.tar');
  await fs.writeFile(file, built.tar);
  await loadImages(fixture.store, { path: file });
  return { ...fixture, built, file };
}

async function treeOf(store: Store, name: string): Promise<string> {
  return formatTreeTsv(await listTree(await containerView(store, await createContainer(store, name))));
}

const layerKinds: Array<[string, Compression[]]> = [
  ['gzip', ['gzip']],
  ['plain, gzip and zstd', ['none', 'gzip', 'zstd']],
];
for (const [title, compression] of layerKinds) {
  const maybe = testUnless(compression.includes('zstd') ? zstdMissing : null);
  maybe(`--uncompressed (${title} layers): plain tars named by their diffIDs under a new manifest; config unchanged`, async (t) => {
    const a = await loaded(t, compression);
    const img = a.built.image;
    const entries = new Map(parseTar(await saveToBuffer(a.store, ['app:1'])).map((e) => [e.name, e.body]));
    const compressed = new Map(parseTar(await saveToBuffer(a.store, ['app:1'], false)).map((e) => [e.name, e.body]));
    const diffIds = img.layers.map((l) => l.diffId);
    const plainTars = diffIds.map((d) => entries.get(`blobs/sha256/${hex(d)}`)!);
    for (const [i, layer] of img.layers.entries()) {
      t.is(sha256(plainTars[i]!), layer.diffId, `layer ${i} is its plain tar`);
      const blob = compressed.get(`blobs/sha256/${hex(layer.digest)}`)!;
      const expected = layer.compression === 'gzip' ? zlib.gunzipSync(blob) : layer.compression === 'none' ? blob : null;
      if (expected !== null) t.deepEqual(plainTars[i], expected);
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: img.configDigest,
        size: entries.get(`blobs/sha256/${hex(img.configDigest)}`)!.length,
      },
      layers: diffIds.map((digest, i) => ({ mediaType: TAR, digest, size: plainTars[i]!.length })),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = sha256(manifestBytes);
    t.deepEqual(entries.get(`blobs/sha256/${hex(manifestDigest)}`), manifestBytes);
    t.not(manifestDigest, img.manifestDigest);
    t.deepEqual(JSON.parse(entries.get('index.json')!.toString()), {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifestBytes.length,
          annotations: { 'io.containerd.image.name': 'docker.io/library/app:1', 'org.opencontainers.image.ref.name': '1' },
        },
      ],
    });
    t.deepEqual(JSON.parse(entries.get('manifest.json')!.toString()), [
      { Config: `blobs/sha256/${hex(img.configDigest)}`, RepoTags: ['app:1'], Layers: diffIds.map((d) => `blobs/sha256/${hex(d)}`) },
    ]);
    t.deepEqual(JSON.parse(entries.get('repositories')!.toString()), { app: { '1': hex(diffIds.at(-1)!) } });
    t.deepEqual(
      [...entries.keys()].filter((n) => /^blobs\/sha256\/./.test(n)).sort(),
      [img.configDigest, manifestDigest, ...diffIds].map((d) => `blobs/sha256/${hex(d)}`).sort(),
      'no compressed blob and no old manifest',
    );
  });
}

test('--uncompressed save loads into a fresh store as the same image ID and tree, and saves again byte for byte', async (t) => {
  const a = await loaded(t, ['gzip']);
  const saved = path.join(a.dir, 'plain.tar');
  await saveImagesToFile(a.store, ['app:1'], saved, { uncompressed: true });
  const b = await tmpStore(t);
  const [image] = await loadImages(b.store, { path: saved });
  t.is(image!.id, a.built.image.imageId);
  const record = await readImageRecord(b.store, image!.id);
  t.deepEqual(
    record.layers.map((l) => l.blobDigest),
    a.built.image.layers.map((l) => l.diffId),
  );
  t.is(await treeOf(b.store, 'app:1'), await treeOf(a.store, 'app:1'));
  // The second store holds the plain tars: saving from it reads them as they are.
  t.deepEqual(await saveToBuffer(b.store, ['app:1']), await fs.readFile(saved));
  // The default form writes the same blobs (the stored ones are plain) and the same manifest; only the order differs.
  const sorted = (tar: Buffer) =>
    parseTar(tar)
      .sort((x, y) => (x.name < y.name ? -1 : 1))
      .map((e) => [e.name, e.body]);
  t.deepEqual(sorted(await saveToBuffer(b.store, ['app:1'], false)), sorted(await fs.readFile(saved)));
});

test('--uncompressed: a layer shared by two images is written once, and each image gets its own manifest', async (t) => {
  const a = await loaded(t, ['gzip']);
  const other = await buildImageWithInfo({ format: 'oci', repoTags: ['b:1'], layers: [base, [{ path: 'b.txt', content: 'b' }]] });
  await fs.writeFile(path.join(a.dir, 'b.tar'), other.tar);
  await loadImages(a.store, { path: path.join(a.dir, 'b.tar') });
  const tar = parseTar(await saveToBuffer(a.store, ['app:1', 'b:1']));
  const names = tar.map((e) => e.name);
  t.is(names.filter((n) => n === `blobs/sha256/${hex(other.image.layers[0]!.diffId)}`).length, 1);
  t.is(new Set(names).size, names.length, 'no entry twice');
  const manifestJson = JSON.parse(tar.find((e) => e.name === 'manifest.json')!.body.toString()) as Array<{ Layers: string[] }>;
  t.deepEqual(
    manifestJson.map((m) => m.Layers),
    [a.built.image.layers, other.image.layers].map((layers) => layers.map((l) => `blobs/sha256/${hex(l.diffId)}`)),
  );
  const index = JSON.parse(tar.find((e) => e.name === 'index.json')!.body.toString()) as { manifests: Array<{ digest: string }> };
  t.is(new Set(index.manifests.map((m) => m.digest)).size, 2);
});

test('save --uncompressed -o: a blob that does not decompress is one line naming it, and no file is left', async (t) => {
  const a = await loaded(t, ['gzip']);
  const layer = a.built.image.layers[1]!;
  const blob = path.join(a.store.paths.blobsDir, hex(layer.digest));
  const bytes = await fs.readFile(blob);
  await fs.chmod(blob, 0o644).catch(() => {});
  await fs.writeFile(blob, Buffer.concat([bytes.subarray(0, 20), Buffer.alloc(bytes.length - 20, 0xff)]));
  const target = path.join(a.dir, 'out.tar');
  const r = await strata(a.store.root, ['save', '--uncompressed', '-o', target, 'app:1']);
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, new RegExp(`^strata: blob ${layer.digest} cannot be decompressed: [^\\n]+\\n$`));
  t.deepEqual((await fs.readdir(a.dir)).sort(), ['in.tar', 'store']);
});

test('save --uncompressed refuses a terminal; through `image save -o` it writes what the library writes', async (t) => {
  const a = await loaded(t, ['gzip']);
  const tty = await strata(a.store.root, ['save', '--uncompressed', 'app:1'], { tty: true });
  t.is(tty.code, 1);
  t.is(tty.stderr, 'strata: cowardly refusing to save to a terminal. Use the -o flag or redirect\n');
  t.is(tty.stdout, '');
  const target = path.join(a.dir, 'cli.tar');
  const r = await strata(a.store.root, ['image', 'save', '--uncompressed', '-o', target, 'app:1']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(await fs.readFile(target), await saveToBuffer(a.store, ['app:1']));
});

test('save --uncompressed stops at an abort: EINTERRUPTED, and -o keeps the file it would have replaced', async (t) => {
  const a = await loaded(t, ['gzip']);
  const target = path.join(a.dir, 'out.tar');
  await fs.writeFile(target, 'previous save\n');
  const stopped = new AbortController();
  stopped.abort('SIGINT');
  await t.throwsAsync(saveImagesToFile(a.store, ['app:1'], target, { uncompressed: true, signal: stopped.signal }), {
    code: 'EINTERRUPTED',
  });
  t.deepEqual((await fs.readdir(a.dir)).sort(), ['in.tar', 'out.tar', 'store']);
  t.is(await fs.readFile(target, 'utf8'), 'previous save\n');

  // Aborted once the first bytes are out: no further layer is read.
  const midway = new AbortController();
  let written = 0;
  const out = new PassThrough();
  out.on('data', (c: Buffer) => {
    written += c.length;
    midway.abort('SIGINT');
  });
  await t.throwsAsync(saveImages(a.store, ['app:1'], out, { uncompressed: true, signal: midway.signal }), { code: 'EINTERRUPTED' });
  t.true(written > 0 && written < 70_000, `${written} bytes written before the abort was seen`);
});
