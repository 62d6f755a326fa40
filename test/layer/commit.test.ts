/** The life of a prepared layer: its record, commit, abort, and what the store shows after. */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import type { StrataError } from '../../src/errors.js';
import { chainIds } from '../../src/layer/chain-id.js';
import { layerExists, prepareLayer, readLayerRecord } from '../../src/layer/unpack.js';
import { diffIdOf, makeTar } from '../helpers/make-tar.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { FAKE_BLOB, SOURCE, listTree, unpack } from './helpers.js';

const layerTar = () =>
  makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hostname', content: 'strata\n' },
    { name: 'etc/.wh.motd' },
    { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
  ]);

test('the record says exactly what was unpacked, and layer.json holds the same', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await layerTar();
  const diffId = diffIdOf(tar);
  const [parent, chainId] = chainIds([`sha256:${'a'.repeat(64)}`, diffId]) as [string, string];
  const before = Date.now();
  const { record } = await unpack(store, tar, { chainId, parent });
  const { created, ...rest } = record;
  t.deepEqual(rest, {
    chainId,
    diffId,
    parent,
    blobDigest: FAKE_BLOB,
    size: 7 + 12, // "strata\n" and the target "/bin/busybox"
    allocatedSize: record.allocatedSize,
    entries: 4,
    whiteoutFormat: 'oci',
    unapplied: { owners: {}, devices: {}, xattrs: {} },
  });
  t.true(Date.parse(created) >= before - 1000 && Date.parse(created) <= Date.now());
  t.is(Object.keys(record).join(), 'chainId,diffId,parent,blobDigest,size,allocatedSize,entries,whiteoutFormat,unapplied,created');
  t.deepEqual(JSON.parse(await fs.readFile(store.paths.layerRecord(chainId), 'utf8')), record);
  t.deepEqual(await readLayerRecord(store, chainId), record);
  t.true(await layerExists(store, chainId));
  t.false(await layerExists(store, diffId));
  t.deepEqual(await fs.readdir(store.paths.layersDir), [chainId.slice('sha256:'.length)]);
});

test('nothing is visible before commit, and abort leaves the store as it was', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await layerTar();
  const diffId = diffIdOf(tar);
  const prepared = await prepareLayer(Readable.from([tar]), { store, diffId, chainId: diffId, parent: null, source: SOURCE });
  t.is(prepared.diffId, diffId);
  t.is(prepared.record.size, 19);
  t.false(await layerExists(store, diffId));
  const names = await fs.readdir(store.paths.layersDir);
  t.is(names.length, 1);
  t.true(names[0]!.startsWith('.tmp-'), 'work happens under a temp name that gc recognises');
  await prepared.abort();
  t.deepEqual(await fs.readdir(store.paths.layersDir), []);
  const err = (await t.throwsAsync(readLayerRecord(store, diffId))) as StrataError;
  t.is(err.code, 'ENOTFOUND');
});

test('the same chainID unpacked twice at once is stored once, and both commits return that record', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await layerTar();
  const diffId = diffIdOf(tar);
  const options = { store, diffId, chainId: diffId, parent: null, source: SOURCE };
  const [a, b] = await Promise.all([prepareLayer(Readable.from([tar]), options), prepareLayer(Readable.from([tar]), options)]);
  const first = await a.commit(FAKE_BLOB);
  const second = await b.commit(`sha256:${'c'.repeat(64)}`);
  t.deepEqual(second, first);
  t.deepEqual(await fs.readdir(store.paths.layersDir), [diffId.slice('sha256:'.length)]);
  t.deepEqual(
    (await listTree(store.paths.layerDiff(diffId))).map((e) => e.path),
    ['bin', 'bin/sh', 'etc', 'etc/.wh.motd', 'etc/hostname'],
  );
});

test('gzip, zstd and plain blobs of one tar give the same layer, and progress counts the blob', async (t) => {
  const tar = await layerTar();
  const blobs: Record<string, Buffer> = { plain: tar, gzip: zlib.gzipSync(tar) };
  try {
    blobs.zstd = execFileSync('zstd', ['-q', '-c'], { input: tar });
  } catch {
    t.log('zstd case skipped: the zstd command is not installed');
  }
  const trees = new Set<string>();
  for (const [name, blob] of Object.entries(blobs)) {
    const { store } = await tmpStore(t);
    let progress = 0;
    const { record, diff } = await unpack(store, tar, {
      blob,
      onProgress: (n) => {
        progress = n;
      },
    });
    t.is(record.diffId, diffIdOf(tar), name);
    t.is(progress, blob.length, `${name}: progress ends at the blob's size`);
    trees.add(JSON.stringify((await listTree(diff)).map(({ mtime: _m, ...e }) => e)));
  }
  t.is(trees.size, 1);
});

test('a layer exactly at its limits is accepted', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await makeTar(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, content: 'x' })));
  const { record } = await unpack(store, tar, { limits: { maxEntries: 5, maxBytes: tar.length } });
  t.is(record.entries, 5);
});

test('chainIDs are computed as in the OCI image spec (values from a real Docker layerdb)', (t) => {
  const diffIds = [
    'sha256:75a873685abf16220c86a001b140f34c09208e96005a86492771f2c016c2bcd9',
    'sha256:1d58ccaf9130f48fefab86bdb389fe34c296516cda0df27b4803152d8f7bea89',
    'sha256:2d1efa002ec8b84015cadb1de7bfc256f50faf5d71d2520fe57b851c993e8798',
  ];
  t.deepEqual(chainIds(diffIds), [
    'sha256:75a873685abf16220c86a001b140f34c09208e96005a86492771f2c016c2bcd9',
    'sha256:df9079424d4273dc1f18977082d7ae13774760c162fa5a76c24b1fc8b9118d99',
    'sha256:68caffb055df3a1b06ce0ab9595cd5eeca27e5cbc1d3deda4d53ba8dd706c772',
  ]);
  t.deepEqual(chainIds([]), []);
});

test('a layer record that is not one is reported as EBADRECORD', async (t) => {
  const { store } = await tmpStore(t);
  const chainId = `sha256:${'d'.repeat(64)}`;
  await fs.mkdir(path.dirname(store.paths.layerRecord(chainId)), { recursive: true });
  await fs.writeFile(store.paths.layerRecord(chainId), JSON.stringify({ chainId: 'sha256:other' }));
  const err = (await t.throwsAsync(readLayerRecord(store, chainId))) as StrataError;
  t.is(err.code, 'EBADRECORD');
});
