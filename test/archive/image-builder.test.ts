import test from 'ava';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import tarStream from 'tar-stream';
import { openArchive } from '../../src/archive/open-archive.js';
import { readImages } from '../../src/archive/read-images.js';
import { decompress } from '../../src/archive/compression.js';
import { buildImage, buildImageWithInfo, sha256, type LayerEntry } from '../helpers/image-builder.js';
import { testUnless } from '../helpers/skip.js';
import { zstdSkipReason } from '../helpers/tools.js';

const zstdMissing = await zstdSkipReason();

/** The builder is test infrastructure every other suite trusts: it gets tests of its own. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

async function layerEntries(layerTar: Buffer) {
  const extract = tarStream.extract();
  Readable.from([layerTar]).pipe(extract as unknown as NodeJS.WritableStream);
  const out = [];
  for await (const entry of extract) {
    const body = await buffer(entry as unknown as Readable);
    const h = entry.header;
    out.push({
      name: h.name,
      type: h.type,
      mode: h.mode & 0o7777,
      linkname: h.linkname ?? '',
      size: body.length,
      pax: h.pax ?? null,
      mtime: h.mtime.getTime() / 1000,
    });
  }
  return out;
}

const spec: LayerEntry[] = [
  { path: 'd/', type: 'dir', mode: 0o700 },
  { path: 'd/zero', content: 'no access', mode: 0 },
  { path: 'd/big', size: 100_000, seed: 'big' },
  { path: 'd/link', type: 'symlink', linkname: '../x' },
  { path: 'd/hard', type: 'hardlink', linkname: 'd/zero' },
  { path: 'd/fifo', type: 'fifo' },
  { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3 },
  { path: 'd/attr', content: 'x', xattrs: { 'user.k': 'v' } },
  { path: 'gone', type: 'whiteout' },
  { path: 'd/sub', type: 'opaque' },
];

test('the same spec builds the same bytes', async (t) => {
  const a = await buildImage({ format: 'oci', layers: [spec], repoTags: ['x:1'] });
  const b = await buildImage({ format: 'oci', layers: [spec], repoTags: ['x:1'] });
  t.true(a.equals(b));
  const c = await buildImage({ format: 'oci', layers: [[...spec, { path: 'more', content: '!' }]], repoTags: ['x:1'] });
  t.false(a.equals(c));
});

test('layer entries are written as specified, whiteouts in the OCI encoding', async (t) => {
  const { tar, image } = await buildImageWithInfo({ format: 'docker', layers: [spec] });
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-builder-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const source = await openArchive({ stream: Readable.from([tar]), displayName: 'x.tar' }, { spoolDir: dir });
  t.teardown(() => source.close());
  const [found] = await readImages(source);
  const layerTar = await buffer(source.open(found!.layers[0]!.path));
  t.is(sha256(layerTar), image.layers[0]!.diffId, 'the diffID is the hash of the layer tar');
  const config = (await source.readJson(found!.configPath)) as { rootfs: { diff_ids: string[] }; architecture: string; os: string };
  t.deepEqual(config.rootfs.diff_ids, [image.layers[0]!.diffId]);
  t.is(found!.configDigest, image.imageId);
  const entries = await layerEntries(layerTar);
  t.deepEqual(
    entries.map((e) => [e.name, e.type, e.mode, e.linkname, e.size]),
    [
      ['d/', 'directory', 0o700, '', 0],
      ['d/zero', 'file', 0, '', 9],
      ['d/big', 'file', 0o644, '', 100_000],
      ['d/link', 'symlink', 0o777, '../x', 0],
      ['d/hard', 'link', 0o644, 'd/zero', 0],
      ['d/fifo', 'fifo', 0o644, '', 0],
      ['dev/null', 'character-device', 0o644, '', 0],
      ['d/attr', 'file', 0o644, '', 1],
      ['.wh.gone', 'file', 0o600, '', 0],
      ['d/sub/.wh..wh..opq', 'file', 0o600, '', 0],
    ],
  );
  // Only what ustar cannot hold goes into pax: the name fits, so there is no `path` record.
  t.deepEqual(entries.find((e) => e.name === 'd/attr')!.pax, { 'SCHILY.xattr.user.k': 'v' });
  t.true(entries.every((e) => e.mtime === 1_700_000_000));
});

test('gzip layers are named by the digest of the compressed blob', async (t) => {
  const { tar, image } = await buildImageWithInfo({ format: 'oci', layers: [spec], compression: 'gzip' });
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-builder-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const source = await openArchive({ stream: Readable.from([tar]), displayName: 'x.tar' }, { spoolDir: dir });
  t.teardown(() => source.close());
  const [found] = await readImages(source);
  const blob = await buffer(source.open(found!.layers[0]!.path));
  t.is(sha256(blob), image.layers[0]!.digest);
  t.is(sha256(zlib.gunzipSync(blob)), image.layers[0]!.diffId);
});

testUnless(zstdMissing)('zstd layers decompress to the diffID', async (t) => {
  const { tar, image } = await buildImageWithInfo({ format: 'oci', layers: [spec], compression: 'zstd' });
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-builder-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const source = await openArchive({ stream: Readable.from([tar]), displayName: 'x.tar' }, { spoolDir: dir });
  t.teardown(() => source.close());
  const [found] = await readImages(source);
  const { stream, compression } = await decompress(source.open(found!.layers[0]!.path));
  t.is(compression, 'zstd');
  t.is(sha256(await buffer(stream)), image.layers[0]!.diffId);
});

test('fixtures/demo.tar is demo:latest with its two layers', async (t) => {
  // Committed to the repository (fixtures/README.md says how it was made): never absent.
  const file = path.join(repoRoot, 'fixtures', 'demo.tar');
  t.true((await fsp.stat(file)).size < 64 * 1024);
  const source = await openArchive({ path: file }, { spoolDir: os.tmpdir() });
  t.teardown(() => source.close());
  const [image, ...rest] = await readImages(source);
  t.is(rest.length, 0);
  t.deepEqual(image!.repoTags, ['demo:latest']);
  const [base, top] = await Promise.all(image!.layers.map(async (l) => layerEntries(await buffer(source.open(l.path)))));
  t.deepEqual(
    base!.filter((e) => e.type === 'symlink').map((e) => [e.name, e.linkname]),
    [
      ['bin/hi', 'hello'],
      ['bin/greet', '/bin/hello'],
    ],
  );
  t.deepEqual(base!.find((e) => e.name === 'tmp/')?.mode, 0o1777);
  t.deepEqual(
    top!.map((e) => e.name),
    ['app/', 'app/hello.txt', 'etc/', 'etc/hostname', 'etc/.wh.motd'],
  );
});
