import fs from 'node:fs/promises';
import { fsError } from '../errors.js';
import type { Context } from './options.js';
import { onHost } from './host.js';
import { reach, withOwnerFallback } from './owner-fallback.js';
import { childPath, lookupChild, rootEntry, type Entry } from './lookup.js';

/** Linux's MAXSYMLINKS: the 41st symlink followed in one lookup is ELOOP. */
export const MAX_SYMLINK_HOPS = 40;

export interface Resolved {
  /** The directory that holds the final component (the root holds itself). */
  parent: Entry;
  /** The final component's name; '' for the root. */
  name: string;
  /** The entry, or null when the name is free in `parent`. */
  entry: Entry | null;
  /** The upper layer holds a whiteout where a new entry would go. */
  upperWhiteout: boolean;
  /** Canonical container path of the final component. */
  path: string;
  /** The caller wrote `name/`: the call must be about a directory (see resolvePath). */
  trailingSlash: boolean;
}

/**
 * How the final component is taken. `lookup` (stat, open, readlink…): a trailing
 * slash follows a final symlink and demands a directory (ENOTDIR), as the kernel's
 * lookup_last does. `name` (unlink, rmdir, rename, mkdir, the new name of symlink and
 * link, O_CREAT): the name itself, never followed; the call decides what a trailing
 * slash means.
 */
export type LastComponent = 'lookup' | 'name';

/** Splits a container path into components; `.` and empty components vanish, `..` stays for the walk. */
export function splitPath(cpath: string, syscall: string): string[] {
  if (typeof cpath !== 'string' || cpath.includes('\0')) throw fsError('EINVAL', syscall, String(cpath));
  if (cpath === '') throw fsError('ENOENT', syscall, cpath);
  return cpath.split('/').filter((c) => c !== '' && c !== '.');
}

/** The last component exactly as the caller wrote it ('.' and '..' matter to rmdir and rename). */
export function lastComponent(cpath: string): string {
  const parts = cpath.split('/').filter((c) => c !== '');
  return parts[parts.length - 1] ?? '/';
}

/**
 * Resolves a container path like a chrooted process would: every intermediate
 * symlink is followed inside the container root (absolute targets start again at
 * the root, `..` at the root stays there), the final one only when `follow`. No
 * host path outside the layers is ever looked at, whatever a symlink says: a host
 * path is only ever a layer directory joined with names, one component at a time,
 * each lstat'ed as a real directory before anything is joined below it, and a
 * symlink is read and re-resolved here, never followed by the host.
 */
export async function resolvePath(
  ctx: Context,
  cpath: string,
  follow: boolean,
  syscall: string,
  last: LastComponent = 'lookup',
): Promise<Resolved> {
  const trailingSlash = /[^/]\/+$/.test(cpath);
  const r = await walk(ctx, cpath, follow || (trailingSlash && last === 'lookup'), syscall);
  r.trailingSlash = trailingSlash;
  if (trailingSlash && last === 'lookup' && r.entry !== null && r.entry.type !== 'dir') throw fsError('ENOTDIR', syscall, cpath);
  return r;
}

async function walk(ctx: Context, cpath: string, follow: boolean, syscall: string): Promise<Resolved> {
  const root = await rootEntry(ctx);
  let dirs: Entry[] = [root];
  let queue = splitPath(cpath, syscall);
  let hops = 0;
  while (queue.length > 0) {
    const name = queue.shift()!;
    const last = queue.length === 0;
    if (name === '..') {
      if (dirs.length > 1) dirs.pop();
      continue;
    }
    const dir = dirs[dirs.length - 1]!;
    const { entry, upperWhiteout } = await lookupChild(ctx, dir, name);
    if (entry === null) {
      if (last) return { parent: dir, name, entry: null, upperWhiteout, path: childPath(dir.path, name), trailingSlash: false };
      throw fsError('ENOENT', syscall, cpath);
    }
    if (entry.type === 'symlink' && (!last || follow)) {
      if (++hops > MAX_SYMLINK_HOPS) throw fsError('ELOOP', syscall, cpath);
      const host = entry.stack[0]!.host;
      const target = await onHost(
        withOwnerFallback(
          ctx,
          () => reach(ctx, host, 0),
          () => fs.readlink(host),
        ),
        syscall,
        cpath,
      );
      if (target === '') throw fsError('ENOENT', syscall, cpath);
      if (target.startsWith('/')) dirs = [root];
      queue = [...splitPath(target, syscall), ...queue];
      continue;
    }
    if (last) return { parent: dir, name, entry, upperWhiteout, path: entry.path, trailingSlash: false };
    if (entry.type !== 'dir') throw fsError('ENOTDIR', syscall, cpath);
    dirs.push(entry);
  }
  // The walk ended on a directory already entered: the root, a `..`, or a symlink to one.
  const at = dirs[dirs.length - 1]!;
  return { parent: at.parent ?? at, name: at.name, entry: at, upperWhiteout: false, path: at.path, trailingSlash: false };
}

/** resolvePath for calls that need an existing entry. */
export async function resolveExisting(ctx: Context, cpath: string, follow: boolean, syscall: string): Promise<Resolved & { entry: Entry }> {
  const r = await resolvePath(ctx, cpath, follow, syscall);
  if (r.entry === null) throw fsError('ENOENT', syscall, cpath);
  return r as Resolved & { entry: Entry };
}
