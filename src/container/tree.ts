import fs from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Resolver } from '../resolver/resolver.js';
import type { EntryType, ResolverStats } from '../resolver/options.js';
import { archivedXattrs, withRecordedXattrs } from './entry-xattrs.js';

/**
 * One entry of a tree being copied or archived: what a tar header says about it,
 * and how to read its bytes. Export, `cp` in every direction and the `mv` fallback
 * all move trees of these, whatever they come from (a merged view, a host
 * directory, a tar) and wherever they go (a tar, a merged view, a host directory).
 */
export interface TreeEntry {
  /** Components below the root being copied; [] is the root itself. No `.`, `..` or `/` in them. */
  rel: string[];
  type: EntryType;
  /** Permission bits with setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atimeMs: number;
  mtimeMs: number;
  rdev: number;
  /** Symlinks: the target, exactly as stored. */
  linkTarget?: string;
  /** Regular files that are the same inode as an earlier entry of this tree: that entry's rel. */
  hardlinkTo?: string[];
  /** Regular files (not hardlinks): opens the content as a stream; never buffered whole. */
  open?: () => Promise<Readable>;
  /** Extended attributes that belong to the image (entry-xattrs.ts), when the walk was asked for them. */
  xattrs?: Array<[string, Buffer]>;
}

export interface TreeOptions {
  /** Follow the root itself when it is a symlink (`cp -L`); nothing below it is ever followed. */
  followRoot?: boolean;
  /** Checked between entries: an aborted walk stops with EINTERRUPTED. */
  signal?: AbortSignal;
  /** Read each entry's extended attributes (for archives; a copy through a view has nowhere to put them). */
  xattrs?: boolean;
}

/**
 * The entries of a merged view at and below `root`, parents before children, names
 * in code-point order (the resolver's walk). Files of the view that share a host
 * inode are hardlinks: the first is an entry with content, the others point at it.
 */
export async function* viewTree(view: Resolver, root: string, options: TreeOptions = {}): AsyncGenerator<TreeEntry> {
  const rootStats = options.followRoot ? await view.stat(root) : await view.lstat(root);
  const inodes = new Map<string, string[]>();
  // Xattrs recorded in layer.json are keyed by the canonical path (no symlink in it).
  const xattrsRoot = options.xattrs ? await canonicalPath(view, root, rootStats) : null;
  const layerPath = (rel: string[]) => (rel.length === 0 ? xattrsRoot! : `${xattrsRoot === '/' ? '' : xattrsRoot}/${rel.join('/')}`);
  const withXattrs = xattrsRoot === null ? null : layerPath;
  yield await viewEntry(view, root, [], rootStats, inodes, withXattrs);
  if (rootStats.type !== 'dir') return;
  // The prefix the resolver's walk puts before every child name (see Resolver.walk).
  const prefix = root === '/' ? '' : root.replace(/\/+$/, '');
  for await (const { path, stats } of view.walk(root)) {
    throwIfAborted(options.signal);
    yield await viewEntry(view, path, path.slice(prefix.length + 1).split('/'), stats, inodes, withXattrs);
  }
}

async function viewEntry(
  view: Resolver,
  path: string,
  rel: string[],
  stats: ResolverStats,
  inodes: Map<string, string[]>,
  xattrsPath: ((rel: string[]) => string) | null,
): Promise<TreeEntry> {
  const entry: TreeEntry = {
    rel,
    type: stats.type,
    mode: stats.mode,
    uid: stats.uid,
    gid: stats.gid,
    size: stats.size,
    atimeMs: stats.atimeMs,
    mtimeMs: stats.mtimeMs,
    rdev: stats.rdev,
  };
  if (stats.type === 'symlink') entry.linkTarget = await view.readlink(path);
  if (xattrsPath !== null && stats.hostPath !== null) {
    const onDisk = await view.readHost(stats, (host) => archivedXattrs(host, path));
    const xattrs = withRecordedXattrs(onDisk, view.unappliedXattrs(xattrsPath(rel), stats));
    if (xattrs.length > 0) entry.xattrs = xattrs;
  }
  if (stats.type !== 'file') return { ...entry, size: 0 };
  if (stats.nlink > 1 && stats.hostPath !== null) {
    // The resolver reports host inode numbers; two layers (or a mount) may be different devices.
    const host = await view.readHost(stats, (hostPath) => fs.lstat(hostPath)).catch(() => null);
    if (host !== null) {
      const key = `${host.dev}:${host.ino}`;
      const first = inodes.get(key);
      if (first !== undefined) {
        // A hardlink's xattrs are its first entry's (one inode): the tar says them once.
        const { xattrs: _xattrs, ...link } = entry;
        return { ...link, size: 0, hardlinkTo: first };
      }
      inodes.set(key, rel);
    }
  }
  entry.open = () => view.createReadStream(path);
  return entry;
}

/** The path without symlinks in it; a root that is itself a symlink (not followed) keeps its own name. */
async function canonicalPath(view: Resolver, p: string, stats: ResolverStats): Promise<string> {
  if (stats.type !== 'symlink') return view.realpath(p);
  return posix.join(await view.realpath(posix.dirname(p)), posix.basename(p));
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new StrataError('EINTERRUPTED', 'interrupted');
}
