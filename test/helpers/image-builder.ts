/**
 * The image builder of src/archive/ (image-builder.ts) as tests use it: tags given
 * as strings, archives in memory, and the knobs only tests want — `editEntries`
 * (drop a blob, add a hostile link…) and `packTar` (a raw outer tarball of exactly
 * the given entries).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import {
  imageArchiveEntries,
  layoutArchiveEntries,
  type BuildImageOptions as ArchiveImageOptions,
  type BuiltImage,
  type BuiltLayout,
  type MultiLayoutOptions as ArchiveLayoutOptions,
} from '../../src/archive/image-builder.js';
import { writeArchive, type OuterEntry, type SaveTag } from '../../src/archive/image-writer.js';
import { FIXED_MTIME } from '../../src/archive/layer-spec.js';
import { normalizeReference } from '../../src/image/reference.js';

export {
  FIXED_CREATED,
  type BuiltImage,
  type BuiltLayout,
  type ImageConfig,
  type ImageFormat,
  type ImageSpec,
  type LayoutImageSpec,
  type LayoutIndexSpec,
} from '../../src/archive/image-builder.js';
export {
  FIXED_MTIME,
  seededBytes,
  type BuiltLayer,
  type Compression,
  type EntryType,
  type LayerEntry,
  type LayerInput,
  type LayerSpec,
} from '../../src/archive/layer-spec.js';
export { sha256, type OuterEntry } from '../../src/archive/image-writer.js';

type Edit = (entries: OuterEntry[]) => OuterEntry[];

export interface BuildImageOptions extends Omit<ArchiveImageOptions, 'tags' | 'workDir'> {
  repoTags?: string[];
  /** Last chance to change the outer entries (drop a blob, add a hostile link…). */
  editEntries?: Edit;
}

export interface MultiLayoutOptions extends Omit<ArchiveLayoutOptions, 'workDir'> {
  editEntries?: Edit;
}

/** A tag as the archive writers take it: as written, and parsed as Docker parses it. */
export function saveTag(name: string): SaveTag {
  return { name, ...normalizeReference(name) };
}

export async function buildImage(options: BuildImageOptions): Promise<Buffer> {
  return (await buildImageWithInfo(options)).tar;
}

export async function buildImageWithInfo(options: BuildImageOptions): Promise<{ tar: Buffer; image: BuiltImage }> {
  const out = new Collector();
  const image = await withWorkDir((work) => buildInto(work, options, out));
  return { tar: out.buffer(), image };
}

/** Streams the image tarball into `file` (nothing is buffered). */
export async function writeImage(file: string, options: BuildImageOptions): Promise<BuiltImage> {
  return withWorkDir((work) => buildInto(work, options, fs.createWriteStream(file)));
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

async function buildInto(work: string, options: BuildImageOptions, out: Writable): Promise<BuiltImage> {
  const { repoTags, editEntries, ...rest } = options;
  const { entries, image } = await imageArchiveEntries(work, { ...rest, tags: (repoTags ?? []).map(saveTag) });
  await writeArchive(editEntries ? editEntries(entries) : entries, out, { mtime: FIXED_MTIME, gzip: options.outerGzip ?? false });
  return image;
}

async function buildLayoutInto(work: string, options: MultiLayoutOptions, out: Writable): Promise<BuiltLayout> {
  const { editEntries, ...rest } = options;
  const { entries, layout } = await layoutArchiveEntries(work, rest);
  await writeArchive(editEntries ? editEntries(entries) : entries, out, { mtime: FIXED_MTIME, gzip: options.outerGzip ?? false });
  return layout;
}

class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

async function withWorkDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-image-builder-'));
  try {
    return await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
