import type { Writable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { streamToFile } from '../store/stream-to-file.js';
import { writeTar } from '../archive/tar-writer.js';
import type { PackEntry } from '../archive/pack-entry.js';
import { MEDIA_TYPES, imageManifest, sha256, type SaveTag } from '../archive/image-writer.js';
import { familiarName, normalizeReference } from '../archive/reference.js';
import { StoreContentProvider, type ContentProvider } from '../content/provider.js';
import { imageLayerDescriptors } from '../image/descriptors.js';
import { findImage } from '../image/lookup.js';
import type { ImageRecord } from '../image/record.js';
import { readTags } from '../image/tags.js';
import { LAYER_MEDIA_TYPES } from '../layer/media-type.js';
import { uncompressedLayer } from './uncompressed-layer.js';

/** Configs and manifests are read into memory; anything larger is no config. */
const MAX_JSON_BYTES = 4 << 20;

export interface SaveOptions {
  /**
   * Layers as plain tars named by their diffIDs, under new manifests (so new manifest
   * digests; config and diffIDs unchanged), as Docker 25 saves: for tools that cannot
   * read zstd or gzip layers.
   */
  uncompressed?: boolean;
  /** Aborting stops the save at the next entry; `-o` leaves no file behind. */
  signal?: AbortSignal;
}

export interface SaveResult {
  images: number;
  /** Distinct blobs written. */
  blobs: number;
}

interface SavedImage {
  name: string;
  record: ImageRecord;
  tags: SaveTag[];
  configBytes: Buffer;
  manifestBytes: Buffer;
  manifestMediaType: string;
  layerDigests: string[];
}

/** The images named, as found (by tag or ID), each once; a name that is a tag saves that tag. */
async function resolveImages(store: Store, provider: ContentProvider, names: string[]): Promise<SavedImage[]> {
  const tags = await readTags(store);
  const byId = new Map<string, SavedImage>();
  for (const name of names) {
    const record = await findImage(store, name);
    let tag: SaveTag | undefined;
    try {
      const familiar = familiarName(name);
      if (tags[familiar] === record.id) tag = { name: familiar, ...normalizeReference(familiar) };
    } catch {
      // an ID, not a reference
    }
    const known = byId.get(record.id);
    if (known !== undefined) {
      if (tag !== undefined && !known.tags.some((t) => t.name === tag.name)) known.tags.push(tag);
      continue;
    }
    byId.set(record.id, await readImage(provider, name, record, tag === undefined ? [] : [tag]));
  }
  return [...byId.values()];
}

async function readImage(provider: ContentProvider, name: string, record: ImageRecord, tags: SaveTag[]): Promise<SavedImage> {
  const missing = record.missingBlobs?.[0];
  if (missing !== undefined) throw missingBlob(name, missing);
  const configBytes = await readBlob(provider, name, record.configDigest);
  let manifestBytes: Buffer;
  let manifestMediaType: string = MEDIA_TYPES.manifest;
  let layerDigests: string[];
  if (record.manifestDigest !== null) {
    manifestBytes = await readBlob(provider, name, record.manifestDigest);
    const parsed = JSON.parse(manifestBytes.toString('utf8')) as { mediaType?: unknown; layers?: Array<{ digest?: unknown }> };
    if (typeof parsed.mediaType === 'string') manifestMediaType = parsed.mediaType;
    layerDigests = (parsed.layers ?? []).map((l) => String(l.digest));
  } else {
    const layers = await imageLayerDescriptors(provider, record);
    manifestBytes = imageManifest(configBytes, layers);
    layerDigests = layers.map((l) => l.digest);
  }
  for (const digest of layerDigests) await provider.info(digest).catch((err) => rethrowMissing(err, name, digest));
  return { name, record, tags, configBytes, manifestBytes, manifestMediaType, layerDigests };
}

async function readBlob(provider: ContentProvider, name: string, digest: string): Promise<Buffer> {
  return provider.readBounded(digest, MAX_JSON_BYTES).catch((err) => rethrowMissing(err, name, digest));
}

function rethrowMissing(err: unknown, name: string, digest: string): never {
  if (err instanceof StrataError && err.code === 'ENOTFOUND') throw missingBlob(name, digest);
  throw err;
}

function missingBlob(name: string, digest: string): StrataError {
  return new StrataError('ENOTFOUND', `image ${name} is missing blob ${digest}: load or pull it again to save it`, {
    path: digest,
  });
}

const hex = (digest: string) => digest.slice('sha256:'.length);

/** index.json's descriptors: one per tag (Docker's two name annotations), or one bare for an untagged image. */
function indexDescriptors(images: SavedImage[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const image of images) {
    const base = { mediaType: image.manifestMediaType, digest: sha256(image.manifestBytes), size: image.manifestBytes.length };
    if (image.tags.length === 0) out.push(base);
    for (const tag of image.tags) {
      out.push({ ...base, annotations: { 'io.containerd.image.name': tag.full, 'org.opencontainers.image.ref.name': tag.tag } });
    }
  }
  return out;
}

function manifestJson(images: SavedImage[]): unknown[] {
  return images.map((image) => ({
    Config: `blobs/sha256/${hex(image.record.configDigest)}`,
    RepoTags: image.tags.length ? image.tags.map((t) => t.name) : null,
    Layers: image.layerDigests.map((d) => `blobs/sha256/${hex(d)}`),
  }));
}

function repositoriesJson(images: SavedImage[]): Record<string, Record<string, string>> {
  const repos: Record<string, Record<string, string>> = {};
  for (const image of images) {
    const id = hex(image.layerDigests.at(-1) ?? image.record.configDigest);
    for (const tag of image.tags) (repos[tag.repository] ??= {})[tag.tag] = id;
  }
  return repos;
}

/** The archive's entries, in Docker's order; each blob once, streamed from the store when written. */
async function* saveEntries(
  provider: ContentProvider,
  images: SavedImage[],
  mtime: number,
  result: SaveResult,
  options: SaveOptions,
): AsyncGenerator<PackEntry> {
  const { signal } = options;
  const base = { uid: 0, gid: 0, mtime };
  const file = (p: string, content: Buffer | string): PackEntry => ({
    ...base,
    path: p,
    kind: 'file',
    mode: 0o644,
    content: typeof content === 'string' ? Buffer.from(content) : content,
  });
  yield { ...base, path: 'blobs', kind: 'dir', mode: 0o755 };
  yield { ...base, path: 'blobs/sha256', kind: 'dir', mode: 0o755 };
  const seen = new Set<string>();
  const plainSizes = new Map<string, number>();
  for (const image of images) {
    if (options.uncompressed) {
      yield* uncompressedImageEntries(provider, image, seen, plainSizes, base, signal);
      continue;
    }
    const inMemory: Array<[string, Buffer]> = [
      [image.record.configDigest, image.configBytes],
      [sha256(image.manifestBytes), image.manifestBytes],
    ];
    for (const [digest, bytes] of inMemory) {
      if (seen.has(digest)) continue;
      seen.add(digest);
      yield file(`blobs/sha256/${hex(digest)}`, bytes);
    }
    for (const digest of image.layerDigests) {
      if (seen.has(digest)) continue;
      seen.add(digest);
      if (signal?.aborted) throw new StrataError('EINTERRUPTED', 'interrupted');
      const { size } = await provider.info(digest).catch((err) => rethrowMissing(err, image.name, digest));
      yield {
        ...base,
        path: `blobs/sha256/${hex(digest)}`,
        kind: 'file',
        mode: 0o644,
        size,
        open: () => provider.open(digest).catch((err) => rethrowMissing(err, image.name, digest)),
      };
    }
  }
  result.blobs = seen.size;
  yield file('index.json', `${JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: indexDescriptors(images) })}\n`);
  yield file('manifest.json', `${JSON.stringify(manifestJson(images))}\n`);
  yield file('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const repos = repositoriesJson(images);
  if (Object.keys(repos).length) yield file('repositories', `${JSON.stringify(repos)}\n`);
}

/**
 * One image of `save --uncompressed`: each layer as its plain tar under its diffID,
 * then the config and a new manifest naming those tars (it needs their sizes, known
 * once the layers are written). `image` is updated to that manifest for index.json,
 * manifest.json and repositories.
 */
async function* uncompressedImageEntries(
  provider: ContentProvider,
  image: SavedImage,
  seen: Set<string>,
  plainSizes: Map<string, number>,
  base: { uid: number; gid: number; mtime: number },
  signal?: AbortSignal,
): AsyncGenerator<PackEntry> {
  for (const layer of image.record.layers) {
    if (seen.has(layer.diffId)) continue;
    seen.add(layer.diffId);
    if (signal?.aborted) throw new StrataError('EINTERRUPTED', 'interrupted');
    const plain = await uncompressedLayer(provider, layer, signal).catch((err) => rethrowMissing(err, image.name, layer.blobDigest));
    plainSizes.set(layer.diffId, plain.size);
    yield { ...base, path: `blobs/sha256/${hex(layer.diffId)}`, kind: 'file', mode: 0o644, size: plain.size, open: plain.open };
  }
  image.manifestBytes = imageManifest(
    image.configBytes,
    image.record.layers.map((l) => ({ mediaType: LAYER_MEDIA_TYPES.none, digest: l.diffId, size: plainSizes.get(l.diffId)! })),
  );
  image.manifestMediaType = MEDIA_TYPES.manifest;
  image.layerDigests = image.record.layers.map((l) => l.diffId);
  for (const [digest, bytes] of [
    [image.record.configDigest, image.configBytes],
    [sha256(image.manifestBytes), image.manifestBytes],
  ] as const) {
    if (seen.has(digest)) continue;
    seen.add(digest);
    yield { ...base, path: `blobs/sha256/${hex(digest)}`, kind: 'file', mode: 0o644, content: bytes };
  }
}

/** Writes the archive of the named images into `out` (not ended). Every name and blob is checked before a byte is written. */
export async function saveImages(store: Store, names: string[], out: Writable, options: SaveOptions = {}): Promise<SaveResult> {
  if (names.length === 0) throw new StrataError('EUSAGE', 'save needs at least one image');
  const provider = new StoreContentProvider(store);
  const images = await resolveImages(store, provider, names);
  const result: SaveResult = { images: images.length, blobs: 0 };
  await writeTar(saveEntries(provider, images, 0, result, options), out);
  return result;
}

/** `save -o FILE`, atomically (store/stream-to-file.ts): a failed save leaves FILE as it was. */
export async function saveImagesToFile(store: Store, names: string[], file: string, options: SaveOptions = {}): Promise<SaveResult> {
  return streamToFile(file, (out) => saveImages(store, names, out, options));
}
