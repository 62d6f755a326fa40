import type { Readable } from 'node:stream';
import type { Store } from '../store/root.js';
import { Ingest, hasBlob } from '../content/ingest.js';
import type { BlobDescriptor } from '../content/provider.js';
import type { Lease } from '../store/lease.js';
import { chainIdOf } from './chain-id.js';
import type { LayerRecord } from './record.js';
import { discardStagedLayer, stageLayer, type LayerFacts, type StageOptions, type StagedLayer } from './stage.js';
import { commitPreparedLayer, layerExists, readLayerRecord } from './unpack.js';

export interface LayerImportOptions extends Omit<StageOptions, 'temp'> {
  /**
   * The operation's lease. With `diffId`, the caller has leased the chainID already
   * (before deciding to import, so gc cannot sweep a layer it found present);
   * without one, the chainID is only known after the read, and is leased here before
   * the layer becomes visible.
   */
  lease: Lease;
}

export interface ImportedLayer {
  /** The layer's record: the one written here, or the one already stored under the same chainID. */
  layer: LayerRecord;
  blob: BlobDescriptor;
}

/**
 * Takes a layer blob stream into the store on this thread: the import stage
 * (stage.ts: one read, both digests verified, unpacked into a temp directory), then
 * the commit. `blob` is consumed or destroyed whatever happens. Load runs the stage
 * of several layers at once on worker threads (import-pool.ts) and commits here.
 */
export async function importLayer(blob: Readable, options: LayerImportOptions): Promise<ImportedLayer> {
  return commitStagedLayer(await stageLayer(blob, options), options);
}

/**
 * Makes a staged layer visible: the blob first, so a layer never names a blob that
 * is not there, then the layer. What this creates is noted on the lease, so the
 * caller's rollback can take it back. On failure what is left of the stage is removed.
 */
export async function commitStagedLayer(
  staged: StagedLayer,
  options: Pick<LayerFacts, 'source' | 'parent' | 'diffId'> & { store: Store; lease: Lease },
): Promise<ImportedLayer> {
  const { store, lease } = options;
  const knownChainId = options.diffId === undefined ? undefined : chainIdOf(options.parent, options.diffId);
  try {
    const prepared = staged.layer;
    // A chainID first known now is leased before the layer can appear: gc must not
    // sweep a layer nothing references yet.
    if (knownChainId === undefined && prepared) await lease.add({ layers: [prepared.record.chainId] });
    // Lease the digest before the blob becomes visible: docker-save names none in advance,
    // and a gc between commit and lease would otherwise sweep a blob this import reports.
    await lease.add({ blobs: [staged.blob.digest] });
    // The digest committed is the one just leased (commit verifies it). What it created
    // is noted before anything else can fail: a lease write that used to come between
    // lost the blob to the rollback when the disk filled up right after the rename.
    const { digest, created, size } = await Ingest.written(store, options.source, staged.blob).commit();
    if (created) lease.created.blobs.add(digest);
    const descriptor = { digest, size, mediaType: staged.blob.mediaType };
    if (!prepared) return { layer: await readLayerRecord(store, knownChainId!), blob: descriptor };
    // Another process may have committed the same chainID meanwhile; then it is theirs.
    if (!(await layerExists(store, prepared.record.chainId))) lease.created.layers.add(prepared.record.chainId);
    return { layer: await commitPreparedLayer(store, prepared.tempDir, prepared.record, digest), blob: descriptor };
  } catch (err) {
    await discardStagedLayer(staged);
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
