import test from 'ava';
import fs from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PassThrough } from 'node:stream';
import { loadImages } from '../../src/transfer/load.js';
import { saveImages, saveImagesToFile } from '../../src/transfer/save.js';
import { findImage } from '../../src/image/lookup.js';
import { readImageRecord, writeImageRecord } from '../../src/image/record.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { formatTreeTsv, listTree } from '../../src/resolver/tree.js';
import type { Store } from '../../src/store/root.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { strata } from '../helpers/cli.js';
import { parseTar } from '../helpers/raw-tar.js';
import { testUnless } from '../helpers/skip.js';
import { commandSkipReason } from '../helpers/tools.js';
import { buildImageWithInfo, type LayerEntry } from '../helpers/image-builder.js';

const run = promisify(execFile);
const sha256Of = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
// Probed before any test is declared: ava takes every declaration in the file's first turn.
const noSkopeo = await commandSkipReason('skopeo', ['--version'], 'skopeo is not installed');
const noUmoci = await commandSkipReason('umoci', ['--version'], 'umoci is not installed');

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/os-release', content: 'ID=strata\n' },
  { path: 'bin/', type: 'dir' },
  { path: 'bin/tool', content: 'x'.repeat(1000), mode: 0o755 },
];
const top: LayerEntry[] = [{ path: 'app.txt', content: 'app\n' }];

async function saveToBuffer(store: Store, names: string[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await saveImages(store, names, out);
  out.end();
  return Buffer.concat(chunks);
}

async function storedBlobs(store: Store): Promise<string[]> {
  return (await fs.readdir(store.paths.blobsDir)).filter((n) => !n.startsWith('.')).sort();
}

/** The merged tree of a new container of the image, as `fs` commands see it. */
async function treeOf(store: Store, name: string): Promise<string> {
  const record = await createContainer(store, name);
  return formatTreeTsv(await listTree(await containerView(store, record)));
}

function entriesOf(tar: Buffer): Map<string, Buffer> {
  return new Map(parseTar(tar).map((e) => [e.name, e.body]));
}

async function loaded(t: Parameters<typeof tmpStore>[0], format: 'oci' | 'docker', tags: string[], layers = [base, top]) {
  const fixture = await tmpStore(t);
  const built = await buildImageWithInfo({ format, repoTags: tags, layers });
  const file = path.join(fixture.dir, 'in.tar');
  await fs.writeFile(file, built.tar);
  await loadImages(fixture.store, { path: file });
  return { ...fixture, built, file };
}

for (const format of ['oci', 'docker'] as const) {
  test(`load (${format}) → save → load into a fresh store keeps image IDs, blob digests and the tree`, async (t) => {
    const a = await loaded(t, format, ['app:1']);
    const saved = path.join(a.dir, 'saved.tar');
    await saveImagesToFile(a.store, ['app:1'], saved);
    const b = await tmpStore(t);
    const [image] = await loadImages(b.store, { path: saved });
    t.is(image!.id, a.built.image.imageId);
    const record = await readImageRecord(b.store, image!.id);
    if (format === 'oci') {
      t.is(record.manifestDigest, a.built.image.manifestDigest);
      t.deepEqual(await storedBlobs(b.store), await storedBlobs(a.store));
    } else {
      // docker save input has no manifest: the one save wrote is stored beside the same blobs.
      t.deepEqual(await storedBlobs(b.store), [...(await storedBlobs(a.store)), record.manifestDigest!.slice(7)].sort());
    }
    t.deepEqual(
      record.layers.map((l) => l.blobDigest),
      a.built.image.layers.map((l) => l.digest),
    );
    const tree = await treeOf(b.store, 'app:1');
    t.regex(tree, /app\.txt/);
    t.regex(tree, /bin\/tool/);
    t.is(tree, await treeOf(a.store, 'app:1'));
  });
}

test("the saved tar's index.json, manifest.json and repositories are Docker 25's", async (t) => {
  const a = await loaded(t, 'oci', ['app:1']);
  const img = a.built.image;
  const entries = entriesOf(await saveToBuffer(a.store, ['app:1']));
  const hex = (d: string) => d.slice('sha256:'.length);
  const manifestBytes = entries.get(`blobs/sha256/${hex(img.manifestDigest)}`)!;
  t.truthy(manifestBytes, 'the manifest is stored under its own digest');
  t.deepEqual(JSON.parse(entries.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
  t.deepEqual(JSON.parse(entries.get('index.json')!.toString()), {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: img.manifestDigest,
        size: manifestBytes.length,
        annotations: { 'io.containerd.image.name': 'docker.io/library/app:1', 'org.opencontainers.image.ref.name': '1' },
      },
    ],
  });
  t.deepEqual(JSON.parse(entries.get('manifest.json')!.toString()), [
    {
      Config: `blobs/sha256/${hex(img.configDigest)}`,
      RepoTags: ['app:1'],
      Layers: img.layers.map((l) => `blobs/sha256/${hex(l.digest)}`),
    },
  ]);
  t.deepEqual(JSON.parse(entries.get('repositories')!.toString()), { app: { '1': hex(img.layers[1]!.digest) } });
  t.deepEqual(
    [...entries.keys()].filter((n) => n.startsWith('blobs/sha256/') && n.length > 'blobs/sha256/'.length).sort(),
    [img.configDigest, img.manifestDigest, ...img.layers.map((l) => l.digest)].map((d) => `blobs/sha256/${hex(d)}`).sort(),
  );
});

test('an image loaded without a manifest (docker save) gets an OCI manifest naming its stored blobs', async (t) => {
  const a = await loaded(t, 'docker', ['old:1']);
  const entries = entriesOf(await saveToBuffer(a.store, ['old:1']));
  const index = JSON.parse(entries.get('index.json')!.toString()) as { manifests: Array<{ digest: string }> };
  const manifest = JSON.parse(entries.get(`blobs/sha256/${index.manifests[0]!.digest.slice(7)}`)!.toString()) as {
    config: { digest: string };
    layers: Array<{ digest: string }>;
  };
  t.is(manifest.config.digest, a.built.image.configDigest);
  t.deepEqual(
    manifest.layers.map((l) => l.digest),
    a.built.image.layers.map((l) => l.digest),
  );
});

test('two images sharing a layer write the shared blob once', async (t) => {
  const a = await loaded(t, 'oci', ['a:1']);
  const other = await buildImageWithInfo({ format: 'oci', repoTags: ['b:1'], layers: [base, [{ path: 'b.txt', content: 'b' }]] });
  await fs.writeFile(path.join(a.dir, 'b.tar'), other.tar);
  await loadImages(a.store, { path: path.join(a.dir, 'b.tar') });
  const names = parseTar(await saveToBuffer(a.store, ['a:1', 'b:1'])).map((e) => e.name);
  const shared = `blobs/sha256/${other.image.layers[0]!.digest.slice(7)}`;
  t.is(names.filter((n) => n === shared).length, 1);
  t.is(new Set(names).size, names.length, 'no entry twice');
});

test('-o into a missing directory is one line and leaves nothing', async (t) => {
  const a = await loaded(t, 'oci', ['app:1']);
  const target = path.join(a.dir, 'missing', 'out.tar');
  const r = await strata(a.store.root, ['save', '-o', target, 'app:1']);
  t.is(r.code, 1);
  t.is(r.stderr, `strata: ${target}: No such file or directory\n`);
  t.deepEqual(await fs.readdir(a.dir).then((n) => n.filter((x) => x !== 'store' && x !== 'in.tar')), []);
});

test('save refuses a terminal', async (t) => {
  const a = await loaded(t, 'oci', ['app:1']);
  const r = await strata(a.store.root, ['image', 'save', 'app:1'], { tty: true });
  t.is(r.code, 1);
  t.is(r.stderr, 'strata: cowardly refusing to save to a terminal. Use the -o flag or redirect\n');
  t.is(r.stdout, '');
});

test('an image with a missing blob is refused, naming the image and the blob, and -o leaves nothing', async (t) => {
  const a = await loaded(t, 'oci', ['app:1']);
  const layer = a.built.image.layers[1]!.digest;
  const record = await findImage(a.store, 'app:1');
  await writeImageRecord(a.store, { ...record, missingBlobs: [layer] });
  const target = path.join(a.dir, 'out.tar');
  const r = await strata(a.store.root, ['save', '-o', target, 'app:1']);
  t.is(r.stderr, `strata: image app:1 is missing blob ${layer}: load or pull it again to save it\n`);
  t.is(r.code, 1);
  await t.throwsAsync(fs.stat(target));

  await writeImageRecord(a.store, record);
  await fs.rm(path.join(a.store.paths.blobsDir, layer.slice(7)));
  const r2 = await strata(a.store.root, ['save', '-o', target, 'app:1']);
  t.is(r2.stderr, `strata: image app:1 is missing blob ${layer}: load or pull it again to save it\n`);
  t.deepEqual((await fs.readdir(a.dir)).sort(), ['in.tar', 'store']);
});

testUnless(noSkopeo)('skopeo reads the saved archive with the manifest digest of the loaded OCI input', async (t) => {
  const a = await loaded(t, 'oci', ['app:1']);
  const saved = path.join(a.dir, 'saved.tar');
  t.is((await strata(a.store.root, ['save', '-o', saved, 'app:1'])).code, 0);
  const { stdout } = await run('skopeo', ['inspect', '--raw', `oci-archive:${saved}:1`]);
  const { stdout: digest } = await run('skopeo', ['inspect', '--format', '{{.Digest}}', `oci-archive:${saved}:1`]);
  t.is(digest.trim(), a.built.image.manifestDigest);
  t.is((JSON.parse(stdout) as { config: { digest: string } }).config.digest, a.built.image.configDigest);
  // skopeo's docker-archive reader takes manifest.json: the same config, so the same image.
  const { stdout: viaDocker } = await run('skopeo', ['inspect', '--config', '--raw', `docker-archive:${saved}`]);
  t.is(sha256Of(viaDocker), a.built.image.configDigest);
});

testUnless(noUmoci)('umoci unpacks the extracted save into a rootfs with the image files', async (t) => {
  const a = await loaded(t, 'oci', ['app:1']);
  const saved = path.join(a.dir, 'saved.tar');
  await saveImagesToFile(a.store, ['app:1'], saved);
  const layout = path.join(a.dir, 'layout');
  await fs.mkdir(layout);
  await run('tar', ['-xf', saved, '-C', layout]);
  const bundle = path.join(a.dir, 'bundle');
  await run('umoci', ['unpack', '--rootless', '--image', `${layout}:1`, bundle]);
  const rootfs = path.join(bundle, 'rootfs');
  t.is(await fs.readFile(path.join(rootfs, 'etc', 'os-release'), 'utf8'), 'ID=strata\n');
  t.is(await fs.readFile(path.join(rootfs, 'app.txt'), 'utf8'), 'app\n');
});
