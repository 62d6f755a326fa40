/**
 * strata builds its own test images with its own code: the archive writers of
 * src/archive/ (image-writer.ts, layer-writer.ts) fed from declarative specs, with
 * fixed mtimes and seeded content so the same spec gives the same bytes. What only
 * tests want stays here: `editEntries` (drop a blob, add a hostile link…) and
 * `packTar` (a raw outer tarball of exactly the given entries).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { hostPlatform, parsePlatform, type Platform } from '../../src/archive/platform.js';
import {
  MEDIA_TYPES as MEDIA, descriptor, docker25Entries, dockerLegacyEntries, imageBlobs, imageManifest, ociLayoutEntries, sha256,
  writeArchive, type ImageBlob, type ImageParts, type OuterEntry, type SaveTag,
} from '../../src/archive/image-writer.js';
import { normalizeReference } from '../../src/image/reference.js';
import { FIXED_MTIME, buildLayer, type BuiltLayer, type Compression, type LayerInput } from './layer-tar.js';

export type ImageFormat = 'docker' | 'oci' | 'docker25';

export {
  FIXED_MTIME, seededBytes, type BuiltLayer, type Compression, type EntryType, type LayerEntry, type LayerInput, type LayerSpec,
} from './layer-tar.js';

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

export { sha256, type OuterEntry } from '../../src/archive/image-writer.js';

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
  repoTags?: string[];
  outerGzip?: boolean;
  /** docker format only: write each layer once as `<hex>.tar` and `<id>/layer.tar` as a link to it (skopeo style). */
  layerLinks?: 'symlink' | 'hardlink';
  /** Last chance to change the outer entries (drop a blob, add a hostile link…). */
  editEntries?: (entries: OuterEntry[]) => OuterEntry[];
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

export const FIXED_CREATED = new Date(FIXED_MTIME * 1000).toISOString();
// ---------------------------------------------------------------- public API

export async function buildImage(options: BuildImageOptions): Promise<Buffer> {
  return (await buildImageWithInfo(options)).tar;
}

export async function buildImageWithInfo(options: BuildImageOptions): Promise<{ tar: Buffer; image: BuiltImage }> {
  const out = new Collector();
  const image = await withWorkDir((work) => buildInto(work, options, out));
  return { tar: out.buffer(), image };
}

/** Streams the image tarball into `file` (nothing is buffered: fit for bench images). */
export async function writeImage(file: string, options: BuildImageOptions): Promise<BuiltImage> {
  return withWorkDir((work) => buildInto(work, options, fs.createWriteStream(file)));
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
  editEntries?: (entries: OuterEntry[]) => OuterEntry[];
}

export interface BuiltLayout {
  /** Every image manifest written, in order (all platforms of an index). */
  images: BuiltImage[];
  /** Digests of the top-level index.json entries. */
  topDigests: string[];
}

/** An OCI layout holding several images (named or not) and multi-platform indexes. */
export async function buildMultiImageLayout(options: MultiLayoutOptions): Promise<Buffer> {
  const out = new Collector();
  await withWorkDir((work) => buildLayoutInto(work, options, out));
  return out.buffer();
}

export async function writeMultiImageLayout(file: string, options: MultiLayoutOptions): Promise<BuiltLayout> {
  return withWorkDir((work) => buildLayoutInto(work, options, fs.createWriteStream(file)));
}

/** A raw tarball of exactly these entries (for hostile archives). */
export async function packTar(entries: OuterEntry[], options: { gzip?: boolean } = {}): Promise<Buffer> {
  const out = new Collector();
  await writeArchive(entries, out, { mtime: FIXED_MTIME, gzip: options.gzip ?? false });
  return out.buffer();
}

/** True when the `zstd` CLI is on PATH (zstd layers need it; callers skip otherwise). */
export async function hasZstd(): Promise<boolean> {
  return new Promise((resolve) => execFile('zstd', ['--version'], (err) => resolve(!err)));
}

interface StagedImage extends BuiltImage { parts: ImageParts }

function platformOf(p: string | Platform | undefined): Platform {
  if (p === undefined) return hostPlatform();
  return typeof p === 'string' ? parsePlatform(p) : p;
}

function saveTag(name: string): SaveTag {
  return { name, ...normalizeReference(name) };
}

async function stageImage(work: string, spec: ImageSpec, fallback: Compression, repoTags: string[]): Promise<StagedImage> {
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
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(configBytes);
  const manifestBytes = imageManifest(configBytes, layers);
  return {
    imageId: configDigest, configDigest, manifestDigest: sha256(manifestBytes), config,
    manifest: JSON.parse(manifestBytes.toString()) as Record<string, unknown>, platform, repoTags,
    layers: layers.map(({ file: _file, ...l }) => l),
    parts: { configDigest, configBytes, manifestBytes, layers, tags: repoTags.map(saveTag) },
  };
}

function publicImage(s: StagedImage): BuiltImage {
  const { parts: _parts, ...image } = s;
  return image;
}

async function buildInto(work: string, options: BuildImageOptions, out: Writable): Promise<BuiltImage> {
  const fallback = options.compression ?? (options.format === 'oci' ? 'gzip' : 'none');
  const repoTags = options.repoTags ?? [];
  const image = await stageImage(work, options, fallback, repoTags);
  let entries: OuterEntry[];
  if (options.format === 'docker') entries = dockerLegacyEntries(image.parts, FIXED_CREATED, options.layerLinks);
  else if (options.format === 'oci') {
    const tag = image.parts.tags[0];
    const ref: Record<string, string> = tag ? { 'org.opencontainers.image.ref.name': `${tag.repository}:${tag.tag}` } : {};
    entries = ociLayoutEntries(imageBlobs(image.parts), [descriptor(image.parts.manifestBytes, MEDIA.manifest, ref)]);
  } else entries = docker25Entries(image.parts);
  await writeArchive(options.editEntries ? options.editEntries(entries) : entries, out, { mtime: FIXED_MTIME, gzip: options.outerGzip ?? false });
  return publicImage(image);
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

async function buildLayoutInto(work: string, options: MultiLayoutOptions, out: Writable): Promise<BuiltLayout> {
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
      top.push(descriptor(image.parts.manifestBytes, MEDIA.manifest, annotations(spec), spec.describePlatform ? image.platform : undefined));
      continue;
    }
    const children: Array<Record<string, unknown>> = [];
    for (const child of spec.index) {
      const image = await stageImage(work, child, 'gzip', []);
      staged.push(image);
      children.push(descriptor(image.parts.manifestBytes, MEDIA.manifest, {}, image.platform));
    }
    const mediaType = spec.dockerList ? MEDIA.dockerList : MEDIA.index;
    let indexBytes = json({ schemaVersion: 2, mediaType, manifests: children });
    extra.push({ digest: sha256(indexBytes), size: indexBytes.length, data: indexBytes });
    if (spec.nested) {
      indexBytes = json({ schemaVersion: 2, mediaType: MEDIA.index, manifests: [descriptor(indexBytes, mediaType)] });
      extra.push({ digest: sha256(indexBytes), size: indexBytes.length, data: indexBytes });
    }
    top.push(descriptor(indexBytes, spec.nested ? MEDIA.index : mediaType, annotations(spec)));
  }
  const entries = ociLayoutEntries([...staged.flatMap((i) => imageBlobs(i.parts)), ...extra], top);
  await writeArchive(options.editEntries ? options.editEntries(entries) : entries, out, { mtime: FIXED_MTIME, gzip: options.outerGzip ?? false });
  return { images: staged.map(publicImage), topDigests: top.map((d) => d['digest'] as string) };
}

// ---------------------------------------------------------------- in memory

class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
  buffer(): Buffer { return Buffer.concat(this.chunks); }
}

async function withWorkDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-image-builder-'));
  try {
    return await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
