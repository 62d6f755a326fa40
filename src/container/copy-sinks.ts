import fs from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { fsError, isFsError } from '../errors.js';
import type { Resolver } from '../resolver/resolver.js';
import type { ResolverStats } from '../resolver/options.js';
import type { TreeEntry } from './tree.js';
import { removeTree } from '../store/atomic.js';

/*
 * Where a copy's entries go: through a merged view (so copy-up, whiteouts, mounts and
 * --read-only apply as to any other change), or into a host directory, never
 * following a symlink met there.
 */

export interface Sink {
  /** Creates one entry; answers why not when this sink cannot hold an entry of its type. */
  put(entry: TreeEntry): Promise<string | null>;
  /** Gives directories their modes and times, deepest first, once their contents are in. */
  finish(): Promise<void>;
  /**
   * After a failed copy: removes every entry this sink created (see copyTree), so a
   * failed copy leaves nothing of itself. What was there before stays, except a file
   * the copy had already replaced (its old content was gone once the new one was
   * written; cp(1) and docker cp do not keep it either).
   */
  abandon(): Promise<void>;
}

const UNSUPPORTED = 'device nodes, fifos and sockets are not copied';

/** Writes entries through the resolver at `root` (+ rel). */
export class ViewSink implements Sink {
  private readonly dirs: { path: string; entry: TreeEntry }[] = [];
  private readonly knownDirs = new Set<string>();
  /** What this copy made, in the order it was made (parents first). */
  private readonly created: string[] = [];

  constructor(
    private readonly view: Resolver,
    private readonly root: string,
    private readonly options: { preserveOwner?: boolean; mkdirParents?: boolean } = {},
  ) {}

  private pathOf(rel: string[]): string {
    return rel.length === 0 ? this.root : path.posix.join(this.root, ...rel);
  }

  async put(entry: TreeEntry): Promise<string | null> {
    const p = this.pathOf(entry.rel);
    if (this.options.mkdirParents && entry.rel.length > 1) await this.ensureDir(this.pathOf(entry.rel.slice(0, -1)));
    const existing = await this.view.lstat(p).catch(nullIfMissing);
    if (entry.type === 'dir') {
      if (existing === null) {
        await this.view.mkdir(p, { mode: 0o700 });
        this.created.push(p);
      } else if (existing.type !== 'dir') throw fsError('ENOTDIR', 'mkdir', p, 'cannot overwrite non-directory with directory');
      this.knownDirs.add(p);
      this.dirs.push({ path: p, entry });
      return null;
    }
    if (entry.type !== 'file' && entry.type !== 'symlink') return UNSUPPORTED;
    if (existing?.type === 'dir') throw fsError('EISDIR', 'open', p, 'cannot overwrite directory with non-directory');
    if (existing !== null) await this.view.unlink(p);
    this.created.push(p);
    if (entry.hardlinkTo !== undefined) await this.view.link(this.pathOf(entry.hardlinkTo), p);
    else if (entry.type === 'symlink') await this.view.symlink(entry.linkTarget!, p);
    else {
      const content = await entry.open!();
      try {
        await this.view.writeFile(p, content, { mode: 0o600 });
      } catch (err) {
        content.destroy(); // a write refused before the first read (EROFS) must not leak the source's fd
        throw err;
      }
      await this.settle(p, entry);
    }
    return null;
  }

  private async ensureDir(p: string): Promise<void> {
    if (this.knownDirs.has(p)) return;
    const first = await this.view.mkdir(p, { recursive: true });
    if (typeof first === 'string') this.created.push(first);
    this.knownDirs.add(p);
  }

  /** Owner first: chown clears setuid and setgid bits, which chmod then puts back. */
  private async settle(p: string, entry: TreeEntry): Promise<void> {
    if (this.options.preserveOwner) {
      const now: ResolverStats = await this.view.stat(p);
      if (now.uid !== entry.uid || now.gid !== entry.gid) await this.view.chown(p, entry.uid, entry.gid);
    }
    await this.view.chmod(p, entry.mode);
    await this.view.utimes(p, entry.atimeMs / 1000, entry.mtimeMs / 1000);
  }

  async finish(): Promise<void> {
    for (const { path: p, entry } of this.dirs.reverse()) await this.settle(p, entry);
  }

  async abandon(): Promise<void> {
    for (const p of [...this.created].reverse()) await this.view.rm(p, { recursive: true, force: true });
  }
}

/**
 * Writes entries under a host path. Every name is created exclusively and never
 * followed: a symlink already at a file's place is removed, not written through, and
 * one at a directory's place is an error, so nothing lands outside `root`.
 */
export class HostSink implements Sink {
  private readonly dirs: { path: string; entry: TreeEntry }[] = [];
  /** What this copy made, in the order it was made (parents first). */
  private readonly created: string[] = [];

  constructor(private readonly root: string) {}

  private pathOf(rel: string[]): string {
    return rel.length === 0 ? this.root : path.join(this.root, ...rel);
  }

  async put(entry: TreeEntry): Promise<string | null> {
    const p = this.pathOf(entry.rel);
    const existing = await fs.lstat(p).catch(nullIfMissing);
    if (entry.type === 'dir') {
      if (existing === null) {
        await fs.mkdir(p, { mode: 0o700 });
        this.created.push(p);
      } else if (!existing.isDirectory()) throw fsError('ENOTDIR', 'mkdir', p, 'cannot overwrite non-directory with directory');
      this.dirs.push({ path: p, entry });
      return null;
    }
    if (entry.type !== 'file' && entry.type !== 'symlink') return UNSUPPORTED;
    if (existing?.isDirectory()) throw fsError('EISDIR', 'open', p, 'cannot overwrite directory with non-directory');
    if (existing !== null) await fs.unlink(p);
    this.created.push(p);
    if (entry.hardlinkTo !== undefined) await fs.link(this.pathOf(entry.hardlinkTo), p);
    else if (entry.type === 'symlink') {
      await fs.symlink(entry.linkTarget!, p);
      await fs.lutimes(p, entry.atimeMs / 1000, entry.mtimeMs / 1000);
    } else await this.file(p, entry);
    return null;
  }

  private async file(p: string, entry: TreeEntry): Promise<void> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const handle = await fs.open(p, flags, 0o600);
    try {
      for await (const chunk of await entry.open!()) await handle.writeFile(chunk as Buffer);
      await handle.chmod(entry.mode);
      await handle.utimes(entry.atimeMs / 1000, entry.mtimeMs / 1000);
    } finally {
      await handle.close();
    }
  }

  async finish(): Promise<void> {
    for (const { path: p, entry } of this.dirs.reverse()) {
      await fs.chmod(p, entry.mode);
      await fs.utimes(p, entry.atimeMs / 1000, entry.mtimeMs / 1000);
    }
  }

  /** removeTree: a directory the copy already gave mode 0000 is opened to be removed. */
  async abandon(): Promise<void> {
    for (const p of [...this.created].reverse()) await removeTree(p);
  }
}

/** For lookups of something that may be absent: missing (or under a non-directory) is null. */
export function nullIfMissing(err: unknown): null {
  if (isFsError(err, 'ENOENT') || isFsError(err, 'ENOTDIR')) return null;
  throw err;
}
