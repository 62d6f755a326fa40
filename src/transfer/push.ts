import { PassThrough } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { shortId } from '../content/digest.js';
import { StoreContentProvider, type ContentProvider } from '../content/provider.js';
import { imageManifest, MEDIA_TYPES } from '../archive/image-writer.js';
import { parseReference, familiarName } from '../archive/reference.js';
import { imageLayerDescriptors } from '../image/descriptors.js';
import { findImage } from '../image/lookup.js';
import { addRepoDigest } from '../image/repo-digest.js';
import type { ImageRecord } from '../image/record.js';
import type { Credentials } from '../registry/auth.js';
import { openRegistry } from '../registry/client.js';
import type { TrustSources } from '../registry/tls-trust.js';
import type { HttpLimits } from '../registry/http.js';
import { parseImageManifest } from '../registry/manifest.js';
import type { RetryPolicy } from '../registry/retry.js';
import { runLimited } from './run-limited.js';

export interface PushOptions {
  insecureRegistries?: readonly string[];
  /** The CA bundle and certs.d HTTPS is checked against (src/registry/tls-trust.ts). */
  trust?: TrustSources;
  credentials?: (registry: string) => Credentials | undefined | Promise<Credentials | undefined>;
  /** Blobs uploaded at once (Docker's `--max-concurrent-uploads`, default 5). */
  maxConcurrentUploads?: number;
  /** Blobs larger than this are uploaded in chunks of this size (default 16 MiB). */
  chunkSize?: number;
  httpLimits?: Partial<HttpLimits>;
  retry?: RetryPolicy;
  onEvent?: (event: PushEvent) => void;
  signal?: AbortSignal;
}

/** `id` is the layer's short diffID, as `docker push` shows it. */
export type PushEvent =
  | { type: 'layers'; ids: string[] }
  /** `mountedFrom`: the registry linked the blob from that repository; nothing was uploaded. */
  | { type: 'layer-start'; id: string; total: number }
  /** Bytes of the layer's blob sent so far (from 0 again when an upload starts over). */
  | { type: 'layer-progress'; id: string; done: number }
  | { type: 'layer-done'; id: string; outcome: 'pushed' | 'exists'; mountedFrom?: string };

export interface PushedImage {
  /** The tag pushed, as Docker prints it before `: digest:`. */
  tag: string;
  digest: string;
  /** The manifest's byte size. */
  size: number;
}

const DEFAULT_CONCURRENT_UPLOADS = 5;
/**
 * Blobs up to this size go in one PUT; larger ones in PATCHes of this size, so an
 * upload cut off midway resumes from the last chunk the registry acknowledged.
 */
const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

/**
 * `strata push`: every blob the registry lacks (HEAD first), then the manifest — the
 * exact bytes stored when the image was pulled or loaded with one, so its digest is
 * the one it had; a manifest is written only for images that came without one. Blobs
 * are read from the store as they are; nothing is recompressed.
 */
export async function pushImage(store: Store, name: string, options: PushOptions = {}): Promise<PushedImage> {
  const ref = parseReference(name);
  if (ref.digest !== undefined) throw new StrataError('EUSAGE', `${name}: push takes a tag, not a digest`);
  const tag = ref.tag ?? 'latest';
  const record = await findImage(store, familiarName(`${ref.domain}/${ref.path}:${tag}`));
  const content = new StoreContentProvider(store);
  const manifest = await manifestOf(content, record, name);
  const client = await openRegistry(ref.domain, {
    insecureRegistries: options.insecureRegistries,
    trust: options.trust,
    credentials: await options.credentials?.(ref.domain),
    limits: options.httpLimits,
    retry: options.retry,
    signal: options.signal,
  });
  // Where this registry already has the image's blobs: the other repositories it was pulled from.
  const sources = sourceRepositories(record, ref.domain, ref.path);
  const layerIds = record.layers.map((l) => shortId(l.diffId));
  options.onEvent?.({ type: 'layers', ids: layerIds });
  const blobs = [...manifest.layers.map((l, i) => ({ ...l, id: layerIds[i] })), { ...manifest.config, id: undefined }];
  await runLimited(
    blobs.map((blob) => async () => {
      if (options.signal?.aborted) throw new StrataError('EINTERRUPTED', 'push interrupted');
      const exists = await client.hasBlob(ref.path, blob.digest);
      let mountedFrom: string | undefined;
      for (const from of exists ? [] : sources) {
        if (await client.mountBlob(ref.path, blob.digest, from)) {
          mountedFrom = from;
          break;
        }
      }
      if (!exists && mountedFrom === undefined) {
        const { size } = await content.info(blob.digest);
        if (size !== blob.size) {
          throw new StrataError(
            'EINTEGRITY',
            `${name}: blob ${blob.digest} is ${size} bytes in the store, but the manifest says ${blob.size}`,
          );
        }
        const id = blob.id;
        if (id !== undefined) options.onEvent?.({ type: 'layer-start', id, total: size });
        const progress = id === undefined ? undefined : (done: number) => options.onEvent?.({ type: 'layer-progress', id, done });
        await client.uploadBlob(
          ref.path,
          { digest: blob.digest, size, open: (start, end) => streamLater(content, blob.digest, start, end) },
          { chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE, ...(progress ? { onProgress: progress } : {}) },
        );
      }
      if (blob.id !== undefined) {
        options.onEvent?.({
          type: 'layer-done',
          id: blob.id,
          outcome: exists ? 'exists' : 'pushed',
          ...(mountedFrom ? { mountedFrom } : {}),
        });
      }
    }),
    options.maxConcurrentUploads ?? DEFAULT_CONCURRENT_UPLOADS,
    () => {},
  );
  const digest = await client.putManifest(ref.path, tag, manifest.bytes, manifest.mediaType);
  await addRepoDigest(store, record.id, familiarName(`${ref.domain}/${ref.path}@${digest}`));
  return { tag, digest, size: manifest.bytes.length };
}

function sourceRepositories(record: ImageRecord, registry: string, repository: string): string[] {
  const out: string[] = [];
  for (const repoDigest of record.repoDigests ?? []) {
    const source = parseReference(repoDigest);
    if (source.domain === registry && source.path !== repository && !out.includes(source.path)) out.push(source.path);
  }
  return out;
}

interface PushManifest {
  bytes: Buffer;
  mediaType: string;
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

async function manifestOf(content: ContentProvider, record: ImageRecord, name: string): Promise<PushManifest> {
  const missing = record.missingBlobs?.[0];
  if (missing !== undefined) {
    throw new StrataError(
      'ENOTFOUND',
      `${name}: blob ${missing} is missing from the store (check --repair removed it); pull or load the image again`,
    );
  }
  if (record.manifestDigest !== null) {
    const bytes = await content.readBounded(record.manifestDigest, 4 << 20);
    const parsed = parseImageManifest(bytes, `manifest ${record.manifestDigest}`);
    const mediaType = (JSON.parse(bytes.toString()) as { mediaType?: unknown }).mediaType;
    return {
      bytes,
      mediaType: typeof mediaType === 'string' ? mediaType : MEDIA_TYPES.manifest,
      config: parsed.config,
      layers: parsed.layers,
    };
  }
  const configBytes = await content.readBounded(record.configDigest, 8 << 20);
  const layers = await imageLayerDescriptors(content, record);
  const bytes = imageManifest(configBytes, layers);
  return { bytes, mediaType: MEDIA_TYPES.manifest, config: { digest: record.configDigest, size: configBytes.length }, layers };
}

/** Bytes [start, end) of a blob as an upload body, opened when the request is sent (and again for a retry). */
function streamLater(content: ContentProvider, digest: string, start: number, end: number): PassThrough {
  const out = new PassThrough();
  content.open(digest, { start, end: end - 1 }).then(
    (stream) => stream.pipe(out),
    (err: Error) => out.destroy(err),
  );
  return out;
}
