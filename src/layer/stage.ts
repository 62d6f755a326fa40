import fs from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { Ingest, type WrittenBlob } from '../content/ingest.js';
import { removeTree } from '../store/atomic.js';
import { faultPoint } from '../store/fault-points.js';
import { chainIdOf } from './chain-id.js';
import type { UnpackLimits } from './limits.js';
import { MEDIA_TYPE_HEAD_BYTES, layerMediaTypeOf } from './media-type.js';
import type { LayerRecord } from './record.js';
import { layerExists, prepareLayer } from './unpack.js';

/**
 * What a caller knows about a layer blob before reading it. Load and pull know
 * everything (a descriptor and the config's diffID); a layer made from a directory
 * (commit) or imported from a bare tar knows only what it sits on. Plain data, so it
 * crosses to an import worker as it is (layer/import-pool.ts).
 */
export interface LayerFacts {
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
}

export interface StageOptions extends LayerFacts {
  store: Store;
  /** Aborting stops the read at the next chunk (EINTERRUPTED); nothing of this stage is left behind. */
  signal?: AbortSignal;
  /** Called as the blob is read, with the bytes read so far. */
  onProgress?: (bytesRead: number) => void;
  /** Called once every byte of the blob is written and matched its digest and size; the unpack may still be running. */
  onBlobVerified?: () => void;
  /** Temp names to build under (ingest/ file path, layers/ directory name), for a caller that must be able to remove them. */
  temp?: { blob: string; layerDir: string };
  /**
   * The file in ingest/ the stream's producer writes the blob's bytes to as it reads
   * them (a pull's resume spool): the stage writes no copy of its own but hashes and
   * fsyncs that one (content/ingest.ts `writtenBySource`), and the staged blob is that
   * file. A failed stage leaves it to the producer, to resume from or drop.
   */
  spool?: string;
  /**
   * The very tar the blob compresses, when the caller holds it (commit gzips the tar it
   * writes): unpacked as it is, so the layer is not decompressed again on the way in.
   * Consumed or destroyed with the blob; a blob that is not this tar compressed would
   * store a layer unlike its blob, so only a caller that made both may pass it.
   */
  uncompressed?: Readable;
}

/**
 * A layer read, verified and unpacked, of which nothing is visible yet: the blob in
 * an ingest/ temp file, the layer in a layers/ temp directory. Plain data, so a
 * worker can stage and the main thread commit (layer/import.ts commitStagedLayer).
 */
export interface StagedLayer {
  blob: WrittenBlob & { mediaType: string };
  /** null when the layer was in the store already: only the blob was read. */
  layer: { tempDir: string; record: Omit<LayerRecord, 'blobDigest'> } | null;
}

/**
 * The import stage: one read of the blob feeds both the content store's temp file
 * (the blob digest) and the unpacker (decompress, diffID, apply into the layer's own
 * temp directory). Both digests are verified here; nothing is committed. On any
 * failure both temps are removed before the error propagates. `blob` is consumed or
 * destroyed whatever happens.
 */
export async function stageLayer(blob: Readable, options: StageOptions): Promise<StagedLayer> {
  const { store, source, signal } = options;
  faultPoint('layer.stage');
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

  const ingest = new Ingest(store, {
    source,
    expected: options.digest,
    expectedSize: options.size,
    ...(options.spool !== undefined
      ? { tempPath: options.spool, writtenBySource: true }
      : options.temp
        ? { tempPath: options.temp.blob }
        : {}),
  });
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

  const writing = ingest.write(toBlob).then(
    (wrote) => {
      if (options.onBlobVerified && verified(ingest)) options.onBlobVerified();
      return wrote;
    },
    (err: Error) => {
      failAll(err);
      throw err;
    },
  );
  const unpacking = toUnpack
    ? prepareLayer(toUnpack as Readable, {
        store,
        diffId: options.diffId,
        chainId: knownChainId,
        parent: options.parent,
        limits: options.limits,
        source,
        ...(options.temp ? { tempName: options.temp.layerDir } : {}),
        // A plain tar blob is hashed once: its digest is also its diffID. Not when the
        // unpack reads a tar beside the blob: that blob may be its compressed form.
        ...(uncompressed === undefined ? { blobDigest: async () => (await writing).digest } : {}),
      }).catch((err: Error) => {
        // With a digest to check, let the blob side finish: if the bytes are not what
        // they were named, that — not the unpack error it caused — is the diagnosis.
        if (options.digest !== undefined) {
          (uncompressed ?? blob).unpipe(toUnpack);
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
    const written = ingest.written; // verifies digest and size
    faultPoint('layer.staged');
    return {
      blob: { ...written, mediaType: options.mediaType ?? layerMediaTypeOf(head) },
      layer: prepared ? { tempDir: prepared.tempDir, record: prepared.record } : null,
    };
  } catch (err) {
    await ingest.abort();
    if (unpacked.status === 'fulfilled' && unpacked.value) await unpacked.value.abort();
    throw err;
  }
}

/** Removes what a stage left for a commit that will not come; never throws. */
export async function discardStagedLayer(staged: StagedLayer): Promise<void> {
  await discardTemps({ blob: staged.blob.tempPath, layerDir: staged.layer?.tempDir });
}

/** Removes a stage's temps by name (an import worker that died cannot); never throws. */
export async function discardTemps(temp: { blob?: string | undefined; layerDir?: string | undefined }): Promise<void> {
  if (temp.blob !== undefined) await fs.rm(temp.blob, { force: true }).catch(() => undefined);
  if (temp.layerDir !== undefined) await removeTree(temp.layerDir).catch(() => undefined);
}

/** Whether a written blob is what it was named; a mismatch is thrown by stageLayer once the unpack has settled too. */
function verified(ingest: Ingest): boolean {
  try {
    ingest.verify();
    return true;
  } catch {
    return false;
  }
}

/** The root cause, not the "stream destroyed" echo it caused on the other side. */
function firstFailure(...results: PromiseSettledResult<unknown>[]): unknown {
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
  return failures.find((e) => e instanceof StrataError) ?? failures[0];
}
