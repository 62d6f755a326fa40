import { StrataError } from '../errors.js';
import { parseDigest, digestHex } from '../content/digest.js';
import { normalizeReference } from './reference.js';
import { verifyDescriptorData } from './descriptor-data.js';
import { formatPlatform, normalizePlatform, platformScore, type Platform } from './platform.js';
import type { ArchiveImage, ArchiveLayer, ArchiveSource } from './source.js';

/**
 * OCI image layouts (umoci, skopeo, buildx, `docker save` ≥ 25): `oci-layout` +
 * index.json + content-addressed blobs. index.json may name several images, each
 * either a manifest or an index of per-platform manifests (possibly nested). Every
 * manifest and index read here is checked against the digest it was named by.
 */
export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_INDEX = 'index.json';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
export const CONFIG_TYPES = new Set<string>([MEDIA_TYPES.ociConfig, MEDIA_TYPES.dockerConfig]);
export const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd',
]);
/** Layers the image says must be fetched from elsewhere (Windows base layers): not in the archive. */
export const FOREIGN_LAYER = /^application\/vnd\.(oci\.image\.layer\.nondistributable\.v1\.tar|docker\.image\.rootfs\.foreign\.diff\.tar)/;
const CONTAINERD_NAME = 'io.containerd.image.name';
const OCI_REF_NAME = 'org.opencontainers.image.ref.name';
const MAX_INDEX_DEPTH = 4;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations: Record<string, string>;
}

export interface OciReadOptions {
  /** The platform to pick from indexes; `explicit` when the user asked for it. */
  platform: Platform;
  explicit: boolean;
}

export async function readOciLayout(source: ArchiveSource, options: OciReadOptions): Promise<ArchiveImage[]> {
  const reader = new LayoutReader(source, options);
  return reader.read();
}

class LayoutReader {
  constructor(
    private readonly source: ArchiveSource,
    private readonly options: OciReadOptions,
  ) {}

  async read(): Promise<ArchiveImage[]> {
    if (!this.source.has(OCI_LAYOUT_FILE)) throw this.invalid(OCI_LAYOUT_FILE, `${OCI_LAYOUT_FILE} is missing (not an OCI image layout)`);
    const layout = await this.source.readJson(OCI_LAYOUT_FILE);
    const version = (layout as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
    if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
      throw this.invalid(OCI_LAYOUT_FILE, `${OCI_LAYOUT_FILE}: unsupported imageLayoutVersion ${JSON.stringify(version)}`);
    }
    if (!this.source.has(OCI_INDEX)) throw this.invalid(OCI_INDEX, `${OCI_INDEX} is missing`);
    const top = this.descriptors(await this.source.readJson(OCI_INDEX), OCI_INDEX);

    // Descriptors with the same name (or none) that all carry a platform are one
    // multi-platform image written flat into index.json: pick one of them.
    const groups = new Map<string, Descriptor[]>();
    for (const d of top.filter((d) => kind(d) !== 'other' && !isAttestation(d))) {
      const key = imageName(d) ?? '';
      groups.set(key, [...(groups.get(key) ?? []), d]);
    }
    const images: ArchiveImage[] = [];
    for (const [name, group] of groups) {
      const repoTags = name ? [name] : [];
      if (group.length > 1 && group.every((d) => d.platform && kind(d) === 'manifest')) {
        images.push(await this.image(this.pick(group, OCI_INDEX), repoTags));
        continue;
      }
      for (const d of group) images.push(await this.image(await this.resolve(d, 0), repoTags));
    }
    if (images.length === 0) throw this.invalid(OCI_INDEX, `${OCI_INDEX} names no image manifests`);
    return mergeSameManifest(images);
  }

  /** Descends through indexes to the one manifest for the wanted platform. */
  private async resolve(d: Descriptor, depth: number): Promise<Descriptor> {
    if (kind(d) === 'manifest') {
      if (this.options.explicit && d.platform && platformScore(d.platform, this.options.platform) === 0) {
        throw this.noPlatform(`manifest ${d.digest}`, [d]);
      }
      return d;
    }
    if (depth >= MAX_INDEX_DEPTH)
      throw this.invalid(this.blobPath(d), `index ${d.digest}: image indexes nested more than ${MAX_INDEX_DEPTH} deep`);
    const where = `index ${d.digest}`;
    const doc = await this.readBlobJson(d, where);
    if (typeof doc === 'object' && doc !== null && 'config' in doc)
      throw this.invalid(this.blobPath(d), `${where} is a manifest, not an index`);
    const children = this.descriptors(doc, where).filter((c) => kind(c) !== 'other' && !isAttestation(c));
    const flat: Descriptor[] = [];
    for (const c of children) flat.push(kind(c) === 'index' ? await this.resolve(c, depth + 1) : c);
    return this.pick(flat, where);
  }

  private pick(candidates: Descriptor[], where: string): Descriptor {
    let best: Descriptor | undefined;
    let bestScore = 0;
    for (const c of candidates) {
      // containerd's rule: a manifest that states no platform matches any.
      const score = c.platform ? platformScore(c.platform, this.options.platform) : 1;
      if (score > bestScore) [best, bestScore] = [c, score];
    }
    if (!best) throw this.noPlatform(where, candidates);
    return best;
  }

  private async image(d: Descriptor, repoTags: string[]): Promise<ArchiveImage> {
    const where = `manifest ${d.digest}`;
    const doc = await this.readBlobJson(d, where);
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw this.invalid(this.blobPath(d), `${where} is not an object`);
    const m = doc as Record<string, unknown>;
    if ('manifests' in m) throw this.invalid(this.blobPath(d), `${where} is an index, not a manifest`);
    if (m.mediaType !== undefined && !MANIFEST_TYPES.has(String(m.mediaType))) {
      throw this.invalid(this.blobPath(d), `${where}: media type ${JSON.stringify(m.mediaType)} is not an image manifest`);
    }
    if (m.schemaVersion !== 2)
      throw this.invalid(this.blobPath(d), `${where}: unsupported schemaVersion ${JSON.stringify(m.schemaVersion)}`);
    const config = this.descriptor(m.config, `${where} config`);
    if (!CONFIG_TYPES.has(config.mediaType)) {
      throw this.invalid(this.blobPath(config), `${where}: not a container image (config media type ${config.mediaType})`);
    }
    if (!Array.isArray(m.layers)) throw this.invalid(this.blobPath(d), `${where}: layers is not an array`);
    const layers = m.layers.map((raw: unknown, i): ArchiveLayer => {
      const layer = this.descriptor(raw, `${where} layers[${i}]`);
      if (FOREIGN_LAYER.test(layer.mediaType)) {
        throw this.invalid(
          this.blobPath(layer),
          `${where} layers[${i}] is a foreign (non-distributable) layer ${layer.digest}; its content is not in the archive and strata does not fetch it`,
        );
      }
      if (!LAYER_TYPES.has(layer.mediaType))
        throw this.invalid(this.blobPath(layer), `${where} layers[${i}]: unsupported layer media type ${layer.mediaType}`);
      return { path: this.requireBlob(layer, `${where} layers[${i}]`), digest: layer.digest, size: layer.size, mediaType: layer.mediaType };
    });
    return {
      configPath: this.requireBlob(config, `${where} config`),
      configDigest: config.digest,
      manifestDigest: d.digest,
      manifestPath: this.blobPath(d),
      layers,
      repoTags,
    };
  }

  private async readBlobJson(d: Descriptor, where: string): Promise<unknown> {
    return this.source.readJson(this.requireBlob(d, where), { digest: d.digest });
  }

  /** The blob's path, after checking it is there with the size its descriptor says. */
  private requireBlob(d: Descriptor, where: string): string {
    const path = this.blobPath(d);
    if (!this.source.has(path)) throw this.invalid(path, `${where}: blob ${path} is missing from the archive`);
    const size = this.source.size(path);
    if (size !== d.size) {
      throw new StrataError('EINTEGRITY', `${this.source.displayName}: ${path}: ${size} bytes, but ${where} says ${d.size}`, {
        path,
        expected: d.size,
        found: size,
      });
    }
    return path;
  }

  private blobPath(d: Descriptor): string {
    return `blobs/sha256/${digestHex(d.digest)}`;
  }

  private descriptors(doc: unknown, where: string): Descriptor[] {
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw this.invalid(where, `${where} is not an object`);
    const index = doc as Record<string, unknown>;
    if (index.schemaVersion !== 2) throw this.invalid(where, `${where}: unsupported schemaVersion ${JSON.stringify(index.schemaVersion)}`);
    if (index.mediaType !== undefined && !INDEX_TYPES.has(String(index.mediaType))) {
      throw this.invalid(where, `${where}: media type ${JSON.stringify(index.mediaType)} is not an image index`);
    }
    if (!Array.isArray(index.manifests)) throw this.invalid(where, `${where}: manifests is not an array`);
    return index.manifests.map((raw: unknown, i) => this.descriptor(raw, `${where} manifests[${i}]`));
  }

  private descriptor(raw: unknown, where: string): Descriptor {
    if (typeof raw !== 'object' || raw === null) throw this.invalid(where, `${where}: descriptor is not an object`);
    const r = raw as Record<string, unknown>;
    if (typeof r.mediaType !== 'string' || r.mediaType === '') throw this.invalid(where, `${where}: descriptor has no mediaType`);
    const digest = parseDigest(r.digest, `${this.source.displayName}: ${where}`);
    const size = r.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw this.invalid(where, `${where}: bad size ${JSON.stringify(size)}`);
    verifyDescriptorData(r.data, digest, size, `${this.source.displayName}: ${where}`, `blobs/sha256/${digestHex(digest)}`);
    const annotations: Record<string, string> = {};
    if (typeof r.annotations === 'object' && r.annotations !== null) {
      for (const [k, v] of Object.entries(r.annotations)) if (typeof v === 'string') annotations[k] = v;
    }
    const p = r.platform as Record<string, unknown> | undefined;
    const platform =
      typeof p === 'object' && p !== null && typeof p.os === 'string' && typeof p.architecture === 'string'
        ? normalizePlatform({
            os: p.os,
            architecture: p.architecture,
            ...(typeof p.variant === 'string' ? { variant: p.variant } : {}),
          })
        : undefined;
    return { mediaType: r.mediaType, digest, size, annotations, ...(platform ? { platform } : {}) };
  }

  private noPlatform(where: string, candidates: Descriptor[]): StrataError {
    const have = candidates.filter((c) => c.platform).map((c) => formatPlatform(c.platform!));
    return new StrataError(
      'EPLATFORM',
      `${this.source.displayName}: ${where} has no image for ${formatPlatform(this.options.platform)}; it has ${have.length ? have.join(', ') : 'no platforms'}`,
      {
        path: this.source.displayName,
        expected: formatPlatform(this.options.platform),
        found: have.join(', '),
      },
    );
  }

  private invalid(name: string, why: string): StrataError {
    return new StrataError('EINVALIDARCHIVE', `${this.source.displayName}: ${why}`, { path: name });
  }
}

/** One manifest listed under several names (Docker ≥ 25 does this per tag) is one image with several tags. */
function mergeSameManifest(images: ArchiveImage[]): ArchiveImage[] {
  const byManifest = new Map<string | undefined, ArchiveImage>();
  const merged: ArchiveImage[] = [];
  for (const image of images) {
    const first = byManifest.get(image.manifestDigest);
    if (first === undefined) {
      byManifest.set(image.manifestDigest, image);
      merged.push(image);
    } else {
      for (const tag of image.repoTags) if (!first.repoTags.includes(tag)) first.repoTags.push(tag);
    }
  }
  return merged;
}

function kind(d: Descriptor): 'manifest' | 'index' | 'other' {
  if (MANIFEST_TYPES.has(d.mediaType)) return 'manifest';
  if (INDEX_TYPES.has(d.mediaType)) return 'index';
  return 'other';
}

/** buildx attaches provenance as extra manifests for platform unknown/unknown. */
function isAttestation(d: Descriptor): boolean {
  return (
    d.annotations['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown')
  );
}

/**
 * containerd's rule: `io.containerd.image.name` is a full reference; a ref.name counts
 * only when it is one too (has `/`, `:` or `@`) — a bare `1.0` names no repository.
 */
function imageName(d: Descriptor): string | undefined {
  for (const raw of [d.annotations[CONTAINERD_NAME], d.annotations[OCI_REF_NAME]]) {
    if (raw === undefined || !/[/:@]/.test(raw)) continue;
    try {
      const ref = normalizeReference(raw);
      return `${ref.repository}:${ref.tag}`;
    } catch {
      // A digest reference or a malformed name tags nothing; the image still loads.
    }
  }
  return undefined;
}
