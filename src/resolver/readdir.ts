import fs from 'node:fs/promises';
import path from 'node:path';
import type { Dirent } from 'node:fs';
import { isEncodingArtifact, whiteoutTarget } from '../layer/whiteout.js';
import type { Context, EntryType, LayerId } from './options.js';
import { branchType, childPath, typeOfStats, type Entry } from './lookup.js';

/** Orders names by code point (UTF-8 byte order), as Python's sort in list_tree.py does. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The names of a merged directory with their types: the union of every layer in its
 * merge stack, minus whiteouts and encoding artifacts, a name taking the type of its
 * topmost copy. The merge stack already stops at an opaque directory. Mount points
 * directly below show as their source. Sorted by compareNames.
 */
export async function listDir(ctx: Context, dir: Entry): Promise<[string, EntryType][]> {
  const found = new Map<string, EntryType>();
  if (dir.mount !== null) {
    const top = dir.stack[0];
    if (top !== undefined) await addLayer(ctx, dir, 'mount', top.host, found, new Set());
  } else {
    // Names whited out by a layer above the one being read.
    const hidden = new Set<string>();
    for (const b of dir.stack) {
      const whiteouts = await addLayer(ctx, dir, b.layer, b.host, found, hidden);
      for (const name of whiteouts) hidden.add(name);
    }
  }
  await addMountPoints(ctx, dir.path, found);
  return [...found].sort(([a], [b]) => compareNames(a, b));
}

/** Adds one layer's visible names to `found`; returns the names this layer whites out. */
async function addLayer(
  ctx: Context, dir: Entry, layer: LayerId, host: string, found: Map<string, EntryType>, hidden: Set<string>,
): Promise<string[]> {
  const whiteouts: string[] = [];
  const decode = layer !== 'mount';
  for (const d of await fs.readdir(host, { withFileTypes: true })) {
    const name = d.name;
    if (decode && (isEncodingArtifact(name, ctx.format) || d.isCharacterDevice())) {
      const target = whiteoutTarget(name, await fs.lstat(path.join(host, name)), ctx.format);
      if (target !== null) whiteouts.push(target);
      if (target !== null || isEncodingArtifact(name, ctx.format)) continue;
    }
    if (found.has(name) || hidden.has(name)) continue;
    found.set(name, await direntType(ctx, layer, path.join(host, name), d, childPath(dir.path, name)));
  }
  return whiteouts;
}

async function direntType(ctx: Context, layer: LayerId, host: string, d: Dirent, cpath: string): Promise<EntryType> {
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'symlink';
  if (d.isFile() && typeof layer === 'number') return ctx.lowerMetadata[layer]?.devices[cpath]?.type ?? 'file';
  if (d.isFile() && !(layer === 'upper' && ctx.rootless)) return 'file';
  // Unknown dirent types (some filesystems) and rootless upper files need the inode.
  const st = await fs.lstat(host);
  return typeOfStats(st) === 'file' ? branchType(ctx, { layer, host, st }, cpath) : typeOfStats(st);
}

/** A mount shadows whatever the layers have at its path; a deeper one makes a directory appear. */
async function addMountPoints(ctx: Context, dirPath: string, found: Map<string, EntryType>): Promise<void> {
  const prefix = dirPath === '/' ? '/' : `${dirPath}/`;
  for (const m of ctx.mounts) {
    if (!m.path.startsWith(prefix) || m.path === dirPath) continue;
    const rest = m.path.slice(prefix.length);
    const name = rest.split('/')[0]!;
    if (name === rest) {
      const st = await fs.stat(m.source).catch(() => null);
      if (st !== null) found.set(name, typeOfStats(st));
    } else if (!found.has(name)) {
      found.set(name, 'dir');
    }
  }
}
