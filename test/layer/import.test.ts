/**
 * The layer import stage: one read of a blob stream verifies its digest and its
 * diffID, stores the blob and commits the layer, or leaves the store as it was.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import type { StrataError } from '../../src/errors.js';
import type { Store } from '../../src/store/root.js';
import { Lease } from '../../src/store/lease.js';
import { chainIdOf } from '../../src/layer/chain-id.js';
import { importLayer, reusableLayer, type LayerImportOptions } from '../../src/layer/import.js';
import { layerExists, readLayerRecord } from '../../src/layer/unpack.js';
import { diffIdOf, makeTar } from '../helpers/make-tar.js';
import { sha256 } from '../helpers/image-builder.js';
import { snapshotTree } from '../helpers/store-snapshot.js';
import { tmpStore } from '../helpers/tmp-store.js';

const SOURCE = 'app.tar: blobs/sha256/layer';
const PARENT = `sha256:${'a'.repeat(64)}`;
const OCI_TAR = 'application/vnd.oci.image.layer.v1.tar';
const OCI_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

async function layer(): Promise<{ tar: Buffer; gz: Buffer; diffId: string }> {
  const tar = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hostname', content: 'strata\n' },
  ]);
  return { tar, gz: zlib.gzipSync(tar), diffId: diffIdOf(tar) };
}

async function setup(t: ExecutionContext): Promise<{ store: Store; lease: Lease; before: string[] }> {
  const { store } = await tmpStore(t);
  const lease = await Lease.create(store);
  t.teardown(() => lease.release());
  return { store, lease, before: await snapshotTree(store.root) };
}

const importing = (store: Store, lease: Lease, blob: Buffer | Readable, options: Partial<LayerImportOptions> = {}) =>
  importLayer(Buffer.isBuffer(blob) ? Readable.from([blob]) : blob, { store, lease, source: SOURCE, parent: null, ...options });

function leased(lease: Lease): { blobs: string[]; layers: string[] } {
  const { blobs, layers } = JSON.parse(fs.readFileSync(lease.file, 'utf8')) as { blobs: string[]; layers: string[] };
  return { blobs, layers };
}

test('a named gzip layer is stored once as its blob and once unpacked, both noted as created by this import', async (t) => {
  const { store, lease } = await setup(t);
  const { gz, diffId } = await layer();
  const chainId = chainIdOf(PARENT, diffId);
  const imported = await importing(store, lease, gz, {
    parent: PARENT,
    diffId,
    digest: sha256(gz),
    size: gz.length,
    mediaType: DOCKER_GZIP,
  });
  t.deepEqual(
    imported.blob,
    { digest: sha256(gz), size: gz.length, mediaType: DOCKER_GZIP },
    'the descriptor keeps the media type it was named with',
  );
  t.is(imported.layer.chainId, chainId);
  t.is(imported.layer.diffId, diffId);
  t.is(imported.layer.parent, PARENT);
  t.is(imported.layer.blobDigest, sha256(gz));
  t.deepEqual(await readLayerRecord(store, chainId), imported.layer);
  t.deepEqual(await fsp.readFile(store.paths.blob(sha256(gz))), gz);
  t.is(await fsp.readFile(path.join(store.paths.layerDiff(chainId), 'etc/hostname'), 'utf8'), 'strata\n');
  t.deepEqual([...lease.created.blobs], [sha256(gz)]);
  t.deepEqual([...lease.created.layers], [chainId]);
  t.deepEqual(await fsp.readdir(store.paths.ingestDir), [], 'no temp file is left in ingest/');
});

test('without a media type, the blob is recorded as the OCI type of the compression its bytes show', async (t) => {
  const { store, lease } = await setup(t);
  const { gz, diffId } = await layer();
  t.deepEqual((await importing(store, lease, gz, { diffId })).blob, { digest: sha256(gz), size: gz.length, mediaType: OCI_GZIP });
  const plain = await makeTar([{ name: 'plain', content: 'x' }]);
  t.deepEqual((await importing(store, lease, plain, { diffId: diffIdOf(plain) })).blob, {
    digest: sha256(plain),
    size: plain.length,
    mediaType: OCI_TAR,
  });
});

test('without a diffID (a layer made from a directory), the content names the layer and its chainID is leased before it appears', async (t) => {
  const { store, lease } = await setup(t);
  const { tar, diffId } = await layer();
  const chainId = chainIdOf(PARENT, diffId);
  const imported = await importing(store, lease, tar, { parent: PARENT });
  t.is(imported.layer.diffId, diffId);
  t.is(imported.layer.chainId, chainId);
  t.true(await layerExists(store, chainId));
  t.deepEqual(leased(lease), { blobs: [sha256(tar)], layers: [chainId] });
});

test('a blob whose digest is not the one it was named by is EINTEGRITY, and the store is as it was', async (t) => {
  const { store, lease, before } = await setup(t);
  const { gz, diffId } = await layer();
  const named = `sha256:${'0'.repeat(64)}`;
  const err = (await t.throwsAsync(importing(store, lease, gz, { diffId, digest: named }))) as StrataError;
  t.is(err.code, 'EINTEGRITY');
  t.is(err.message, `${SOURCE}: digest mismatch (expected ${named}, found ${sha256(gz)})`);
  t.deepEqual(await snapshotTree(store.root), before);
  t.is(lease.created.blobs.size + lease.created.layers.size, 0);
});

test("content whose diffID is not the config's is EINTEGRITY, and the store is as it was", async (t) => {
  const { store, lease, before } = await setup(t);
  const { gz, diffId } = await layer();
  const named = `sha256:${'1'.repeat(64)}`;
  const err = (await t.throwsAsync(importing(store, lease, gz, { diffId: named, digest: sha256(gz) }))) as StrataError;
  t.is(err.code, 'EINTEGRITY');
  t.is(err.message, `${SOURCE}: layer content has diffID ${diffId}, but the image config says ${named}`);
  t.deepEqual(await snapshotTree(store.root), before);
});

test('when the bytes are not the named blob, that is the error, not the unpack failure it causes', async (t) => {
  const { store, lease, before } = await setup(t);
  const { gz, diffId } = await layer();
  const corrupt = Buffer.from(gz);
  corrupt[corrupt.length - 12]! ^= 0xff; // inside the deflate data: gunzip fails too
  const err = (await t.throwsAsync(importing(store, lease, corrupt, { diffId, digest: sha256(gz) }))) as StrataError;
  t.is(err.code, 'EINTEGRITY');
  t.is(err.message, `${SOURCE}: digest mismatch (expected ${sha256(gz)}, found ${sha256(corrupt)})`);
  t.deepEqual(await snapshotTree(store.root), before);
});

test('a blob longer than its named size is EINTEGRITY, and the store is as it was', async (t) => {
  const { store, lease, before } = await setup(t);
  const { gz, diffId } = await layer();
  const err = (await t.throwsAsync(importing(store, lease, gz, { diffId, size: gz.length - 1 }))) as StrataError;
  t.is(err.code, 'EINTEGRITY');
  t.is(err.message, `${SOURCE}: size mismatch (expected ${gz.length - 1} bytes, found ${gz.length} or more)`);
  t.deepEqual(await snapshotTree(store.root), before);
});

test('a layer already unpacked is not unpacked again: only its missing blob is stored', async (t) => {
  const { store, lease } = await setup(t);
  const { tar, gz, diffId } = await layer();
  const first = await importing(store, lease, tar, { diffId });
  const again = await Lease.create(store);
  t.teardown(() => again.release());
  const imported = await importing(store, again, gz, { diffId, digest: sha256(gz) });
  t.deepEqual(imported.layer, first.layer, 'the stored layer, which names the blob it was first unpacked from');
  t.deepEqual(imported.blob, { digest: sha256(gz), size: gz.length, mediaType: OCI_GZIP });
  t.deepEqual([...again.created.blobs], [sha256(gz)]);
  t.deepEqual([...again.created.layers], []);
  t.deepEqual(await fsp.readdir(store.paths.layersDir), [diffId.slice('sha256:'.length)]);
});

test('progress reports the bytes read so far, ending at the blob size', async (t) => {
  const { store, lease } = await setup(t);
  const { gz, diffId } = await layer();
  const seen: number[] = [];
  const half = gz.length >> 1;
  await importLayer(Readable.from([gz.subarray(0, half), gz.subarray(half)]), {
    store,
    lease,
    source: SOURCE,
    parent: null,
    diffId,
    onProgress: (n) => seen.push(n),
  });
  t.deepEqual(seen, [half, gz.length]);
});

test('aborting mid-blob stops the import with EINTERRUPTED, and the store is as it was', async (t) => {
  const { store, lease, before } = await setup(t);
  const { gz, diffId } = await layer();
  const controller = new AbortController();
  // The rest never comes: only the abort can end this import.
  const stalled = new Readable({ read() {} });
  stalled.push(gz.subarray(0, 10));
  const err = (await t.throwsAsync(
    importLayer(stalled, {
      store,
      lease,
      source: SOURCE,
      parent: null,
      diffId,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    }),
  )) as StrataError;
  t.is(err.code, 'EINTERRUPTED');
  t.is(err.message, `${SOURCE}: interrupted`);
  t.deepEqual(await snapshotTree(store.root), before);
});

test('a blob stream that fails before the import reads it keeps its error, and the store is as it was', async (t) => {
  const { store, lease, before } = await setup(t);
  const { diffId } = await layer();
  const file = path.join(store.root, 'no-such-blob');
  const err = (await t.throwsAsync(
    importLayer(fs.createReadStream(file), { store, lease, source: SOURCE, parent: null, diffId }),
  )) as NodeJS.ErrnoException;
  t.is(err.code, 'ENOENT');
  t.is(err.path, file, 'the error names the file that could not be read');
  t.deepEqual(await snapshotTree(store.root), before);
});

test('a stored layer is reused only when its blob is stored too, and that blob is leased', async (t) => {
  const { store, lease } = await setup(t);
  const { tar, gz, diffId } = await layer();
  t.is(await reusableLayer(store, lease, diffId), null, 'nothing to reuse yet');
  const first = await importing(store, lease, tar, { diffId });
  const again = await Lease.create(store);
  t.teardown(() => again.release());
  t.deepEqual(await reusableLayer(store, again, diffId), { layer: first.layer, blobDigest: sha256(tar) });
  t.is(await reusableLayer(store, again, diffId, sha256(gz)), null, 'the gzip blob the caller names is not stored');
  t.deepEqual(leased(again), { blobs: [sha256(tar), sha256(gz)], layers: [] });
});

test('with the uncompressed tar beside it, the blob is stored as given and the layer unpacked from the tar', async (t) => {
  const { store, lease } = await setup(t);
  const { tar, gz, diffId } = await layer();
  const imported = await importing(store, lease, gz, { uncompressed: Readable.from([tar]) });
  t.is(imported.layer.diffId, diffId);
  t.is(imported.blob.digest, sha256(gz));
  t.is(imported.blob.mediaType, OCI_GZIP);
  t.is(await fsp.readFile(path.join(store.paths.layerDiff(imported.layer.chainId), 'etc', 'hostname'), 'utf8'), 'strata\n');
});

test('a failing uncompressed stream fails the import and leaves the store as it was', async (t) => {
  const { store, lease, before } = await setup(t);
  const { tar, gz } = await layer();
  const broken = new Readable({
    read() {
      this.push(tar.subarray(0, 512));
      this.destroy(new Error('the walk failed'));
    },
  });
  await t.throwsAsync(importing(store, lease, gz, { uncompressed: broken }), { message: /the walk failed/ });
  t.deepEqual(await snapshotTree(store.root), before);
});
