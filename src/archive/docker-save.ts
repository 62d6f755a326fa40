import { StrataError } from '../errors.js';
import { normalizeReference } from './reference.js';
import type { ArchiveImage, ArchiveLayer, ArchiveSource } from './source.js';
import { normalizeEntryName } from './tar-index.js';

/**
 * `docker save` archives: manifest.json lists each image as {Config, RepoTags, Layers}
 * with paths inside the archive. Docker 20.10 writes `<id>/layer.tar` and
 * `<imageID>.json`; skopeo writes `<diffID>.tar` (and symlinks); Docker ≥ 25 points
 * into the OCI layout it writes alongside (`blobs/sha256/<hex>`). Where a path is
 * named by its digest, the digest is passed on so the content gets verified.
 */
export const DOCKER_MANIFEST = 'manifest.json';
const LAYOUT_INDEX = 'index.json';

const CONFIG_BY_ID = /^([0-9a-f]{64})\.json$/;
const BLOB_BY_DIGEST = /^blobs\/sha256\/([0-9a-f]{64})$/;

export async function readDockerSave(source: ArchiveSource): Promise<ArchiveImage[]> {
  const manifest = await source.readJson(DOCKER_MANIFEST);
  const where = `${source.displayName}: ${DOCKER_MANIFEST}`;
  if (!Array.isArray(manifest) || manifest.length === 0) {
    throw new StrataError('EINVALIDARCHIVE', `${where}: expected a non-empty array of images`, { path: DOCKER_MANIFEST });
  }
  const images = manifest.map((item: unknown, i) => readItem(source, item, `${DOCKER_MANIFEST}[${i}]`));
  await keepLayoutManifests(source, images);
  return images;
}

/**
 * Docker ≥ 25 (and `strata save`) write each image's manifest into the OCI layout
 * beside manifest.json. A manifest there naming the same config and layer blobs is
 * loaded with the image, so its digest survives a save and load. Anything unreadable
 * in the layout leaves the image as manifest.json alone describes it.
 */
async function keepLayoutManifests(source: ArchiveSource, images: ArchiveImage[]): Promise<void> {
  if (!source.has(LAYOUT_INDEX)) return;
  const index = (await source.readJson(LAYOUT_INDEX).catch(() => null)) as { manifests?: unknown } | null;
  const listed = Array.isArray(index?.manifests) ? (index.manifests as unknown[]) : [];
  for (const raw of listed) {
    const digest = (raw as { digest?: unknown } | null)?.digest;
    const hex = typeof digest === 'string' ? /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1] : undefined;
    if (hex === undefined || !source.has(`blobs/sha256/${hex}`)) continue;
    const manifestPath = `blobs/sha256/${hex}`;
    const manifest = (await source.readJson(manifestPath).catch(() => null)) as {
      config?: { digest?: unknown };
      layers?: Array<{ digest?: unknown; size?: unknown; mediaType?: unknown }>;
    } | null;
    const layers = Array.isArray(manifest?.layers) ? manifest.layers : [];
    for (const image of images) {
      if (image.manifestDigest !== undefined || image.configDigest === undefined) continue;
      if (manifest?.config?.digest !== image.configDigest || layers.length !== image.layers.length) continue;
      if (!layers.every((l, i) => l?.digest === image.layers[i]!.digest)) continue;
      image.manifestDigest = digest as string;
      image.manifestPath = manifestPath;
      image.layers.forEach((layer, i) => {
        const { size, mediaType } = layers[i]!;
        if (Number.isSafeInteger(size)) layer.size = size as number;
        if (typeof mediaType === 'string') layer.mediaType = mediaType;
      });
    }
  }
}

function readItem(source: ArchiveSource, item: unknown, where: string): ArchiveImage {
  const invalid = (why: string) => new StrataError('EINVALIDARCHIVE', `${source.displayName}: ${where}: ${why}`, { path: DOCKER_MANIFEST });
  if (typeof item !== 'object' || item === null) throw invalid('not an object');
  const { Config, Layers, RepoTags } = item as Record<string, unknown>;
  if (!Array.isArray(Layers)) throw invalid('Layers is not an array');
  if (RepoTags !== undefined && RepoTags !== null && !Array.isArray(RepoTags)) throw invalid('RepoTags is not an array');

  const configPath = entryPath(source, Config, `${where}.Config`);
  const configDigest = digestFromPath(configPath);
  const layers = Layers.map((raw: unknown, j): ArchiveLayer => {
    const path = entryPath(source, raw, `${where}.Layers[${j}]`);
    const digest = BLOB_BY_DIGEST.exec(path);
    return digest ? { path, digest: `sha256:${digest[1]!}` } : { path };
  });
  const repoTags: string[] = [];
  for (const tag of (RepoTags ?? []) as unknown[]) {
    if (typeof tag !== 'string') throw invalid(`RepoTags holds a non-string ${JSON.stringify(tag)}`);
    let familiar: string;
    try {
      const ref = normalizeReference(tag);
      familiar = `${ref.repository}:${ref.tag}`;
    } catch (err) {
      throw invalid(`invalid tag ${JSON.stringify(tag)}: ${(err as Error).message}`);
    }
    if (!repoTags.includes(familiar)) repoTags.push(familiar);
  }
  return { configPath, ...(configDigest ? { configDigest } : {}), layers, repoTags };
}

/**
 * A path written in manifest.json: relative to the archive root, never absolute and
 * never climbing out, and present (following in-archive links).
 */
function entryPath(source: ArchiveSource, raw: unknown, where: string): string {
  const invalid = (why: string) =>
    new StrataError('EINVALIDARCHIVE', `${source.displayName}: ${where}: ${why}`, { path: typeof raw === 'string' ? raw : where });
  if (typeof raw !== 'string' || raw === '') throw invalid(`expected a path, found ${JSON.stringify(raw)}`);
  const name = raw.startsWith('/') ? null : normalizeEntryName(raw);
  if (name === null) throw invalid(`path ${JSON.stringify(raw)} escapes the archive`);
  if (!source.has(name)) throw invalid(`${JSON.stringify(raw)} is missing from the archive`);
  return name;
}

/** `<64 hex>.json` (the image ID) and `blobs/sha256/<hex>` name their content. */
function digestFromPath(path: string): string | undefined {
  const m = CONFIG_BY_ID.exec(path) ?? BLOB_BY_DIGEST.exec(path);
  return m ? `sha256:${m[1]!}` : undefined;
}
