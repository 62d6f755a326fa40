import fs from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import { fsError, isFsError } from '../errors.js';
import { isEncodingArtifact, isOpaqueDir, whiteoutEntryName, whiteoutTarget } from '../layer/whiteout.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';
import type { Context, EntryType, LayerId } from './options.js';
import { lstatOrNull, lstatOrNullSync } from './host.js';
import { reachAll, readUpperMetaAsOwner, withOwnerFallback } from './owner-fallback.js';

/** One layer's copy of an entry. */
export interface Branch {
  layer: LayerId;
  host: string;
  st: Stats;
}

/**
 * A name in the merged view, as overlayfs' ovl_lookup sees it. For a directory,
 * `stack` is the merge stack (top first, cut at a whiteout, a non-directory or an
 * opaque directory); for anything else it is the one branch that serves it. A
 * synthetic directory (an ancestor of a mount point that no layer has) has no branch.
 */
export interface Entry {
  /** Canonical container path: no symlink, `.` or `..` in it. */
  path: string;
  name: string;
  parent: Entry | null;
  type: EntryType;
  stack: Branch[];
  /** Index of the mount whose plain tree holds this entry; null inside the layers. */
  mount: number | null;
}

export interface Lookup {
  entry: Entry | null;
  /** The upper layer holds a whiteout for this name (creating it must replace that). */
  upperWhiteout: boolean;
}

export function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function typeOfStats(st: Stats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return 'socket';
}

/** The type a branch shows, including devices a rootless unpack or copy-up could only record. */
export async function branchType(ctx: Context, b: Branch, containerPath: string): Promise<EntryType> {
  const base = typeOfStats(b.st);
  if (base !== 'file') return base;
  if (typeof b.layer === 'number') return ctx.lowerMetadata[b.layer]?.devices[containerPath]?.type ?? 'file';
  if (b.layer === 'upper' && ctx.rootless && b.st.size === 0) return (await readUpperMetaAsOwner(ctx, b.host))?.device?.type ?? 'file';
  return 'file';
}

/** True when `dir` (a host directory of one layer) holds a whiteout for `name`. */
export function hasWhiteout(dir: string, name: string, format: WhiteoutFormat): boolean {
  const entryName = whiteoutEntryName(name, format);
  const st = lstatOrNullSync(path.join(dir, entryName));
  return st !== null && whiteoutTarget(entryName, st, format) === name;
}

/**
 * hasWhiteout for an encoding whose whiteout is a separate entry (oci `.wh.name`);
 * in the overlay encoding the whiteout *is* `name`, which the caller already lstat'ed.
 */
function separateWhiteout(dir: string, name: string, format: WhiteoutFormat): boolean {
  return whiteoutEntryName(name, format) !== name && hasWhiteout(dir, name, format);
}

/** Removes the whiteout for `name` from `dir`, if it holds one. */
export async function removeWhiteout(dir: string, name: string, format: WhiteoutFormat): Promise<void> {
  if (hasWhiteout(dir, name, format)) await fs.unlink(path.join(dir, whiteoutEntryName(name, format)));
}

export async function rootEntry(ctx: Context): Promise<Entry> {
  const m = ctx.mounts.findIndex((mount) => mount.path === '/');
  if (m >= 0) {
    const entry = await mountEntry(ctx, m, null);
    if (entry === null) throw fsError('ENOENT', 'stat', '/');
    return entry;
  }
  const stack: Branch[] = [];
  if (ctx.upper !== null) stack.push(await layerRoot('upper', ctx.upper));
  let lowers = ctx.memo.lowerRoots;
  if (lowers === undefined) {
    // Lower layers never change: their roots are looked at once per resolver.
    const looked = Promise.all(ctx.lowers.map((dir, i) => layerRoot(i, dir)));
    ctx.memo.lowerRoots = lowers = looked;
    looked.catch(() => {
      if (ctx.memo.lowerRoots === looked) ctx.memo.lowerRoots = undefined;
    });
  }
  stack.push(...(await lowers));
  return { path: '/', name: '', parent: null, type: 'dir', stack, mount: null };
}

async function layerRoot(layer: LayerId, host: string): Promise<Branch> {
  try {
    return { layer, host, st: await fs.stat(host) };
  } catch (err) {
    // A layer directory that vanished is a broken store, reported on the container root.
    if (isFsError(err))
      throw fsError(err.code, 'stat', '/', `layer directory ${layer === 'upper' ? 'upper' : `lower ${layer}`} is unreadable`);
    throw err;
  }
}

/**
 * Looks `name` up in the merged directory `dir`: mounts first, then upper, then the
 * lowers top-first. A whiteout hides everything below; a non-directory hides
 * everything below; directories merge until one is opaque.
 */
export async function lookupChild(ctx: Context, dir: Entry, name: string): Promise<Lookup> {
  const cpath = childPath(dir.path, name);
  const m = ctx.mounts.findIndex((mount) => mount.path === cpath);
  if (m >= 0) return { entry: await mountEntry(ctx, m, dir), upperWhiteout: false };

  const stack: Branch[] = [];
  let upperWhiteout = false;
  if (dir.mount !== null) {
    const top = dir.stack[0];
    const host = top === undefined ? null : path.join(top.host, name);
    const st = host === null ? null : await lstatOrNull(host);
    if (host !== null && st !== null) stack.push({ layer: 'mount', host, st });
  } else if (!isEncodingArtifact(name, ctx.format)) {
    // Below a 0000 (or 0400) directory of a rootless store: searched with its owner bits opened.
    upperWhiteout = await withOwnerFallback(
      ctx,
      () => reachAll(ctx, layerHosts(dir), 0o100),
      () => {
        stack.length = 0;
        return collectStack(ctx, dir, name, stack);
      },
    );
  }

  if (stack.length === 0) {
    const synthetic = mountBelow(ctx, cpath);
    return { entry: synthetic ? { path: cpath, name, parent: dir, type: 'dir', stack: [], mount: dir.mount } : null, upperWhiteout };
  }
  const type = await branchType(ctx, stack[0]!, cpath);
  return { entry: { path: cpath, name, parent: dir, type, stack, mount: dir.mount }, upperWhiteout };
}

/**
 * Fills `stack` with the branches of `name` below `dir`; answers whether the upper
 * whites it out. The upper is looked at afresh; the lowers' part comes from
 * lowerBranches, which remembers it.
 */
async function collectStack(ctx: Context, dir: Entry, name: string, stack: Branch[]): Promise<boolean> {
  const top = dir.stack[0];
  const lowerFrom = top?.layer === 'upper' ? 1 : 0;
  const hasLowers = lowerFrom < dir.stack.length;
  if (top !== undefined && top.layer === 'upper') {
    const host = path.join(top.host, name);
    const st = await lstatOrNull(host);
    if (st !== null && whiteoutTarget(name, st, ctx.format) === null) {
      stack.push({ layer: 'upper', host, st });
      // Below a directory a non-directory ends the merge (ovl_lookup_single); an opaque
      // directory ends it; so does the oci whiteout of the same name in the same layer
      // (a layer's own entry shows, its whiteout hides what is below).
      if (!st.isDirectory() || !hasLowers) return false;
      if (isOpaqueDir(host, ctx.format)) return false;
      if (separateWhiteout(top.host, name, ctx.format)) return false;
    } else if (st !== null || separateWhiteout(top.host, name, ctx.format)) {
      return true;
    }
  }
  if (!hasLowers) return false;
  const lower = await lowerBranches(ctx, dir, lowerFrom, name);
  // Below an upper directory only lower directories merge; a lower non-directory is ignored.
  if (lower.length > 0 && (stack.length === 0 || lower[0]!.st.isDirectory())) stack.push(...lower);
  return false;
}

/**
 * What the lower part of `dir`'s merge stack (from index `from`) holds for `name`,
 * as if there were no upper: one non-directory, or the directories that merge (cut
 * at an opaque one or a whiteout), or nothing. The lower part of a merge stack is
 * the same for every path that reaches it, so the key is its top host dir and depth.
 */
function lowerBranches(ctx: Context, dir: Entry, from: number, name: string): Promise<Branch[]> {
  const first = dir.stack[from]!;
  const key = `${dir.stack.length - from}:${first.host}/${name}`;
  return ctx.memo.lowerLookups.get(key, async () => scanLowers(ctx, dir.stack.slice(from), name));
}

function scanLowers(ctx: Context, lowers: Branch[], name: string): Branch[] {
  const found: Branch[] = [];
  for (let i = 0; i < lowers.length; i++) {
    const b = lowers[i]!;
    const host = path.join(b.host, name);
    const st = lstatOrNullSync(host);
    if (st !== null && whiteoutTarget(name, st, ctx.format) === null) {
      if (!st.isDirectory()) {
        if (found.length === 0) found.push({ layer: b.layer, host, st });
        return found;
      }
      found.push({ layer: b.layer, host, st });
      if (i === lowers.length - 1) return found;
      if (isOpaqueDir(host, ctx.format)) return found;
      if (separateWhiteout(b.host, name, ctx.format)) return found;
      continue;
    }
    if (st !== null || separateWhiteout(b.host, name, ctx.format)) return found;
  }
  return found;
}

/**
 * overlayfs' ovl_lower_positive: does deleting `name` from `dir` need a whiteout? The
 * first lower layer of the parent's merge stack that has the name decides: anything
 * but a whiteout there would show through once the upper entry is gone.
 */
export async function lowerPositive(ctx: Context, dir: Entry, name: string): Promise<boolean> {
  if (dir.mount !== null) return false;
  const from = dir.stack[0]?.layer === 'upper' ? 1 : 0;
  if (from >= dir.stack.length) return false;
  return (await lowerBranches(ctx, dir, from, name)).length > 0;
}

/** The host directories of a merged directory's layers (not of mounts). */
export function layerHosts(dir: Entry): string[] {
  return dir.stack.filter((b) => b.layer !== 'mount').map((b) => b.host);
}

/** Does a merged directory have any lower layer (so that its upper copy merges)? */
export function hasLowerBranch(entry: Entry): boolean {
  return entry.stack.some((b) => typeof b.layer === 'number');
}

export function mountPointAt(ctx: Context, cpath: string): boolean {
  return ctx.mounts.some((m) => m.path === cpath);
}

function mountBelow(ctx: Context, cpath: string): boolean {
  const prefix = cpath === '/' ? '/' : `${cpath}/`;
  return ctx.mounts.some((m) => m.path.startsWith(prefix));
}

async function mountEntry(ctx: Context, m: number, parent: Entry | null): Promise<Entry | null> {
  const mount = ctx.mounts[m]!;
  // The source is the host side of the mount: following a host symlink to it is the
  // operator's choice, like `mount --bind` follows it.
  const st = await fs.stat(mount.source).catch(() => null);
  if (st === null) return null;
  return {
    path: mount.path,
    name: path.posix.basename(mount.path),
    parent,
    type: typeOfStats(st),
    stack: [{ layer: 'mount', host: mount.source, st }],
    mount: m,
  };
}
