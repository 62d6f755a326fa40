import { Readable } from 'node:stream';
import { StrataError, isStrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { hasBlob, ingestBlob } from '../content/ingest.js';
import { StoreContentProvider } from '../content/provider.js';
import { readBlob } from '../content/read.js';
import { shortId } from '../content/digest.js';
import { parseReference, familiarName } from '../archive/reference.js';
import { hostPlatform, parsePlatform, type Platform } from '../archive/platform.js';
import { chainIds } from '../layer/chain-id.js';
import { reusableLayer } from '../layer/import.js';
import { ImportPool } from '../layer/import-pool.js';
import { storedLayerDescriptor } from '../layer/media-type.js';
import type { UnpackLimits } from '../layer/limits.js';
import { Lease } from '../store/lease.js';
import { rollbackCreated } from '../gc/rollback.js';
import { parseImageConfigBytes } from '../image/config.js';
import { readImageRecord, type ImageLayer, type ImageRecord } from '../image/record.js';
import { publishImages } from '../image/publish.js';
import { readTags } from '../image/tags.js';
import type { Credentials } from '../registry/auth.js';
import { openRegistry, type FetchedManifest, type RegistryClient } from '../registry/client.js';
import type { TrustSources } from '../registry/tls-trust.js';
import type { RetryPolicy } from '../registry/retry.js';
import type { HttpLimits } from '../registry/http.js';
import { manifestKind, parseImageManifest, pickPlatform, type RemoteDescriptor } from '../registry/manifest.js';
import { runLimited } from './run-limited.js';
import { fetchLayer } from './pull-layer.js';

export interface PullOptions {
  /** `os/arch[/variant]` to pick from a multi-platform index; default: this host. */
  platform?: string;
  /** Registries reached over unchecked HTTPS or plain HTTP besides loopback ones (`--insecure-registry`). */
  insecureRegistries?: readonly string[];
  /** The CA bundle and certs.d HTTPS is checked against (src/registry/tls-trust.ts). */
  trust?: TrustSources;
  /** The credentials for a registry, by the name references give it (`docker.io`, `host:port`). */
  credentials?: (registry: string) => Credentials | undefined | Promise<Credentials | undefined>;
  /** Layers downloaded at once (Docker's `--max-concurrent-downloads`, default 3). */
  maxConcurrentDownloads?: number;
  /**
   * Layers staged at once on worker threads (layer/import-pool.ts; the CLI's
   * STRATA_IMPORT_WORKERS). Default: as load — one per CPU up to the pool's default
   * size, and none (this thread) when the layers to fetch are small.
   */
  importWorkers?: number | undefined;
  limits?: UnpackLimits;
  httpLimits?: Partial<HttpLimits>;
  retry?: RetryPolicy;
  onEvent?: (event: PullEvent) => void;
  /** Aborting stops the pull; everything it created is removed. */
  signal?: AbortSignal;
}

/** `id` is the layer's short blob digest, as Docker shows it. */
export type PullEvent =
  /** The manifest is resolved: its layers, and whether each (and the whole image) is stored already. */
  | { type: 'layers'; ids: { id: string; present: boolean }[]; imageStored: boolean }
  /** Its download begins (a download slot and an import lane were free). */
  | { type: 'layer-start'; id: string; total: number }
  | { type: 'layer-progress'; id: string; done: number }
  /** Every byte arrived and the blob matched its digest; the unpack may still be finishing. */
  | { type: 'layer-verified'; id: string }
  | { type: 'layer-done'; id: string };

export interface PulledImage {
  id: string;
  /** The reference as Docker prints it last: `127.0.0.1:5000/team/app:1.0`, `app@sha256:…`. */
  reference: string;
  /** The digest of what the reference named (the index, for a multi-platform image). */
  digest: string;
  /** False when the store already had the image under this reference: nothing changed. */
  updated: boolean;
}

const MAX_INDEX_DEPTH = 4;
const DEFAULT_CONCURRENT_DOWNLOADS = 3;

/**
 * `strata pull`: resolves the reference at its registry, picks the platform, and
 * stores config, manifest and layers through the same stages as `load`. Layers whose
 * chainID is stored are not fetched; the others stream from the registry straight
 * into the import stage (blob digest, diffID and unpack in one read), several at a
 * time: the download on this thread, the stage on the import pool's workers. The record is published last; a failure removes what the pull created.
 */
export async function pullImage(store: Store, name: string, options: PullOptions = {}): Promise<PulledImage> {
  const ref = parseReference(name);
  // A bad --platform is the caller's mistake: said before anything is asked of the registry.
  const want = options.platform === undefined ? hostPlatform() : parsePlatform(options.platform);
  const tag = ref.digest === undefined ? (ref.tag ?? 'latest') : undefined;
  const reference = familiarName(`${ref.domain}/${ref.path}${tag !== undefined ? `:${tag}` : `@${ref.digest}`}`);
  const client = await openRegistry(ref.domain, {
    insecureRegistries: options.insecureRegistries,
    trust: options.trust,
    credentials: await options.credentials?.(ref.domain),
    limits: options.httpLimits,
    retry: options.retry,
    signal: options.signal,
  });
  const top = await client.manifest(ref.path, ref.digest ?? tag!);
  const manifest = await resolvePlatform(client, ref.path, top, want, reference);
  const parsed = parseImageManifest(manifest.bytes, `manifest ${manifest.digest}`);
  throwIfAborted(options.signal);

  const lease = await Lease.create(store);
  try {
    const stored = await storeImage(store, client, ref.path, manifest, parsed, lease, options);
    const repoTags = tag !== undefined ? [reference] : [];
    const repoDigest = familiarName(`${ref.domain}/${ref.path}@${top.digest}`);
    const existing = await existingImage(store, stored.id);
    const repoDigests = [...new Set([...(existing?.repoDigests ?? []), repoDigest])];
    const record: ImageRecord = { ...stored, repoDigests };
    const tags = await readTags(store);
    const upToDate =
      existing !== null && existing.repoDigests?.includes(repoDigest) === true && repoTags.every((t) => tags[t] === record.id);
    if (!upToDate) await publishImages(store, [{ record, repoTags }]);
    return { id: record.id, reference, digest: top.digest, updated: !upToDate };
  } catch (err) {
    await rollbackCreated(store, lease);
    throw err;
  } finally {
    await lease.release();
  }
}

/** Follows indexes (nested ones too) down to the manifest for the wanted platform, each fetched by its digest. */
async function resolvePlatform(
  client: RegistryClient,
  repository: string,
  top: FetchedManifest,
  want: Platform,
  reference: string,
): Promise<FetchedManifest> {
  let current = top;
  for (let depth = 0; manifestKind(current.mediaType, `manifest for ${reference}`) === 'index'; depth++) {
    if (depth >= MAX_INDEX_DEPTH) {
      throw new StrataError('EINVALIDARCHIVE', `manifest for ${reference}: image indexes nested more than ${MAX_INDEX_DEPTH} deep`);
    }
    const child = pickPlatform(current.bytes, `index ${current.digest}`, want);
    current = checkedSize(await client.manifest(repository, child.digest), child);
  }
  return current;
}

function checkedSize(fetched: FetchedManifest, descriptor: RemoteDescriptor): FetchedManifest {
  if (fetched.bytes.length !== descriptor.size) {
    throw new StrataError(
      'EINTEGRITY',
      `manifest ${descriptor.digest}: ${fetched.bytes.length} bytes, but its descriptor says ${descriptor.size}`,
      {
        expected: descriptor.size,
        found: fetched.bytes.length,
      },
    );
  }
  return fetched;
}

async function storeImage(
  store: Store,
  client: RegistryClient,
  repository: string,
  manifest: FetchedManifest,
  parsed: ReturnType<typeof parseImageManifest>,
  lease: Lease,
  options: PullOptions,
): Promise<ImageRecord> {
  const where = (digest: string) => `${client.endpoint.name}/${repository}@${digest}`;
  const { config } = parsed;
  await lease.add({ blobs: [config.digest, manifest.digest] });
  if (!(await hasBlob(store, config.digest))) {
    const { body } = await client.blob(repository, config.digest);
    const stored = await ingestBlob(store, body, { source: where(config.digest), expected: config.digest, expectedSize: config.size });
    if (stored.created) lease.created.blobs.add(stored.digest);
  }
  // The manifest's exact bytes, so a later save or push keeps its digest.
  const storedManifest = await ingestBlob(store, Readable.from([manifest.bytes]), {
    source: where(manifest.digest),
    expected: manifest.digest,
  });
  if (storedManifest.created) lease.created.blobs.add(storedManifest.digest);

  const imageConfig = parseImageConfigBytes(await readBlob(store, config.digest), where(config.digest));
  const diffIds = imageConfig.rootfs.diff_ids;
  if (diffIds.length !== parsed.layers.length) {
    throw new StrataError(
      'EINVALIDARCHIVE',
      `${where(manifest.digest)}: config lists ${diffIds.length} layers (rootfs.diff_ids) but the manifest has ${parsed.layers.length}`,
      { expected: diffIds.length, found: parsed.layers.length },
    );
  }
  const chain = chainIds(diffIds);
  // Lease first, then look: a layer seen as present can no longer be swept under us.
  await lease.add({ layers: chain, blobs: parsed.layers.map((l) => l.digest) });
  const content = new StoreContentProvider(store);
  const present = await Promise.all(parsed.layers.map((l, i) => reusableLayer(store, lease, chain[i]!, l.digest)));
  options.onEvent?.({
    type: 'layers',
    ids: parsed.layers.map((l, i) => ({ id: shortId(l.digest), present: present[i] !== null })),
    imageStored: (await existingImage(store, config.digest)) !== null,
  });

  // One failing layer stops the others at once; the caller's rollback removes what they made.
  const stop = new AbortController();
  const concurrency = options.maxConcurrentDownloads ?? DEFAULT_CONCURRENT_DOWNLOADS;
  // With fewer workers than downloads, a download starts when a worker is free: a
  // worker more than there are CPUs adds its memory (about 45 MiB) but no speed.
  const pool = new ImportPool(
    store,
    parsed.layers.filter((_, i) => !present[i]).map((l) => l.size),
    { workers: options.importWorkers },
  );
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const layers = await runLimited(
      parsed.layers.map((layer, i) => async (): Promise<ImageLayer> => {
        const reused = present[i];
        if (reused) {
          const blob = await storedLayerDescriptor(content, reused.blobDigest, layer.mediaType);
          return imageLayer(diffIds[i]!, chain[i]!, blob, reused.layer.size);
        }
        const id = shortId(layer.digest);
        throwIfAborted(stop.signal);
        const imported = await fetchLayer(store, client, repository, layer, pool, {
          lease,
          source: where(layer.digest),
          parent: i === 0 ? null : chain[i - 1]!,
          diffId: diffIds[i]!,
          limits: options.limits,
          signal: stop.signal,
          onStart: () => options.onEvent?.({ type: 'layer-start', id, total: layer.size }),
          onProgress: (done) => options.onEvent?.({ type: 'layer-progress', id, done }),
          onBlobVerified: () => options.onEvent?.({ type: 'layer-verified', id }),
        });
        options.onEvent?.({ type: 'layer-done', id });
        return imageLayer(diffIds[i]!, chain[i]!, imported.blob, imported.layer.size);
      }),
      concurrency,
      () => stop.abort(),
    );
    throwIfAborted(options.signal);
    return {
      id: config.digest,
      configDigest: config.digest,
      manifestDigest: manifest.digest,
      layers,
      size: layers.reduce((sum, l) => sum + l.size, 0),
      created: typeof imageConfig.created === 'string' ? imageConfig.created : new Date().toISOString(),
      loaded: new Date().toISOString(),
    };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    // runLimited has waited for every stage to settle: no worker is inside one.
    await pool.close();
  }
}

function imageLayer(diffId: string, chainId: string, blob: { digest: string; mediaType: string; size: number }, size: number): ImageLayer {
  return { diffId, chainId, blobDigest: blob.digest, blobMediaType: blob.mediaType, blobSize: blob.size, size };
}

async function existingImage(store: Store, id: string): Promise<ImageRecord | null> {
  try {
    return await readImageRecord(store, id);
  } catch (err) {
    if (isStrataError(err, 'ENOTFOUND')) return null;
    throw err;
  }
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new StrataError('EINTERRUPTED', 'pull interrupted');
}
