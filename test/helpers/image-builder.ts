/**
 * strata builds its own test images with its own code: docker-save (Docker 20.10
 * legacy, Docker ≥ 25) and OCI-layout tarballs with chosen layer contents. Layers are
 * generated into temp files, hashed and compressed there, then streamed into the
 * outer tar, so a multi-GiB bench image never sits in memory. Everything is
 * deterministic (fixed mtimes, seeded content): the same spec gives the same bytes.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { hostPlatform, parsePlatform, type Platform } from '../../src/archive/platform.js';
import { normalizeReference } from '../../src/image/reference.js';
import {
  FIXED_MTIME, TYPE_BITS, buildLayer, entryDone, type BuiltLayer, type Compression, type LayerInput,
} from './layer-tar.js';

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

/** An entry of the outer tarball, as the builder is about to write it (tests may edit). */
export interface OuterEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: Buffer | string;
  /** Bytes from a file on disk (streamed), instead of `content`. */
  file?: string;
  linkname?: string;
  mode?: number;
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
const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  config: 'application/vnd.oci.image.config.v1+json',
} as const;

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
  await writeOuter(entries, out, options.gzip ?? false);
  return out.buffer();
}

/** True when the `zstd` CLI is on PATH (zstd layers need it; callers skip otherwise). */
export async function hasZstd(): Promise<boolean> {
  return new Promise((resolve) => execFile('zstd', ['--version'], (err) => resolve(!err)));
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

interface StagedBlob { digest: string; size: number; file?: string; data?: Buffer }

// ---------------------------------------------------------------- images

interface StagedImage extends BuiltImage { blobs: StagedBlob[]; manifestBytes: Buffer; configBytes: Buffer; layerFiles: string[] }

function platformOf(p: string | Platform | undefined): Platform {
  if (p === undefined) return hostPlatform();
  return typeof p === 'string' ? parsePlatform(p) : p;
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
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: configDigest, size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return {
    imageId: configDigest, configDigest, manifestDigest: sha256(manifestBytes), config, manifest, platform, repoTags,
    layers: layers.map(({ file: _file, ...l }) => l),
    layerFiles: layers.map((l) => l.file),
    configBytes, manifestBytes,
    blobs: [
      { digest: configDigest, size: configBytes.length, data: configBytes },
      { digest: sha256(manifestBytes), size: manifestBytes.length, data: manifestBytes },
      ...layers.map((l) => ({ digest: l.digest, size: l.size, file: l.file })),
    ],
  };
}

function publicImage(s: StagedImage): BuiltImage {
  const { blobs: _b, manifestBytes: _m, configBytes: _c, layerFiles: _l, ...image } = s;
  return image;
}

async function buildInto(work: string, options: BuildImageOptions, out: Writable): Promise<BuiltImage> {
  const fallback = options.compression ?? (options.format === 'oci' ? 'gzip' : 'none');
  const repoTags = options.repoTags ?? [];
  const image = await stageImage(work, options, fallback, repoTags);
  let entries: OuterEntry[];
  if (options.format === 'docker') entries = dockerLegacyEntries(image, options.layerLinks);
  else if (options.format === 'oci') {
    entries = ociEntries([image], [descriptor(image.manifestBytes, MEDIA.manifest, repoTags[0] ? { 'org.opencontainers.image.ref.name': familiar(repoTags[0]) } : {})]);
  } else entries = docker25Entries(image);
  await writeOuter(options.editEntries ? options.editEntries(entries) : entries, out, options.outerGzip ?? false);
  return publicImage(image);
}

function familiar(tag: string): string {
  const ref = normalizeReference(tag);
  return `${ref.repository}:${ref.tag}`;
}

function descriptor(bytes: Buffer, mediaType: string, annotations: Record<string, string> = {}, platform?: Platform): Record<string, unknown> {
  return {
    mediaType, digest: sha256(bytes), size: bytes.length,
    ...(Object.keys(annotations).length ? { annotations } : {}),
    ...(platform ? { platform: { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}) } } : {}),
  };
}

const hex = (digest: string) => digest.slice('sha256:'.length);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** Docker 20.10 `docker save`: `<id>/{VERSION,json,layer.tar}`, `<imageID>.json`, manifest.json, repositories. */
function dockerLegacyEntries(image: StagedImage, links?: 'symlink' | 'hardlink'): OuterEntry[] {
  const entries: OuterEntry[] = [];
  const layerPaths: string[] = [];
  let parent = '';
  for (const [i, layer] of image.layers.entries()) {
    const id = hex(sha256(`${parent}\n${layer.digest}`));
    entries.push({ name: `${id}/`, type: 'directory', mode: 0o755 });
    entries.push({ name: `${id}/VERSION`, content: '1.0' });
    entries.push({ name: `${id}/json`, content: JSON.stringify({ id, ...(parent ? { parent } : {}), created: FIXED_CREATED, container_config: {} }) });
    if (links) {
      const target = `${hex(layer.digest)}.tar`;
      if (!entries.some((e) => e.name === target)) entries.push({ name: target, file: image.layerFiles[i]! });
      entries.push(links === 'symlink'
        ? { name: `${id}/layer.tar`, type: 'symlink', linkname: `../${target}` }
        : { name: `${id}/layer.tar`, type: 'link', linkname: target });
    } else {
      entries.push({ name: `${id}/layer.tar`, file: image.layerFiles[i]! });
    }
    layerPaths.push(`${id}/layer.tar`);
    parent = id;
  }
  entries.push({ name: `${hex(image.configDigest)}.json`, content: image.configBytes });
  entries.push({ name: 'manifest.json', content: JSON.stringify([{ Config: `${hex(image.configDigest)}.json`, RepoTags: image.repoTags.length ? image.repoTags : null, Layers: layerPaths }]) });
  if (image.repoTags.length) entries.push({ name: 'repositories', content: JSON.stringify(repositories(image.repoTags, parent)) });
  return entries;
}

function repositories(tags: string[], id: string): Record<string, Record<string, string>> {
  const repos: Record<string, Record<string, string>> = {};
  for (const tag of tags) {
    const ref = normalizeReference(tag);
    (repos[ref.repository] ??= {})[ref.tag] = id;
  }
  return repos;
}

/** An OCI image layout: oci-layout, index.json, blobs/sha256/*. */
function ociEntries(images: StagedImage[], top: Array<Record<string, unknown>>, extraBlobs: StagedBlob[] = []): OuterEntry[] {
  const entries: OuterEntry[] = [
    { name: 'oci-layout', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', content: JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: top }) },
    { name: 'blobs/', type: 'directory', mode: 0o755 },
    { name: 'blobs/sha256/', type: 'directory', mode: 0o755 },
  ];
  const seen = new Set<string>();
  for (const blob of [...images.flatMap((i) => i.blobs), ...extraBlobs]) {
    if (seen.has(blob.digest)) continue;
    seen.add(blob.digest);
    entries.push({ name: `blobs/sha256/${hex(blob.digest)}`, ...(blob.file ? { file: blob.file } : { content: blob.data! }) });
  }
  return entries;
}

/** Docker ≥ 25: an OCI layout plus manifest.json whose paths point into blobs/. */
function docker25Entries(image: StagedImage): OuterEntry[] {
  const top = image.repoTags.map((t) => {
    const ref = normalizeReference(t);
    return descriptor(image.manifestBytes, MEDIA.manifest, { 'io.containerd.image.name': ref.full, 'org.opencontainers.image.ref.name': ref.tag });
  });
  const entries = ociEntries([image], top.length ? top : [descriptor(image.manifestBytes, MEDIA.manifest)]);
  entries.push({
    name: 'manifest.json',
    content: JSON.stringify([{
      Config: `blobs/sha256/${hex(image.configDigest)}`,
      RepoTags: image.repoTags.length ? image.repoTags : null,
      Layers: image.layers.map((l) => `blobs/sha256/${hex(l.digest)}`),
    }]),
  });
  if (image.repoTags.length) entries.push({ name: 'repositories', content: JSON.stringify(repositories(image.repoTags, hex(image.layers.at(-1)?.digest ?? image.configDigest))) });
  return entries;
}

async function buildLayoutInto(work: string, options: MultiLayoutOptions, out: Writable): Promise<BuiltLayout> {
  const staged: StagedImage[] = [];
  const extra: StagedBlob[] = [];
  const top: Array<Record<string, unknown>> = [];
  for (const spec of options.images) {
    const annotations = (s: { name?: string; refName?: string }) => ({
      ...(s.name ? { 'io.containerd.image.name': s.name } : {}),
      ...(s.refName ? { 'org.opencontainers.image.ref.name': s.refName } : {}),
    });
    if (!('index' in spec)) {
      const image = await stageImage(work, spec, 'gzip', []);
      staged.push(image);
      top.push(descriptor(image.manifestBytes, MEDIA.manifest, annotations(spec), spec.describePlatform ? image.platform : undefined));
      continue;
    }
    const children: Array<Record<string, unknown>> = [];
    for (const child of spec.index) {
      const image = await stageImage(work, child, 'gzip', []);
      staged.push(image);
      children.push(descriptor(image.manifestBytes, MEDIA.manifest, {}, image.platform));
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
  const entries = ociEntries(staged, top, extra);
  await writeOuter(options.editEntries ? options.editEntries(entries) : entries, out, options.outerGzip ?? false);
  return { images: staged.map(publicImage), topDigests: top.map((d) => d['digest'] as string) };
}

// ---------------------------------------------------------------- outer tar

async function writeOuter(entries: OuterEntry[], out: Writable, gzip: boolean): Promise<void> {
  const pack = tar.pack();
  const writing = gzip
    ? pipeline(pack as unknown as Readable, zlib.createGzip({ level: 6 }), out)
    : pipeline(pack as unknown as Readable, out);
  try {
    for (const e of entries) {
      const type = e.type ?? 'file';
      const header: tar.Header = {
        name: e.name, type, mode: (e.mode ?? (type === 'directory' ? 0o755 : 0o644)) | TYPE_BITS[type]!,
        uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(FIXED_MTIME * 1000), size: 0,
        linkname: e.linkname ?? '', devmajor: 0, devminor: 0,
      };
      if (type !== 'file') await entryDone(pack, header);
      else if (e.file !== undefined) await entryDone(pack, { ...header, size: (await fsp.stat(e.file)).size }, fs.createReadStream(e.file));
      else {
        const content = typeof e.content === 'string' ? Buffer.from(e.content) : e.content ?? Buffer.alloc(0);
        await entryDone(pack, { ...header, size: content.length }, content);
      }
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
  }
  await writing;
}

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
