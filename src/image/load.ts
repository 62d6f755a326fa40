import { PassThrough, type Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { Ingest, hasBlob, ingestBlob } from '../content/ingest.js';
import { readBlob } from '../content/read.js';
import { shortId } from '../content/digest.js';
import { openArchive } from '../archive/open-archive.js';
import { readImages } from '../archive/read-images.js';
import type { ArchiveImage, ArchiveLayer, ArchiveSource } from '../archive/source.js';
import { chainIds } from '../layer/chain-id.js';
import { layerExists, prepareLayer, readLayerRecord } from '../layer/unpack.js';
import type { UnpackLimits } from '../layer/limits.js';
import { Lease } from '../store/lease.js';
import { rollbackCreated } from '../gc/rollback.js';
import { parseImageConfigBytes } from './config.js';
import { imageExists, removeImageRecord, writeImageRecord, type ImageLayer, type ImageRecord } from './record.js';
import { readTags, writeTags } from './tags.js';
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
}

export type LoadEvent =
  | { type: 'layer-start'; id: string; total?: number }
  | { type: 'layer-progress'; id: string; done: number }
  | { type: 'layer-done'; id: string; reused: boolean };

export interface LoadedImage {
  id: string;
  repoTags: string[];
  /** Tags that pointed at another image before this load moved them here. */
  retagged: { tag: string; previous: string }[];
}

/**
 * `strata load`: archive → verified blobs → unpacked layers → image records → tags.
 * Records are the commit point and are written last, so a failure at any step leaves
 * no image behind; blobs and layers committed before it are complete and verified,
 * and unreferenced ones are swept by gc.
 */
export async function loadImages(store: Store, input: ArchiveInput, options: LoadOptions = {}): Promise<LoadedImage[]> {
  try {
    return await load(store, input, options);
  } catch (err) {
    // A failed write (ENOSPC, EIO) carries no path: say at least which load it broke.
    const e = err as NodeJS.ErrnoException;
    const name = 'path' in input ? input.path : input.displayName;
    if (err instanceof Error && !(err instanceof StrataError) && typeof e.code === 'string' && e.path === undefined && !e.message.startsWith(name)) {
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
    const records: { record: ImageRecord; archive: ArchiveImage }[] = [];
    for (const image of images) records.push({ record: await storeImage(store, source, image, lease, options), archive: image });
    faultPoint('load.records');
    return await withStoreLock(store, async () => {
      const tags = await readTags(store);
      const loaded: LoadedImage[] = [];
      // Records this load adds are taken back if a later one or the tags cannot be
      // written (a full disk, a read-only store): a failed load leaves no image behind.
      const added: string[] = [];
      try {
        for (const { record, archive } of records) {
          if (!(await imageExists(store, record.id))) added.push(record.id);
          await writeImageRecord(store, record);
          const retagged = [];
          for (const tag of archive.repoTags) {
            const previous = tags[tag];
            if (previous !== undefined && previous !== record.id) retagged.push({ tag, previous });
            tags[tag] = record.id;
          }
          loaded.push({ id: record.id, repoTags: archive.repoTags, retagged });
        }
        await writeTags(store, tags);
      } catch (err) {
        for (const id of added) await removeImageRecord(store, id).catch(() => {});
        throw err;
      }
      return loaded;
    });
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

async function storeImage(store: Store, source: ArchiveSource, image: ArchiveImage, lease: Lease, options: LoadOptions): Promise<ImageRecord> {
  const where = `${source.displayName}: ${image.configPath}`;
  // Lease what is already named before storing it, so a concurrent gc cannot sweep it in between.
  await lease.add({ blobs: [image.configDigest, image.manifestDigest].filter((d): d is string => d !== undefined) });
  const configBlob = await ingestBlob(store, source.open(image.configPath), { source: where, expected: image.configDigest });
  const configDigest = configBlob.digest;
  if (configBlob.created) lease.created.blobs.add(configDigest);
  if (image.manifestPath !== undefined) {
    const manifest = await ingestBlob(store, source.open(image.manifestPath), { source: `${source.displayName}: ${image.manifestPath}`, expected: image.manifestDigest });
    if (manifest.created) lease.created.blobs.add(manifest.digest);
  }
  await lease.add({ blobs: [configDigest] });
  const config = parseImageConfigBytes(await readBlob(store, configDigest), where);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== image.layers.length) {
    throw new StrataError('EINVALIDARCHIVE',
      `${where}: config lists ${diffIds.length} layers (rootfs.diff_ids) but the manifest has ${image.layers.length}`,
      { path: where, expected: diffIds.length, found: image.layers.length });
  }
  const chain = chainIds(diffIds);
  // Lease first, then look: a layer seen as present can no longer be swept under us.
  await lease.add({ layers: chain, blobs: image.layers.flatMap((l) => (l.digest ? [l.digest] : [])) });

  const layers: ImageLayer[] = [];
  for (const [i, layer] of image.layers.entries()) {
    throwIfAborted(options.signal);
    faultPoint('load.layer');
    const chainId = chain[i]!;
    const diffId = diffIds[i]!;
    const parent = i === 0 ? null : chain[i - 1]!;
    const id = shortId(layer.digest ?? diffId);
    const reused = await reusableLayer(store, chainId, layer, lease);
    if (reused) {
      options.onEvent?.({ type: 'layer-done', id, reused: true });
      layers.push({ diffId, chainId, ...reused });
      continue;
    }
    const blobDigest = await storeLayer(store, source, layer, { chainId, diffId, parent, id }, lease, options);
    const record = await readLayerRecord(store, chainId);
    layers.push({ diffId, chainId, blobDigest, size: record.size });
    options.onEvent?.({ type: 'layer-done', id, reused: false });
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

/**
 * A layer already unpacked under the same chainID is the same content, whatever
 * compression this archive used: reuse it when its blob is stored too. Without a
 * digest from the archive (docker-save names none), the blob recorded at unpack serves.
 */
async function reusableLayer(store: Store, chainId: string, layer: ArchiveLayer, lease: Lease): Promise<{ blobDigest: string; size: number } | null> {
  if (!(await layerExists(store, chainId))) return null;
  const existing = await readLayerRecord(store, chainId);
  const blobDigest = layer.digest ?? existing.blobDigest;
  await lease.add({ blobs: [blobDigest] });
  return (await hasBlob(store, blobDigest)) ? { blobDigest, size: existing.size } : null;
}

interface LayerIdentity { chainId: string; diffId: string; parent: string | null; id: string }

/**
 * One read of the layer blob feeds both the content store (compressed digest) and
 * the unpacker (diffID). Both are committed only when both verified; the blob first,
 * so a layer never names a blob that is not there.
 */
async function storeLayer(store: Store, source: ArchiveSource, layer: ArchiveLayer, ident: LayerIdentity, lease: Lease, options: LoadOptions): Promise<string> {
  const where = `${source.displayName}: ${layer.path}`;
  const unpackNeeded = !(await layerExists(store, ident.chainId));
  const input = source.open(layer.path);
  const stopOnAbort = () => input.destroy(new StrataError('EINTERRUPTED', `${where}: interrupted`));
  options.signal?.addEventListener('abort', stopOnAbort, { once: true });
  options.onEvent?.({ type: 'layer-start', id: ident.id, total: layer.size ?? source.size(layer.path) });
  let done = 0;
  input.on('data', (chunk: Buffer) => {
    done += chunk.length;
    options.onEvent?.({ type: 'layer-progress', id: ident.id, done });
  });

  const ingest = new Ingest(store, { source: where, expected: layer.digest, expectedSize: layer.size });
  const toBlob = new PassThrough({ highWaterMark: 1 << 20 });
  const toUnpack = unpackNeeded ? new PassThrough({ highWaterMark: 1 << 20 }) : null;
  // prepareLayer may fail before it reads (layers/ not writable): failAll's error on a
  // sink nobody listens to yet would crash the process. Failures come back as promises.
  toUnpack?.on('error', () => {});
  const sinks: PassThrough[] = toUnpack ? [toBlob, toUnpack] : [toBlob];
  for (const sink of sinks) input.pipe(sink);
  // If any side fails, stop the others: otherwise backpressure would stall them forever.
  const failAll = (err: Error) => {
    input.destroy(err);
    for (const sink of sinks) sink.destroy(err);
  };
  input.on('error', failAll);

  const writing = ingest.write(toBlob).catch((err: Error) => { failAll(err); throw err; });
  const unpacking = toUnpack
    ? prepareLayer(toUnpack as Readable, { store, diffId: ident.diffId, chainId: ident.chainId, parent: ident.parent, limits: options.limits, source: where })
      .catch((err: Error) => {
        // With a digest to check, let the blob side finish: if the bytes are not what
        // they were named, that — not the unpack error it caused — is the diagnosis.
        if (layer.digest !== undefined) {
          input.unpipe(toUnpack);
          toUnpack.resume();
        } else {
          failAll(err);
        }
        throw err;
      })
    : Promise.resolve(null);
  const [wrote, unpacked] = await Promise.allSettled([writing, unpacking]);
  options.signal?.removeEventListener('abort', stopOnAbort);
  try {
    if (wrote.status === 'fulfilled' && unpacked.status === 'rejected') ingest.verify();
    const failure = firstFailure(wrote, unpacked);
    if (failure) throw failure;
    // Lease the digest before the blob becomes visible: docker-save names none in advance,
    // and a gc between commit and lease would otherwise sweep a blob this load reports.
    await lease.add({ blobs: [ingest.verify()] });
    const { digest, created } = await ingest.commit();
    await lease.add({ blobs: [digest] });
    if (created) lease.created.blobs.add(digest);
    if (unpacked.status === 'fulfilled' && unpacked.value) {
      // Another load may have committed the same chainID meanwhile; then it is theirs.
      if (!(await layerExists(store, ident.chainId))) lease.created.layers.add(ident.chainId);
      await unpacked.value.commit(digest);
    }
    return digest;
  } catch (err) {
    await ingest.abort();
    if (unpacked.status === 'fulfilled' && unpacked.value) await unpacked.value.abort();
    throw err;
  }
}

/** The root cause, not the "stream destroyed" echo it caused on the other side. */
function firstFailure(...results: PromiseSettledResult<unknown>[]): unknown {
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
  return failures.find((e) => e instanceof StrataError) ?? failures[0];
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new StrataError('EINTERRUPTED', 'load interrupted');
}

