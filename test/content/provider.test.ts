/** The blob provider: any stored blob by digest, with its size, as a stream or bounded in memory. */
import test from 'ava';
import { Readable } from 'node:stream';
import type { StrataError } from '../../src/errors.js';
import { ingestBlob } from '../../src/content/ingest.js';
import { StoreContentProvider } from '../../src/content/provider.js';
import type { Store } from '../../src/store/root.js';
import { sha256 } from '../helpers/image-builder.js';
import { tmpStore } from '../helpers/tmp-store.js';

const DATA = Buffer.from('0123456789abcdefghij');
const MISSING = `sha256:${'f'.repeat(64)}`;

async function stored(store: Store, data = DATA): Promise<string> {
  return (await ingestBlob(store, Readable.from([data]), { source: 'test' })).digest;
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test("info gives a stored blob's digest and byte size, and no media type nobody recorded", async (t) => {
  const { store } = await tmpStore(t);
  const digest = await stored(store);
  t.is(digest, sha256(DATA));
  t.deepEqual(await new StoreContentProvider(store).info(digest), { digest, size: DATA.length });
});

test('info gives the media type the lookup it was built with knows', async (t) => {
  const { store } = await tmpStore(t);
  const digest = await stored(store);
  const asked: string[] = [];
  const provider = new StoreContentProvider(store, {
    mediaTypeOf: async (d) => {
      asked.push(d);
      return d === digest ? 'application/vnd.oci.image.layer.v1.tar' : undefined;
    },
  });
  t.deepEqual(await provider.info(digest), { digest, size: DATA.length, mediaType: 'application/vnd.oci.image.layer.v1.tar' });
  t.deepEqual(asked, [digest]);
});

test("open streams the blob's exact bytes, or the inclusive range asked for", async (t) => {
  const { store } = await tmpStore(t);
  const digest = await stored(store);
  const provider = new StoreContentProvider(store);
  t.deepEqual(await bytesOf(await provider.open(digest)), DATA);
  t.is((await bytesOf(await provider.open(digest, { start: 2, end: 5 }))).toString(), '2345');
  t.is((await bytesOf(await provider.open(digest, { start: 18 }))).toString(), 'ij');
});

test('readBounded reads a blob of exactly the bound, and refuses a larger one before reading it', async (t) => {
  const { store } = await tmpStore(t);
  const digest = await stored(store);
  const provider = new StoreContentProvider(store);
  t.deepEqual(await provider.readBounded(digest, DATA.length), DATA);
  const err = (await t.throwsAsync(provider.readBounded(digest, DATA.length - 1))) as StrataError;
  t.is(err.code, 'ELIMIT');
  t.is(err.message, `blob ${digest} is ${DATA.length} bytes, more than the ${DATA.length - 1} read into memory`);
  t.is(err.expected, DATA.length - 1);
  t.is(err.found, DATA.length);
});

test('an empty blob has size 0 and reads as no bytes', async (t) => {
  const { store } = await tmpStore(t);
  const digest = await stored(store, Buffer.alloc(0));
  const provider = new StoreContentProvider(store);
  t.deepEqual(await provider.info(digest), { digest, size: 0 });
  t.deepEqual(await provider.readBounded(digest, 0), Buffer.alloc(0));
  t.deepEqual(await bytesOf(await provider.open(digest)), Buffer.alloc(0));
});

test('a blob that is not stored is ENOTFOUND naming it, from info, open and readBounded alike', async (t) => {
  const { store } = await tmpStore(t);
  const provider = new StoreContentProvider(store, { mediaTypeOf: async () => 'application/vnd.oci.image.layer.v1.tar' });
  for (const attempt of [provider.info(MISSING), provider.open(MISSING), provider.readBounded(MISSING, 1 << 20)]) {
    const err = (await t.throwsAsync(attempt)) as StrataError;
    t.is(err.code, 'ENOTFOUND');
    t.is(err.message, `blob ${MISSING} is missing from ${store.paths.blobsDir}`);
    t.is(err.path, store.paths.blob(MISSING));
  }
});

test('a blob that cannot be read for another reason keeps its error: it is not reported as absent', async (t) => {
  const { store } = await tmpStore(t);
  const digest = await stored(store);
  const provider = new StoreContentProvider(store);
  // blobs/sha256/<hex> is a file; a path through it fails with ENOTDIR, not ENOENT.
  const through = `sha256:${'0'.repeat(64)}`;
  const paths = store.paths as { blob(d: string): string };
  const original = paths.blob.bind(paths);
  paths.blob = (d: string) => (d === through ? `${original(digest)}/x` : original(d));
  t.teardown(() => {
    paths.blob = original;
  });
  const err = (await t.throwsAsync(provider.info(through))) as NodeJS.ErrnoException;
  t.is(err.code, 'ENOTDIR');
});
