import { AsyncLocalStorage } from 'node:async_hooks';
import { PassThrough, Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { ingestBlob } from '../content/ingest.js';
import { writeTar, type PackEntry } from '../archive/tar-writer.js';
import { Coalesce } from '../archive/coalesce.js';
import { gzipStream } from '../archive/gzip-stream.js';
import { imageView } from '../image/view.js';
import { committedConfig, type ContainerRunConfig } from '../image/commit-config.js';
import { readImageConfig } from '../image/inspect.js';
import { readImageRecord, type ImageLayer, type ImageRecord } from '../image/record.js';
import { normalizeReference } from '../image/reference.js';
import { publishImages, type PublishedImage } from '../image/publish.js';
import { importLayer, type ImportedLayer } from '../layer/import.js';
import { assertUpperPresent } from '../layer/missing-layer.js';
import type { UnpackLimits } from '../layer/limits.js';
import { withContainerLock } from '../container/lock.js';
import { containerDirs, readContainerRecord, type ContainerRecord } from '../container/record.js';
import type { SkippedEntry } from '../container/tree-tar.js';
import { upperTarEntries } from '../container/upper-tar.js';
import { Lease } from '../store/lease.js';
import { rollbackCreated } from '../gc/rollback.js';

export type LayerCompression = 'gzip' | 'none';

export interface CommitOptions {
  /** `-a`: the image's and the history entry's author. */
  author?: string;
  /** `-m`: the history entry's comment. */
  message?: string;
  /** `-c`: Dockerfile instructions applied to the image config. */
  changes?: string[];
  /** `REPOSITORY[:TAG]` to point at the new image. */
  reference?: string;
  /** Seconds since 1970: mtimes later than it are clamped to it, and it is the image's `created`. */
  sourceDateEpoch?: number;
  /** How the new layer's blob is stored; default gzip. */
  compression?: LayerCompression;
  /** Told about each entry left out because a tar cannot hold it (sockets). */
  onSkipped?: (entry: SkippedEntry) => void;
  limits?: UnpackLimits;
  signal?: AbortSignal;
}

export interface CommittedImage extends PublishedImage {
  /** The container changed nothing: no layer was added (history `empty_layer`). */
  emptyLayer: boolean;
}

/**
 * `strata commit`: the container's upper dir becomes one new layer on top of its
 * image, stored as a loaded layer is (a verified blob, and `layers/<chainID>/`
 * unpacked from that same tar through the import stage), and a new image record
 * whose config is the image's with the container's Config and the changes applied.
 * The upper dir is read under the container's lock. On any failure what this commit
 * stored is taken back, and the store is as it was.
 */
export async function commitContainer(store: Store, container: ContainerRecord, options: CommitOptions = {}): Promise<CommittedImage> {
  const parent = await readImageRecord(store, container.image);
  const parentConfig = await readImageConfig(store, parent);
  const created = options.sourceDateEpoch === undefined ? new Date().toISOString() : epochTime(options.sourceDateEpoch);
  const configFor = (diffId: string | null) =>
    committedConfig({
      parent: parentConfig,
      container: runConfigOf(container),
      changes: options.changes ?? [],
      author: options.author,
      message: options.message,
      created,
      diffId,
    });
  // Bad instructions or a bad reference fail before anything is read or written.
  configFor(null);
  const repoTags = [];
  if (options.reference !== undefined) {
    const ref = normalizeReference(options.reference);
    repoTags.push(`${ref.repository}:${ref.tag}`);
  }

  const lease = await Lease.create(store);
  try {
    const imported = await storeUpperLayer(store, container, lease, options);
    const config = configFor(imported?.layer.diffId ?? null);
    const bytes = Buffer.from(JSON.stringify(config));
    const blob = await ingestBlob(store, Readable.from([bytes]), { source: `commit ${container.name}: image config` });
    await lease.add({ blobs: [blob.digest] });
    if (blob.created) lease.created.blobs.add(blob.digest);
    const layers: ImageLayer[] = [...parent.layers];
    if (imported !== null) {
      layers.push({
        diffId: imported.layer.diffId,
        chainId: imported.layer.chainId,
        blobDigest: imported.blob.digest,
        blobMediaType: imported.blob.mediaType,
        blobSize: imported.blob.size,
        size: imported.layer.size,
      });
    }
    const record: ImageRecord = {
      id: blob.digest,
      configDigest: blob.digest,
      manifestDigest: null,
      layers,
      size: layers.reduce((sum, l) => sum + l.size, 0),
      created,
      loaded: new Date().toISOString(),
      // Blobs of the image's layers that check --repair had to drop are still missing here.
      ...(parent.missingBlobs !== undefined ? { missingBlobs: parent.missingBlobs } : {}),
    };
    const [published] = await publishImages(store, [{ record, repoTags }]);
    return { ...published!, emptyLayer: imported === null };
  } catch (err) {
    await rollbackCreated(store, lease);
    throw err;
  } finally {
    await lease.release();
  }
}

/**
 * Streams the upper dir's tar (gzipped when asked) into the import
 * stage, which hashes, stores and unpacks it as it arrives: the walk, the compression
 * and the unpack overlap, and no layer is ever held in memory. The walk runs under
 * the container's lock; the import's own store-lock steps come after the last byte,
 * so the two locks are never held in the wrong order. Null: nothing to commit.
 */
async function storeUpperLayer(
  store: Store,
  container: ContainerRecord,
  lease: Lease,
  options: CommitOptions,
): Promise<ImportedLayer | null> {
  const source = `commit ${container.name}`;
  // The import takes the store lock for its lease: run it outside the container lock's context.
  const outsideLock = AsyncLocalStorage.snapshot();
  const started = await withContainerLock(store, container.id, async (): Promise<{ importing: Promise<ImportedLayer> } | null> => {
    // Removed meanwhile: "No such container", nothing read.
    const current = await readContainerRecord(store, container.id);
    const upperDir = containerDirs(store, current.id).upper;
    await assertUpperPresent(store, current.id);
    const image = await imageView(store, current.layers);
    const entries = upperTarEntries({
      upperDir,
      format: store.whiteoutFormat,
      rootless: store.info.rootless,
      mountTargets: current.mounts.map((m) => m.destination.replace(/\/+$/, '') || '/'),
      imageHas: (p) =>
        image.lstat(p).then(
          () => true,
          () => false,
        ),
      sourceDateEpoch: options.sourceDateEpoch,
      onSkipped: options.onSkipped,
      signal: options.signal,
    })[Symbol.asyncIterator]();
    const first = await entries.next();
    if (first.done) return null;

    const tar = new Coalesce(GZIP_JOB_BYTES);
    const { blob, uncompressed } = (options.compression ?? 'gzip') === 'gzip' ? gzipped(tar) : { blob: tar, uncompressed: undefined };
    const importing = outsideLock(() =>
      importLayer(blob, {
        store,
        lease,
        source,
        parent: current.layers.at(-1) ?? null,
        uncompressed,
        limits: options.limits,
        signal: options.signal,
      }),
    );
    importing.catch(() => {}); // awaited below, after the walk
    try {
      await writeTar(prepend(first.value, entries), tar);
      tar.end();
    } catch (err) {
      // The walk's error is the cause; the import's "premature close" only its echo.
      tar.destroy(err as Error);
      await importing.catch(() => {});
      throw err;
    }
    // Returned wrapped: an awaited promise would keep the lock until the import is done.
    return { importing };
  });
  return started === null ? null : started.importing;
}

/**
 * The tar reaches zlib in chunks of this size, each one thread-pool job: with zlib's
 * defaults (16 KiB of output a job) a commit was a chain of tens of thousands of ~1 ms
 * jobs, each followed by a turn of the thread that drives the compressor.
 */
const GZIP_JOB_BYTES = 1 << 20;

/**
 * The tar read twice at once: zlib makes the blob (on a worker thread for all but small
 * layers, gzip-stream.ts says why) while the unpack reads the tar itself, rather than
 * decompressing the blob again. Either reader failing stops the tar and the other, so
 * the writer never waits on a dead stream.
 */
function gzipped(tar: Readable): { blob: Readable; uncompressed: Readable } {
  const gzip = gzipStream(tar, { chunkSize: GZIP_JOB_BYTES });
  const plain = new PassThrough({ highWaterMark: 1 << 20 });
  tar.pipe(plain);
  const stopAll = (err: Error) => {
    for (const stream of [tar, gzip, plain]) stream.destroy(err);
  };
  for (const stream of [tar, gzip, plain]) stream.on('error', stopAll);
  return { blob: gzip, uncompressed: plain };
}

async function* prepend(first: PackEntry, rest: AsyncIterator<PackEntry>): AsyncGenerator<PackEntry> {
  yield first;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/** The container's Config as commit carries it; none for records made before create kept one. */
function runConfigOf(record: ContainerRecord): ContainerRunConfig | undefined {
  const c = record.config;
  if (c === undefined) return undefined;
  return {
    user: c.user,
    env: c.env,
    cmd: c.cmd,
    entrypoint: c.entrypoint,
    workingDir: c.workingDir,
    labels: record.labels ?? {},
    exposedPorts: c.exposedPorts,
    volumes: c.volumes,
    stopSignal: c.stopSignal,
  };
}

/** RFC 3339 in whole seconds, as Go prints a time with no fraction. */
export function epochTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  if (!Number.isSafeInteger(seconds) || seconds < 0 || Number.isNaN(date.getTime())) {
    throw new StrataError('EUSAGE', `source date epoch ${seconds} is not a time`);
  }
  return date.toISOString().replace('.000Z', 'Z');
}
