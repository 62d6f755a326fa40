/**
 * Images built from declarative specs: layers as lists of entries (layer-spec.ts),
 * a config with defaults, a platform, tags; written as docker-save (Docker 20.10
 * legacy, Docker ≥ 25) or OCI layout archives (image-writer.ts). Layers are written
 * to temp files, hashed and compressed there, then streamed into the outer tar, so a
 * multi-GiB image never sits in memory. Deterministic (fixed times, seeded content):
 * the same spec gives the same bytes. fixtures/, the tests and the benchmarks build
 * their images with it.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { hostPlatform, parsePlatform, type Platform } from './platform.js';
import {
  MEDIA_TYPES,
  descriptor,
  docker25Entries,
  dockerLegacyEntries,
  imageBlobs,
  imageManifest,
  ociLayoutEntries,
  sha256,
  writeArchive,
  type ImageBlob,
  type ImageParts,
  type OuterEntry,
  type SaveTag,
} from './image-writer.js';
import { FIXED_MTIME, buildLayer, type BuiltLayer, type Compression, type LayerInput } from './layer-spec.js';

export type ImageFormat = 'docker' | 'oci' | 'docker25';

export interface ImageConfig {
  created: string;
  architecture: string;
  os: string;
  variant?: string;
  config: Record<string, unknown>;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: Array<Record<string, unknown>>;
  [key: string]: unknown;
}

export interface ImageSpec {
  layers: LayerInput[];
  config?: Partial<ImageConfig>;
  /** `os/arch[/variant]`; default: this host, as strata maps it. */
  platform?: string | Platform;
  /** Default for layers that do not say. */
  compression?: Compression;
}

export interface BuildImageOptions extends ImageSpec {
  format: ImageFormat;
  /** Tags, parsed by the caller (image/reference.ts) so that archive code needs no image code. */
  tags?: SaveTag[];
  outerGzip?: boolean;
  /** docker format only: write each layer once as `<hex>.tar` and `<id>/layer.tar` as a link to it (skopeo style). */
  layerLinks?: 'symlink' | 'hardlink';
  /** Where layers are staged; default the OS temp dir. */
  workDir?: string;
}

export interface BuiltImage {
  /** The config digest, which is the image ID. */
  imageId: string;
  configDigest: string;
  manifestDigest: string;
  config: ImageConfig;
  manifest: Record<string, unknown>;
  layers: BuiltLayer[];
  repoTags: string[];
  platform: Platform;
}

export interface LayoutImageSpec extends ImageSpec {
  /** `io.containerd.image.name` (a full reference). */
  name?: string;
  /** `org.opencontainers.image.ref.name` (skopeo writes `app:1.0`, Docker just `1.0`). */
  refName?: string;
  /** Put the image's platform on its index.json descriptor (a flat multi-platform index). */
  describePlatform?: boolean;
}

export interface LayoutIndexSpec {
  /** Per-platform images of one multi-platform index; each should set `platform`. */
  index: ImageSpec[];
  name?: string;
  refName?: string;
  /** Docker's manifest-list media type instead of the OCI one. */
  dockerList?: boolean;
  /** Wrap the index in a second index (an index of an index). */
  nested?: boolean;
}

export interface MultiLayoutOptions {
  images: Array<LayoutImageSpec | LayoutIndexSpec>;
  outerGzip?: boolean;
  workDir?: string;
}

export interface BuiltLayout {
  /** Every image manifest written, in order (all platforms of an index). */
  images: BuiltImage[];
  /** Digests of the top-level index.json entries. */
  topDigests: string[];
}

export const FIXED_CREATED = new Date(FIXED_MTIME * 1000).toISOString();

/** Writes the image archive into `out` (a file path, or a stream it ends). */
export async function writeImage(out: string | Writable, options: BuildImageOptions): Promise<BuiltImage> {
  return withWorkDir(options.workDir, async (work) => {
    const { entries, image } = await imageArchiveEntries(work, options);
    await writeArchive(entries, typeof out === 'string' ? fs.createWriteStream(out) : out, {
      mtime: FIXED_MTIME,
      gzip: options.outerGzip ?? false,
    });
    return image;
  });
}

/**
 * Writes the image as a directory instead of a tar — for the OCI format, the
 * image layout `skopeo copy … oci:DIR` makes. `dir` must not exist yet.
 */
export async function writeImageDirectory(dir: string, options: BuildImageOptions): Promise<BuiltImage> {
  return withWorkDir(options.workDir, async (work) => {
    const { entries, image } = await imageArchiveEntries(work, options);
    await fsp.mkdir(dir);
    for (const entry of entries) {
      const target = path.join(dir, entry.name);
      await fsp.mkdir(path.dirname(target), { recursive: true });
      if (entry.type === 'directory') await fsp.mkdir(target, { recursive: true });
      else if (entry.type === 'symlink') await fsp.symlink(entry.linkname!, target);
      else if (entry.type === 'link') await fsp.link(path.join(dir, entry.linkname!), target);
      else if (entry.file !== undefined) await fsp.copyFile(entry.file, target);
      else await fsp.writeFile(target, entry.content ?? '');
    }
    return image;
  });
}

/** Writes an OCI layout holding several images (named or not) and multi-platform indexes. */
export async function writeMultiImageLayout(out: string | Writable, options: MultiLayoutOptions): Promise<BuiltLayout> {
  return withWorkDir(options.workDir, async (work) => {
    const { entries, layout } = await layoutArchiveEntries(work, options);
    await writeArchive(entries, typeof out === 'string' ? fs.createWriteStream(out) : out, {
      mtime: FIXED_MTIME,
      gzip: options.outerGzip ?? false,
    });
    return layout;
  });
}

/**
 * The outer entries of an image archive, its layers staged in `work` (which must
 * outlive the write): for writeArchive, or for a caller that edits them first.
 */
export async function imageArchiveEntries(work: string, options: BuildImageOptions): Promise<{ entries: OuterEntry[]; image: BuiltImage }> {
  const fallback = options.compression ?? (options.format === 'oci' ? 'gzip' : 'none');
  const image = await stageImage(work, options, fallback, options.tags ?? []);
  let entries: OuterEntry[];
  if (options.format === 'docker') entries = dockerLegacyEntries(image.parts, FIXED_CREATED, options.layerLinks);
  else if (options.format === 'oci') {
    const tag = image.parts.tags[0];
    const ref: Record<string, string> = tag ? { 'org.opencontainers.image.ref.name': `${tag.repository}:${tag.tag}` } : {};
    entries = ociLayoutEntries(imageBlobs(image.parts), [descriptor(image.parts.manifestBytes, MEDIA_TYPES.manifest, ref)]);
  } else entries = docker25Entries(image.parts);
  return { entries, image: publicImage(image) };
}

/** The outer entries of a multi-image OCI layout, layers staged in `work`. */
export async function layoutArchiveEntries(
  work: string,
  options: MultiLayoutOptions,
): Promise<{ entries: OuterEntry[]; layout: BuiltLayout }> {
  const staged: StagedImage[] = [];
  const extra: ImageBlob[] = [];
  const top: Array<Record<string, unknown>> = [];
  for (const spec of options.images) {
    const annotations = (s: { name?: string; refName?: string }) => ({
      ...(s.name ? { 'io.containerd.image.name': s.name } : {}),
      ...(s.refName ? { 'org.opencontainers.image.ref.name': s.refName } : {}),
    });
    if (!('index' in spec)) {
      const image = await stageImage(work, spec, 'gzip', []);
      staged.push(image);
      top.push(
        descriptor(image.parts.manifestBytes, MEDIA_TYPES.manifest, annotations(spec), spec.describePlatform ? image.platform : undefined),
      );
      continue;
    }
    const children: Array<Record<string, unknown>> = [];
    for (const child of spec.index) {
      const image = await stageImage(work, child, 'gzip', []);
      staged.push(image);
      children.push(descriptor(image.parts.manifestBytes, MEDIA_TYPES.manifest, {}, image.platform));
    }
    const mediaType = spec.dockerList ? MEDIA_TYPES.dockerList : MEDIA_TYPES.index;
    let indexBytes = json({ schemaVersion: 2, mediaType, manifests: children });
    extra.push({ digest: sha256(indexBytes), size: indexBytes.length, data: indexBytes });
    if (spec.nested) {
      indexBytes = json({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [descriptor(indexBytes, mediaType)] });
      extra.push({ digest: sha256(indexBytes), size: indexBytes.length, data: indexBytes });
    }
    top.push(descriptor(indexBytes, spec.nested ? MEDIA_TYPES.index : mediaType, annotations(spec)));
  }
  const entries = ociLayoutEntries([...staged.flatMap((i) => imageBlobs(i.parts)), ...extra], top);
  return { entries, layout: { images: staged.map(publicImage), topDigests: top.map((d) => d.digest as string) } };
}

interface StagedImage extends BuiltImage {
  parts: ImageParts;
}

function platformOf(p: string | Platform | undefined): Platform {
  if (p === undefined) return hostPlatform();
  return typeof p === 'string' ? parsePlatform(p) : p;
}

async function stageImage(work: string, spec: ImageSpec, fallback: Compression, tags: SaveTag[]): Promise<StagedImage> {
  const layers: Array<BuiltLayer & { file: string }> = [];
  for (const l of spec.layers) layers.push(await buildLayer(work, l, spec.compression ?? fallback));
  const platform = platformOf(spec.platform);
  const history = spec.layers.map((l, i) => ({
    created: FIXED_CREATED,
    created_by: (!Array.isArray(l) && l.createdBy) || `image-builder layer ${i}`,
  }));
  const overrides = spec.config ?? {};
  const config: ImageConfig = {
    created: FIXED_CREATED,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    ...overrides,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], ...(overrides.config ?? {}) },
    rootfs: overrides.rootfs ?? { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: overrides.history ?? history,
  };
  const configBytes = json(config);
  const configDigest = sha256(configBytes);
  const manifestBytes = imageManifest(configBytes, layers);
  return {
    imageId: configDigest,
    configDigest,
    manifestDigest: sha256(manifestBytes),
    config,
    manifest: JSON.parse(manifestBytes.toString()) as Record<string, unknown>,
    platform,
    repoTags: tags.map((t) => t.name),
    layers: layers.map(({ file: _file, ...l }) => l),
    parts: { configDigest, configBytes, manifestBytes, layers, tags },
  };
}

function publicImage(s: StagedImage): BuiltImage {
  const { parts: _parts, ...image } = s;
  return image;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

async function withWorkDir<T>(parent: string | undefined, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fsp.mkdtemp(path.join(parent ?? os.tmpdir(), 'strata-image-builder-'));
  try {
    return await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
