import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { ingestBlob } from '../content/ingest.js';
import { StoreContentProvider, type BlobDescriptor } from '../content/provider.js';
import { readBlob } from '../content/read.js';
import { shortId } from '../content/digest.js';
import { openArchive } from '../archive/open-archive.js';
import { readImages } from '../archive/read-images.js';
import type { ArchiveImage, ArchiveSource } from '../archive/source.js';
import { chainIds } from '../layer/chain-id.js';
import { commitStagedLayer, reusableLayer } from '../layer/import.js';
import { LayerStaging, type LayerJob } from './layer-staging.js';
import { storedLayerDescriptor } from '../layer/media-type.js';
import type { UnpackLimits } from '../layer/limits.js';
import { Lease } from '../store/lease.js';
import { rollbackCreated } from '../gc/rollback.js';
import { parseImageConfigBytes } from '../image/config.js';
import type { ImageLayer, ImageRecord } from '../image/record.js';
import { publishImages, type ImageToPublish, type PublishedImage } from '../image/publish.js';
import { faultPoint } from '../store/fault-points.js';

/** A tarball on disk (read by offset when plain), or a stream such as stdin. */
export type ArchiveInput = { path: string } | { stream: Readable; displayName: string };

export interface LoadOptions {
  /** `os/arch[/variant]` to pick from a multi-platform index; default: this host. */
  platform?: string;
  limits?: UnpackLimits;
  onEvent?: (event: LoadEvent) => void;
  /** Aborting stops the load at the next chunk; everything in flight is removed. */
  signal?: AbortSignal;
  /**
   * Layers imported at once (worker threads; layer/import-pool.ts). Default: one per
   * CPU (os.availableParallelism(), at most 3) when the layers are big enough to
   * repay a worker; 1 imports them one after the other on this thread.
   */
  workers?: number;
}

export type LoadEvent =
  | { type: 'layer-start'; id: string; total?: number }
  | { type: 'layer-progress'; id: string; done: number }
  /** `size`: the layer's bytes (Docker's rule), also for one already in the store. */
  | { type: 'layer-done'; id: string; reused: boolean; size: number };

/** An image this load published, with the tags it moved (see image/publish.ts). */
export type LoadedImage = PublishedImage;

/**
 * `strata load`: walks the archive and hands each piece to its stage — configs and
 * manifests to the content store, layer blobs to the import stage (layer/import.ts),
 * the finished records to the publish stage (image/publish.ts). Records are the
 * commit point and are written last; a failure at any step rolls back what this
 * load created, so the store is as it was.
 */
export async function loadImages(store: Store, input: ArchiveInput, options: LoadOptions = {}): Promise<LoadedImage[]> {
  try {
    return await load(store, input, options);
  } catch (err) {
    // A failed write (ENOSPC, EIO) carries no path: say at least which load it broke.
    const e = err as NodeJS.ErrnoException;
    const name = 'path' in input ? input.path : input.displayName;
    if (
      err instanceof Error &&
      !(err instanceof StrataError) &&
      typeof e.code === 'string' &&
      e.path === undefined &&
      !e.message.startsWith(name)
    ) {
      e.message = `${name}: ${e.message}`;
    }
    throw err;
  }
}

async function load(store: Store, input: ArchiveInput, options: LoadOptions): Promise<LoadedImage[]> {
  throwIfAborted(options.signal);
  // The lease comes first: from now on gc spares everything this load writes,
  // including the spool files openArchive makes for a stream.
  const lease = await Lease.create(store);
  let source: ArchiveSource;
  try {
    source = await openArchive(input, { spoolDir: store.paths.ingestDir });
  } catch (err) {
    await lease.release();
    throw err;
  }
  try {
    const images = await readImages(source, { platform: options.platform });
    if (images.length === 0) {
      throw new StrataError('EINVALIDARCHIVE', `${source.displayName}: archive holds no images`, { path: source.displayName });
    }
    const stored: ImageToPublish[] = [];
    for (const image of images) stored.push({ record: await storeImage(store, source, image, lease, options), repoTags: image.repoTags });
    faultPoint('load.records');
    return await publishImages(store, stored);
  } catch (err) {
    // The spool goes first: until it is gone, the lease must still cover it.
    await source.close();
    await rollbackCreated(store, lease);
    throw err;
  } finally {
    try {
      await source.close();
    } finally {
      await lease.release();
    }
  }
}

/** Stores one image's config, manifest and layers, and returns the record that will publish it. */
async function storeImage(
  store: Store,
  source: ArchiveSource,
  image: ArchiveImage,
  lease: Lease,
  options: LoadOptions,
): Promise<ImageRecord> {
  const where = `${source.displayName}: ${image.configPath}`;
  // Lease what is already named before storing it, so a concurrent gc cannot sweep it in between.
  await lease.add({ blobs: [image.configDigest, image.manifestDigest].filter((d): d is string => d !== undefined) });
  const configBlob = await ingestBlob(store, source.open(image.configPath), { source: where, expected: image.configDigest });
  const configDigest = configBlob.digest;
  if (configBlob.created) lease.created.blobs.add(configDigest);
  if (image.manifestPath !== undefined) {
    const manifest = await ingestBlob(store, source.open(image.manifestPath), {
      source: `${source.displayName}: ${image.manifestPath}`,
      expected: image.manifestDigest,
    });
    if (manifest.created) lease.created.blobs.add(manifest.digest);
  }
  await lease.add({ blobs: [configDigest] });
  const config = parseImageConfigBytes(await readBlob(store, configDigest), where);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== image.layers.length) {
    throw new StrataError(
      'EINVALIDARCHIVE',
      `${where}: config lists ${diffIds.length} layers (rootfs.diff_ids) but the manifest has ${image.layers.length}`,
      { path: where, expected: diffIds.length, found: image.layers.length },
    );
  }
  const chain = chainIds(diffIds);
  // Lease first, then look: a layer seen as present can no longer be swept under us.
  await lease.add({ layers: chain, blobs: image.layers.flatMap((l) => (l.digest ? [l.digest] : [])) });

  const content = new StoreContentProvider(store);
  // In order: what the store holds already is reused (leased before it is looked at);
  // the rest is staged all at once, and each committed in order as soon as it is ready.
  const plan: ({ reused: ImageLayer; id: string } | { job: number })[] = [];
  const jobs: LayerJob[] = [];
  for (const [i, layer] of image.layers.entries()) {
    throwIfAborted(options.signal);
    faultPoint('load.layer');
    const chainId = chain[i]!;
    const diffId = diffIds[i]!;
    const id = shortId(layer.digest ?? diffId);
    const reused = await reusableLayer(store, lease, chainId, layer.digest);
    if (reused) {
      const blob = await storedLayerDescriptor(content, reused.blobDigest, layer.mediaType);
      plan.push({ reused: imageLayer(diffId, chainId, blob, reused.layer.size), id });
      continue;
    }
    plan.push({ job: jobs.length });
    jobs.push({
      id,
      chainId,
      source: source.locate(layer.path),
      facts: {
        source: `${source.displayName}: ${layer.path}`,
        parent: i === 0 ? null : chain[i - 1]!,
        diffId,
        digest: layer.digest,
        size: layer.size,
        mediaType: layer.mediaType,
        limits: options.limits,
      },
    });
  }
  const staging = jobs.length > 0 ? new LayerStaging(store, jobs, options) : null;
  const layers: ImageLayer[] = [];
  try {
    for (const step of plan) {
      if ('reused' in step) {
        layers.push(step.reused);
        options.onEvent?.({ type: 'layer-done', id: step.id, reused: true, size: step.reused.size });
        continue;
      }
      const job = jobs[step.job]!;
      const imported = await commitStagedLayer(await staging!.take(step.job), { store, lease, ...job.facts });
      layers.push(imageLayer(job.facts.diffId!, job.chainId, imported.blob, imported.layer.size));
      options.onEvent?.({ type: 'layer-done', id: job.id, reused: false, size: imported.layer.size });
    }
  } catch (err) {
    // What is staged and not committed yet is nobody's: the rollback does not know it.
    await staging?.abandon();
    throw err;
  } finally {
    await staging?.close();
  }
  return {
    id: configDigest,
    configDigest,
    manifestDigest: image.manifestDigest ?? null,
    layers,
    size: layers.reduce((sum, l) => sum + l.size, 0),
    created: typeof config.created === 'string' ? config.created : new Date().toISOString(),
    loaded: new Date().toISOString(),
  };
}

function imageLayer(diffId: string, chainId: string, blob: BlobDescriptor, size: number): ImageLayer {
  return { diffId, chainId, blobDigest: blob.digest, blobMediaType: blob.mediaType, blobSize: blob.size, size };
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new StrataError('EINTERRUPTED', 'load interrupted');
}
