/**
 * Image archives as `docker save` and OCI tools write them: docker-save (Docker 20.10
 * legacy `<id>/layer.tar` directories, or Docker ≥ 25's OCI layout with a
 * manifest.json beside it) and OCI image layouts with several images and indexes.
 * Every blob is streamed from its file into the outer tar; the same inputs give the
 * same bytes. References come in already parsed, so this module needs no image code.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { Platform } from './platform.js';
import { writeTar } from './tar-writer.js';
import type { PackEntry } from './pack-entry.js';

export const MEDIA_TYPES = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  config: 'application/vnd.oci.image.config.v1+json',
} as const;

/** An entry of the outer archive. */
export interface OuterEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: Buffer | string;
  /** Bytes from a file on disk (streamed), instead of `content`. */
  file?: string;
  linkname?: string;
  mode?: number;
}

/** A blob of an image: its bytes in memory (config, manifest) or in a file (layers). */
export interface ImageBlob {
  digest: string;
  size: number;
  data?: Buffer;
  file?: string;
}

/** A tag as docker save writes it: as given in RepoTags, and parsed. */
export interface SaveTag {
  /** As given: `app:1.0`. */
  name: string;
  /** `app`, `user/app`, `localhost:5000/x`. */
  repository: string;
  tag: string;
  /** `docker.io/library/app:1.0`. */
  full: string;
}

/** One image's blobs, as the archive formats lay them out. */
export interface ImageParts {
  configDigest: string;
  configBytes: Buffer;
  manifestBytes: Buffer;
  layers: Array<{ digest: string; size: number; file: string }>;
  tags: SaveTag[];
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** An OCI descriptor of `bytes`. */
export function descriptor(
  bytes: Buffer,
  mediaType: string,
  annotations: Record<string, string> = {},
  platform?: Platform,
): Record<string, unknown> {
  return {
    mediaType,
    digest: sha256(bytes),
    size: bytes.length,
    ...(Object.keys(annotations).length ? { annotations } : {}),
    ...(platform
      ? { platform: { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}) } }
      : {}),
  };
}

/** An OCI image manifest (as bytes) for a config and its layer blobs. */
export function imageManifest(configBytes: Buffer, layers: Array<{ mediaType: string; digest: string; size: number }>): Buffer {
  return json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: sha256(configBytes), size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  });
}

/** The blobs of an image in layout order: config, manifest, layers. */
export function imageBlobs(image: ImageParts): ImageBlob[] {
  return [
    { digest: image.configDigest, size: image.configBytes.length, data: image.configBytes },
    { digest: sha256(image.manifestBytes), size: image.manifestBytes.length, data: image.manifestBytes },
    ...image.layers.map((l) => ({ digest: l.digest, size: l.size, file: l.file })),
  ];
}

const hex = (digest: string) => digest.slice('sha256:'.length);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/**
 * Docker 20.10 `docker save`: `<id>/{VERSION,json,layer.tar}`, `<confighex>.json`,
 * manifest.json and repositories. `layerLinks` writes each layer once as
 * `<hex>.tar` and `<id>/layer.tar` as a link to it (skopeo's docker-archive).
 */
export function dockerLegacyEntries(image: ImageParts, created: string, layerLinks?: 'symlink' | 'hardlink'): OuterEntry[] {
  const entries: OuterEntry[] = [];
  const layerPaths: string[] = [];
  let parent = '';
  for (const layer of image.layers) {
    // Docker's v1 layer IDs: a chain of digests, so the same layer under another parent has another ID.
    const id = hex(sha256(`${parent}\n${layer.digest}`));
    entries.push({ name: `${id}/`, type: 'directory', mode: 0o755 });
    entries.push({ name: `${id}/VERSION`, content: '1.0' });
    entries.push({ name: `${id}/json`, content: JSON.stringify({ id, ...(parent ? { parent } : {}), created, container_config: {} }) });
    if (layerLinks) {
      const target = `${hex(layer.digest)}.tar`;
      if (!entries.some((e) => e.name === target)) entries.push({ name: target, file: layer.file });
      entries.push(
        layerLinks === 'symlink'
          ? { name: `${id}/layer.tar`, type: 'symlink', linkname: `../${target}` }
          : { name: `${id}/layer.tar`, type: 'link', linkname: target },
      );
    } else {
      entries.push({ name: `${id}/layer.tar`, file: layer.file });
    }
    layerPaths.push(`${id}/layer.tar`);
    parent = id;
  }
  const repoTags = image.tags.map((t) => t.name);
  entries.push({ name: `${hex(image.configDigest)}.json`, content: image.configBytes });
  entries.push({
    name: 'manifest.json',
    content: JSON.stringify([
      { Config: `${hex(image.configDigest)}.json`, RepoTags: repoTags.length ? repoTags : null, Layers: layerPaths },
    ]),
  });
  if (image.tags.length) entries.push({ name: 'repositories', content: JSON.stringify(repositories(image.tags, parent)) });
  return entries;
}

/** Docker ≥ 25 `docker save`: an OCI layout plus manifest.json whose paths point into blobs/. */
export function docker25Entries(image: ImageParts): OuterEntry[] {
  const top = image.tags.map((t) =>
    descriptor(image.manifestBytes, MEDIA_TYPES.manifest, {
      'io.containerd.image.name': t.full,
      'org.opencontainers.image.ref.name': t.tag,
    }),
  );
  const entries = ociLayoutEntries(imageBlobs(image), top.length ? top : [descriptor(image.manifestBytes, MEDIA_TYPES.manifest)]);
  const repoTags = image.tags.map((t) => t.name);
  entries.push({
    name: 'manifest.json',
    content: JSON.stringify([
      {
        Config: `blobs/sha256/${hex(image.configDigest)}`,
        RepoTags: repoTags.length ? repoTags : null,
        Layers: image.layers.map((l) => `blobs/sha256/${hex(l.digest)}`),
      },
    ]),
  });
  if (image.tags.length)
    entries.push({
      name: 'repositories',
      content: JSON.stringify(repositories(image.tags, hex(image.layers.at(-1)?.digest ?? image.configDigest))),
    });
  return entries;
}

function repositories(tags: SaveTag[], id: string): Record<string, Record<string, string>> {
  const repos: Record<string, Record<string, string>> = {};
  for (const tag of tags) (repos[tag.repository] ??= {})[tag.tag] = id;
  return repos;
}

/** An OCI image layout: oci-layout, index.json with `top`, and each blob once under blobs/sha256/. */
export function ociLayoutEntries(blobs: ImageBlob[], top: Array<Record<string, unknown>>): OuterEntry[] {
  const entries: OuterEntry[] = [
    { name: 'oci-layout', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', content: JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: top }) },
    { name: 'blobs/', type: 'directory', mode: 0o755 },
    { name: 'blobs/sha256/', type: 'directory', mode: 0o755 },
  ];
  const seen = new Set<string>();
  for (const blob of blobs) {
    if (seen.has(blob.digest)) continue;
    seen.add(blob.digest);
    entries.push({ name: `blobs/sha256/${hex(blob.digest)}`, ...(blob.file ? { file: blob.file } : { content: blob.data! }) });
  }
  return entries;
}

export interface ArchiveOptions {
  /** Every entry's mtime, seconds since the epoch. */
  mtime: number;
  gzip?: boolean;
}

/** Writes the outer archive into `out` and ends it (gzip level 6 when asked). */
export async function writeArchive(entries: OuterEntry[], out: Writable, options: ArchiveOptions): Promise<void> {
  const tarEntries = outerTarEntries(entries, options.mtime);
  if (options.gzip) {
    const gzip = zlib.createGzip({ level: 6 });
    const piping = pipeline(gzip, out);
    try {
      await writeTar(tarEntries, gzip);
      gzip.end();
    } catch (err) {
      gzip.destroy(err as Error);
      await piping.catch(() => {});
      throw err;
    }
    await piping;
    return;
  }
  const done = finished(out);
  done.catch(() => {}); // awaited below; also the stream's error listener meanwhile
  try {
    await writeTar(tarEntries, out);
    out.end();
  } catch (err) {
    out.destroy(err as Error);
    await done.catch(() => {});
    throw err;
  }
  await done;
}

async function* outerTarEntries(entries: OuterEntry[], mtime: number): AsyncGenerator<PackEntry> {
  for (const e of entries) {
    const type = e.type ?? 'file';
    const base = { path: e.name, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: 0, gid: 0, mtime };
    if (type === 'directory') yield { ...base, kind: 'dir' };
    else if (type === 'symlink') yield { ...base, kind: 'symlink', linkTarget: e.linkname ?? '' };
    else if (type === 'link') yield { ...base, kind: 'hardlink', linkTarget: e.linkname ?? '' };
    else if (e.file !== undefined) {
      const file = e.file;
      yield { ...base, kind: 'file', size: (await fsp.stat(file)).size, open: () => fs.createReadStream(file) };
    } else {
      yield { ...base, kind: 'file', content: typeof e.content === 'string' ? Buffer.from(e.content) : (e.content ?? Buffer.alloc(0)) };
    }
  }
}
