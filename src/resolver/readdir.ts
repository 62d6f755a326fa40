import fs from 'node:fs/promises';
import path from 'node:path';
import type { Dirent } from 'node:fs';
import { isEncodingArtifact, whiteoutTarget } from '../layer/whiteout.js';
import type { Context, EntryType, LayerId } from './options.js';
import { branchType, childPath, layerHosts, typeOfStats, type Entry } from './lookup.js';
import type { Listing } from './lower-cache.js';
import { reachAll, withOwnerFallback } from './owner-fallback.js';

/** Orders names by code point (UTF-8 byte order), as Python's sort in list_tree.py does. */
export function compareNames(a: string, b: string): number {
  if (SURROGATE.test(a) || SURROGATE.test(b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * JavaScript compares strings by UTF-16 code unit, which is code-point order except
 * where a surrogate pair meets a character from U+E000 to U+FFFF.
 */
const SURROGATE = /[\uD800-\uDFFF]/;

/** Sorts a listing by compareNames; names without surrogates (nearly all) compare as plain strings. */
function sortListing(entries: Listing): Listing {
  if (!entries.some(([name]) => SURROGATE.test(name))) return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const keyed = entries.map((e) => ({ e, key: Buffer.from(e[0]) }));
  return keyed.sort((x, y) => Buffer.compare(x.key, y.key)).map(({ e }) => e);
}

/**
 * The names of a merged directory with their types: the union of every layer in its
 * merge stack, minus whiteouts and encoding artifacts, a name taking the type of its
 * topmost copy. The merge stack already stops at an opaque directory. Mount points
 * directly below show as their source. Sorted by compareNames. The lowers' part of
 * the listing never changes and is remembered (lower-cache.ts); the upper's is read
 * on every call and laid over it.
 */
export async function listDir(ctx: Context, dir: Entry): Promise<Listing> {
  // A 0000 (or 0100) directory of a rootless store is listed with its owner bits opened.
  return withOwnerFallback(
    ctx,
    () => reachAll(ctx, layerHosts(dir), 0o500),
    () => listDirNow(ctx, dir),
  );
}

async function listDirNow(ctx: Context, dir: Entry): Promise<Listing> {
  const found = new Map<string, EntryType>();
  let lower: Listing = [];
  if (dir.mount !== null) {
    const top = dir.stack[0];
    if (top !== undefined) await addLayer(ctx, dir, 'mount', top.host, found, new Set());
  } else {
    const from = dir.stack[0]?.layer === 'upper' ? 1 : 0;
    const hidden = new Set<string>();
    if (from === 1) for (const name of await addLayer(ctx, dir, 'upper', dir.stack[0]!.host, found, hidden)) hidden.add(name);
    if (from < dir.stack.length) {
      lower = await lowerListing(ctx, dir, from);
      if (found.size > 0 || hidden.size > 0) lower = lower.filter(([name]) => !found.has(name) && !hidden.has(name));
    }
  }
  await addMountPoints(ctx, dir.path, found);
  if (found.size === 0) return [...lower];
  for (const [name, type] of lower) if (!found.has(name)) found.set(name, type);
  return sortListing([...found]);
}

/** The sorted listing of `dir`'s lower merge stack (from index `from`) alone. */
function lowerListing(ctx: Context, dir: Entry, from: number): Promise<Listing> {
  const first = dir.stack[from]!;
  return ctx.memo.lowerListings.get(`${dir.stack.length - from}:${first.host}`, async () => {
    const found = new Map<string, EntryType>();
    // Names whited out by a layer above the one being read.
    const hidden = new Set<string>();
    for (const b of dir.stack.slice(from)) {
      for (const name of await addLayer(ctx, dir, b.layer, b.host, found, hidden)) hidden.add(name);
    }
    return sortListing([...found]);
  });
}

/** Adds one layer's visible names to `found`; returns the names this layer whites out. */
async function addLayer(
  ctx: Context,
  dir: Entry,
  layer: LayerId,
  host: string,
  found: Map<string, EntryType>,
  hidden: Set<string>,
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
