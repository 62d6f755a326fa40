import type { Writable } from 'node:stream';
import { writeTar, type PackEntry } from '../archive/tar-writer.js';
import type { EntryType } from '../resolver/options.js';
import { devMajor, devMinor } from '../resolver/upper-meta.js';
import type { TreeEntry } from './tree.js';

/*
 * From a tree of a container (tree.ts) to the tar writer's entries: names, hardlink
 * targets by archive name, device numbers from st_rdev. The writer knows nothing of
 * views or resolver stats; this is where they become plain tar entries.
 */

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

/** Writes a tree as a tar into `out` (not ended: it may be stdout). */
export async function writeTreeTar(tree: AsyncIterable<TreeEntry>, out: Writable, names: TarNames): Promise<TarResult> {
  const skipped: SkippedEntry[] = [];
  const written = await writeTar(tarEntries(tree, names, skipped), out);
  return { ...written, skipped };
}

async function* tarEntries(tree: AsyncIterable<TreeEntry>, names: TarNames, skipped: SkippedEntry[]): AsyncGenerator<PackEntry> {
  for await (const entry of tree) {
    const name = entryName(entry.rel, names);
    if (name === null) continue;
    if (entry.type === 'socket') {
      skipped.push({ path: `/${entry.rel.join('/')}`, type: entry.type, reason: 'a tar archive cannot hold a socket' });
      continue;
    }
    yield tarEntry(entry, name, (rel) => entryName(rel, names) ?? '');
  }
}

function entryName(rel: string[], names: TarNames): string | null {
  if (names.root === null) return rel.length === 0 ? null : rel.join('/');
  return rel.length === 0 ? names.root : `${names.root}/${rel.join('/')}`;
}

/** One tree entry as the tar writer takes it; `nameOf` names a hardlink's first entry. */
export function tarEntry(entry: TreeEntry, name: string, nameOf: (rel: string[]) => string): PackEntry {
  const base = {
    path: name,
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    // Whole seconds, as docker's headers carry them (ustar, no pax mtime).
    mtime: Math.floor(entry.mtimeMs / 1000),
    ...(entry.xattrs !== undefined && entry.xattrs.length > 0 ? { xattrs: entry.xattrs } : {}),
  };
  if (entry.hardlinkTo !== undefined) return { ...base, kind: 'hardlink', linkTarget: nameOf(entry.hardlinkTo) };
  switch (entry.type) {
    case 'file':
      return { ...base, kind: 'file', size: entry.size, open: entry.open! };
    case 'symlink':
      return { ...base, kind: 'symlink', linkTarget: entry.linkTarget ?? '' };
    case 'char':
    case 'block':
      return { ...base, kind: entry.type, devMajor: devMajor(entry.rdev), devMinor: devMinor(entry.rdev) };
    default:
      return { ...base, kind: entry.type as 'dir' | 'fifo' };
  }
}
