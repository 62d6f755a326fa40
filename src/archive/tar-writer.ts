import fs from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar, { type Header, type Pack } from 'tar-stream';

type Headers = Partial<Header> & Pick<Header, 'name'>;
import { StrataError } from '../errors.js';
import type { Resolver } from '../resolver/resolver.js';
import type { EntryType, ResolverStats } from '../resolver/options.js';
import { devMajor, devMinor } from '../resolver/upper-meta.js';

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
}

export interface TreeOptions {
  /** Follow the root itself when it is a symlink (`cp -L`); nothing below it is ever followed. */
  followRoot?: boolean;
  /** Checked between entries: an aborted walk stops with EINTERRUPTED. */
  signal?: AbortSignal;
}

/**
 * The entries of a merged view at and below `root`, parents before children, names
 * in code-point order (the resolver's walk). Files of the view that share a host
 * inode are hardlinks: the first is an entry with content, the others point at it.
 */
export async function* viewTree(view: Resolver, root: string, options: TreeOptions = {}): AsyncGenerator<TreeEntry> {
  const rootStats = options.followRoot ? await view.stat(root) : await view.lstat(root);
  const inodes = new Map<string, string[]>();
  yield await viewEntry(view, root, [], rootStats, inodes);
  if (rootStats.type !== 'dir') return;
  // The prefix the resolver's walk puts before every child name (see Resolver.walk).
  const prefix = root === '/' ? '' : root.replace(/\/+$/, '');
  for await (const { path, stats } of view.walk(root)) {
    throwIfAborted(options.signal);
    yield await viewEntry(view, path, path.slice(prefix.length + 1).split('/'), stats, inodes);
  }
}

async function viewEntry(view: Resolver, path: string, rel: string[], stats: ResolverStats, inodes: Map<string, string[]>): Promise<TreeEntry> {
  const entry: TreeEntry = {
    rel, type: stats.type, mode: stats.mode, uid: stats.uid, gid: stats.gid, size: stats.size,
    atimeMs: stats.atimeMs, mtimeMs: stats.mtimeMs, rdev: stats.rdev,
  };
  if (stats.type === 'symlink') entry.linkTarget = await view.readlink(path);
  if (stats.type !== 'file') return { ...entry, size: 0 };
  if (stats.nlink > 1 && stats.hostPath !== null) {
    // The resolver reports host inode numbers; two layers (or a mount) may be different devices.
    const host = await fs.lstat(stats.hostPath).catch(() => null);
    if (host !== null) {
      const key = `${host.dev}:${host.ino}`;
      const first = inodes.get(key);
      if (first !== undefined) return { ...entry, size: 0, hardlinkTo: first };
      inodes.set(key, rel);
    }
  }
  entry.open = () => view.createReadStream(path);
  return entry;
}

export interface TarNames {
  /**
   * The name of the root entry (`etc`, or `.` for a directory's contents, as docker
   * cp names them); children are `<root>/<rel>`. Null: no root entry, and children
   * are named by rel alone (docker export: `bin/`, `bin/sh`).
   */
  root: string | null;
}

export interface TarResult {
  entries: number;
  bytes: number;
  /** Entries a tar cannot hold (sockets), left out as docker leaves them out. */
  skipped: SkippedEntry[];
}

export interface SkippedEntry {
  /** The entry's name in the copy, root-relative (`/` joined). */
  path: string;
  type: EntryType;
  reason: string;
}

/**
 * Writes a tree as a tar stream into `out`, one entry at a time: file contents are
 * piped from their source into the tar, so memory stays flat whatever the sizes.
 * `out` is not ended (it may be stdout); the caller ends or closes it.
 */
export async function writeTar(entries: AsyncIterable<TreeEntry>, out: Writable, names: TarNames): Promise<TarResult> {
  const pack = tar.pack();
  const pumping = pump(pack, out);
  const result: TarResult = { entries: 0, bytes: 0, skipped: [] };
  try {
    for await (const entry of entries) {
      const name = entryName(entry.rel, names);
      if (name === null) continue;
      const header = tarHeader(entry, name, (rel) => entryName(rel, names) ?? '');
      if (header === null) {
        result.skipped.push({ path: `/${entry.rel.join('/')}`, type: entry.type, reason: 'a tar archive cannot hold a socket' });
        continue;
      }
      if (header.type === 'file') {
        await pipeline(await entry.open!(), pack.entry(header));
        result.bytes += entry.size;
      } else {
        await new Promise<void>((resolve, reject) => { pack.entry(header, (err) => (err ? reject(err) : resolve())); });
      }
      result.entries += 1;
    }
    pack.finalize();
    await pumping;
    return result;
  } catch (err) {
    pack.destroy(err as Error);
    await pumping.catch(() => {});
    throw err;
  }
}

/** Copies the tar into `out` with backpressure, without ending `out`; fails when `out` fails or closes. */
async function pump(pack: Pack, out: Writable): Promise<void> {
  for await (const chunk of pack) {
    if (out.errored !== null) throw out.errored;
    if (out.destroyed) throw new StrataError('EINTERRUPTED', 'the output closed before the archive was written');
    if (!out.write(chunk)) await drained(out);
  }
}

function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', done).off('error', done).off('close', closed);
      if (err) reject(err);
      else resolve();
    };
    const closed = () => done(out.errored ?? new StrataError('EINTERRUPTED', 'the output closed before the archive was written'));
    out.on('drain', done).on('error', done).on('close', closed);
  });
}

function entryName(rel: string[], names: TarNames): string | null {
  if (names.root === null) return rel.length === 0 ? null : rel.join('/');
  return rel.length === 0 ? names.root : `${names.root}/${rel.join('/')}`;
}

const TAR_TYPES: Partial<Record<EntryType, Header['type']>> = {
  file: 'file', dir: 'directory', symlink: 'symlink', fifo: 'fifo', char: 'character-device', block: 'block-device',
};
/** tar-stream writes ids as 6 octal digits; bigger ones go into pax records, as Go's archive/tar does. */
const USTAR_MAX_ID = 0o777777;

/** The tar header of one entry; null for what tar cannot represent (a socket). */
export function tarHeader(entry: TreeEntry, name: string, nameOf: (rel: string[]) => string): Headers | null {
  const type = entry.hardlinkTo !== undefined ? 'link' : TAR_TYPES[entry.type];
  if (type === undefined) return null;
  const header: Headers = {
    name: type === 'directory' && !name.endsWith('/') ? `${name}/` : name,
    type,
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    size: type === 'file' ? entry.size : 0,
    // Whole seconds, as docker's headers carry them (ustar, no pax mtime).
    mtime: new Date(Math.floor(entry.mtimeMs / 1000) * 1000),
  };
  if (type === 'symlink') header.linkname = entry.linkTarget ?? '';
  if (type === 'link') header.linkname = nameOf(entry.hardlinkTo!);
  if (type === 'character-device' || type === 'block-device') {
    header.devmajor = devMajor(entry.rdev);
    header.devminor = devMinor(entry.rdev);
  }
  if (entry.uid > USTAR_MAX_ID || entry.gid > USTAR_MAX_ID) header.pax = { uid: String(entry.uid), gid: String(entry.gid) };
  return header;
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new StrataError('EINTERRUPTED', 'interrupted');
}
