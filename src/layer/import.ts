import { PassThrough, type Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { Ingest, hasBlob } from '../content/ingest.js';
import type { BlobDescriptor } from '../content/provider.js';
import type { Lease } from '../store/lease.js';
import { chainIdOf } from './chain-id.js';
import type { UnpackLimits } from './limits.js';
import { MEDIA_TYPE_HEAD_BYTES, layerMediaTypeOf } from './media-type.js';
import type { LayerRecord } from './record.js';
import { layerExists, prepareLayer, readLayerRecord } from './unpack.js';

/**
 * What a caller knows about a layer blob before reading it. Load and pull know
 * everything (a descriptor and the config's diffID); a layer made from a directory
 * (commit) or imported from a bare tar knows only what it sits on.
 */
export interface LayerImportOptions {
  store: Store;
  /**
   * The operation's lease. With `diffId`, the caller has leased the chainID already
   * (before deciding to import, so gc cannot sweep a layer it found present);
   * without one, the chainID is only known after the read, and is leased here before
   * the layer becomes visible.
   */
  lease: Lease;
  /** Names the blob in every message, e.g. "app.tar: blobs/sha256/ab12…". */
  source: string;
  /** chainID of the layer below, or null for a base layer. */
  parent: string | null;
  /** The diffID the image config names: the uncompressed bytes must hash to it. Absent: the content's own. */
  diffId?: string;
  /** The digest the blob was named by (a descriptor): the compressed bytes must hash to it. */
  digest?: string;
  /** The byte size the blob was named with; more or fewer bytes are EINTEGRITY. */
  size?: number;
  /** The media type the blob was named with; absent: the OCI type of the compression its first bytes show. */
  mediaType?: string;
  limits?: UnpackLimits;
  /** Aborting stops the read at the next chunk (EINTERRUPTED); nothing of this import is left behind. */
  signal?: AbortSignal;
  /** Called as the blob is read, with the bytes read so far. */
  onProgress?: (bytesRead: number) => void;
  /**
   * The very tar the blob compresses, when the caller holds it (commit gzips the tar it
   * writes): unpacked as it is, so the layer is not decompressed again on the way in.
   * Consumed or destroyed with the blob; a blob that is not this tar compressed would
   * store a layer unlike its blob, so only a caller that made both may pass it.
   */
  uncompressed?: Readable;
}

export interface ImportedLayer {
  /** The layer's record: the one written here, or the one already stored under the same chainID. */
  layer: LayerRecord;
  blob: BlobDescriptor;
}

/**
 * Takes a layer blob stream into the store: one read feeds both the content store
 * (the blob digest) and the unpacker (the diffID). Both are committed only when both
 * verified — the blob first, so a layer never names a blob that is not there. What
 * this import created is noted on the lease, so the caller's rollback can take it back.
 * `blob` is consumed or destroyed whatever happens.
 */
export async function importLayer(blob: Readable, options: LayerImportOptions): Promise<ImportedLayer> {
  const { store, lease, source, signal } = options;
  const knownChainId = options.diffId === undefined ? undefined : chainIdOf(options.parent, options.diffId);
  // The stream may fail while we look (a file that cannot be opened): keep the error
  // for below instead of letting an unheard 'error' event end the process.
  const heldBack = () => {};
  blob.on('error', heldBack);
  let unpackNeeded: boolean;
  try {
    unpackNeeded = knownChainId === undefined || !(await layerExists(store, knownChainId));
  } catch (err) {
    blob.destroy();
    throw err;
  }
  const stopOnAbort = () => blob.destroy(new StrataError('EINTERRUPTED', `${source}: interrupted`));
  signal?.addEventListener('abort', stopOnAbort, { once: true });
  let done = 0;
  let head = Buffer.alloc(0);
  blob.on('data', (chunk: Buffer) => {
    done += chunk.length;
    if (head.length < MEDIA_TYPE_HEAD_BYTES) head = Buffer.concat([head, chunk.subarray(0, MEDIA_TYPE_HEAD_BYTES - head.length)]);
    options.onProgress?.(done);
  });

  const ingest = new Ingest(store, { source, expected: options.digest, expectedSize: options.size });
  const toBlob = new PassThrough({ highWaterMark: 1 << 20 });
  const { uncompressed } = options;
  const toUnpack = unpackNeeded ? new PassThrough({ highWaterMark: 1 << 20 }) : null;
  // prepareLayer may fail before it reads (layers/ not writable): failAll's error on a
  // sink nobody listens to yet would crash the process. Failures come back as promises.
  toUnpack?.on('error', () => {});
  const sinks: PassThrough[] = toUnpack ? [toBlob, toUnpack] : [toBlob];
  if (uncompressed === undefined) for (const sink of sinks) blob.pipe(sink);
  else {
    blob.pipe(toBlob);
    if (toUnpack) uncompressed.pipe(toUnpack);
    else uncompressed.resume();
  }
  // If any side fails, stop the others: otherwise backpressure would stall them forever.
  const failAll = (err: Error) => {
    blob.destroy(err);
    uncompressed?.destroy(err);
    for (const sink of sinks) sink.destroy(err);
  };
  blob.on('error', failAll);
  uncompressed?.on('error', failAll);
  blob.off('error', heldBack);
  if (blob.errored) failAll(blob.errored);
  else if (signal?.aborted) stopOnAbort();

  const writing = ingest.write(toBlob).catch((err: Error) => {
    failAll(err);
    throw err;
  });
  const unpacking = toUnpack
    ? prepareLayer(toUnpack as Readable, {
        store,
        diffId: options.diffId,
        chainId: knownChainId,
        parent: options.parent,
        limits: options.limits,
        source,
      }).catch((err: Error) => {
        // With a digest to check, let the blob side finish: if the bytes are not what
        // they were named, that — not the unpack error it caused — is the diagnosis.
        if (options.digest !== undefined) {
          blob.unpipe(toUnpack);
          toUnpack.resume();
        } else {
          failAll(err);
        }
        throw err;
      })
    : Promise.resolve(null);
  const [wrote, unpacked] = await Promise.allSettled([writing, unpacking]);
  signal?.removeEventListener('abort', stopOnAbort);
  try {
    if (wrote.status === 'fulfilled' && unpacked.status === 'rejected') ingest.verify();
    const failure = firstFailure(wrote, unpacked);
    if (failure) throw failure;
    const prepared = unpacked.status === 'fulfilled' ? unpacked.value : null;
    // A chainID first known now is leased before the layer can appear: gc must not
    // sweep a layer nothing references yet.
    if (knownChainId === undefined && prepared) await lease.add({ layers: [prepared.chainId] });
    // Lease the digest before the blob becomes visible: docker-save names none in advance,
    // and a gc between commit and lease would otherwise sweep a blob this import reports.
    await lease.add({ blobs: [ingest.verify()] });
    const { digest, created, size } = await ingest.commit();
    await lease.add({ blobs: [digest] });
    if (created) lease.created.blobs.add(digest);
    const descriptor = { digest, size, mediaType: options.mediaType ?? layerMediaTypeOf(head) };
    if (!prepared) return { layer: await readLayerRecord(store, knownChainId!), blob: descriptor };
    // Another process may have committed the same chainID meanwhile; then it is theirs.
    if (!(await layerExists(store, prepared.chainId))) lease.created.layers.add(prepared.chainId);
    return { layer: await prepared.commit(digest), blob: descriptor };
  } catch (err) {
    await ingest.abort();
    if (unpacked.status === 'fulfilled' && unpacked.value) await unpacked.value.abort();
    throw err;
  }
}

/**
 * A layer already unpacked under the same chainID is the same content, whatever
 * compression the new blob used: it is reused when its blob is stored too, and
 * nothing is read. Without a digest from the caller (docker-save names none), the
 * blob recorded at unpack serves. Call with the chainID leased; this leases the blob
 * before looking, so neither can be swept once found.
 */
export async function reusableLayer(
  store: Store,
  lease: Lease,
  chainId: string,
  digest?: string,
): Promise<{ layer: LayerRecord; blobDigest: string } | null> {
  if (!(await layerExists(store, chainId))) return null;
  const layer = await readLayerRecord(store, chainId);
  const blobDigest = digest ?? layer.blobDigest;
  await lease.add({ blobs: [blobDigest] });
  return (await hasBlob(store, blobDigest)) ? { layer, blobDigest } : null;
}

/** The root cause, not the "stream destroyed" echo it caused on the other side. */
function firstFailure(...results: PromiseSettledResult<unknown>[]): unknown {
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
  return failures.find((e) => e instanceof StrataError) ?? failures[0];
}
