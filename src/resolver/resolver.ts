import type { Readable } from 'node:stream';
import { makeContext, type Context, type ResolverDirent, type ResolverOptions, type ResolverStats } from './options.js';
import { childPath, lookupChild, type Entry } from './lookup.js';
import { listDir } from './readdir.js';
import { statEntry } from './stat.js';
import { resolveExisting } from './walk-path.js';
import { fsError } from '../errors.js';
import * as read from './read.js';
import * as create from './create.js';
import * as remove from './remove.js';
import * as attrs from './attrs.js';
import { rename } from './rename.js';
import { reach, withOwnerFallback } from './owner-fallback.js';
import { recordedXattrs } from '../layer/recorded-xattrs.js';

export interface WalkEntry {
  /** Container path, below the walked root as the caller named it. */
  path: string;
  stats: ResolverStats;
}

/**
 * The merged view of one upper directory over read-only lower directories, served
 * the way Linux overlayfs serves it (DESIGN.md "Resolver rules"), with the names and
 * error codes of node:fs. Container paths are absolute POSIX paths; symlinks resolve
 * inside the container root. Changes are applied one at a time (a copy-up must not
 * race another change of the same file), each under the `exclusive` lock when the
 * view has one (a container's view: the container's lock, against other processes);
 * reads never wait.
 */
export class Resolver {
  readonly #ctx: Context;
  #changes: Promise<unknown> = Promise.resolve();

  constructor(options: ResolverOptions) {
    this.#ctx = makeContext(options);
  }

  /** Runs one change under the `exclusive` lock, after this view's previous changes finished, whatever their outcome. */
  #change<T>(work: () => Promise<T>): Promise<T> {
    const exclusive = this.#ctx.exclusive;
    return exclusive === null ? this.#queue(work) : exclusive(() => this.#queue(work));
  }

  #queue<T>(work: () => Promise<T>): Promise<T> {
    const hook = this.#ctx.onChange;
    const run = hook === null ? work : () => aroundChange(hook, work);
    const next = this.#changes.then(run, run);
    this.#changes = next.catch(() => undefined);
    return next;
  }

  /**
   * Runs `work` holding the view's `exclusive` lock (a container view: the container's
   * lock) across every change it makes: no other writer's change lands in between —
   * what `rm -r`, `mv` and `cp` need — and the lock is taken once instead of per change.
   * Changes `work` starts without awaiting still finish before the lock is let go.
   * A view without `exclusive` just runs `work`.
   */
  async batch<T>(work: () => Promise<T>): Promise<T> {
    const exclusive = this.#ctx.exclusive;
    if (exclusive === null) return work();
    return exclusive(async () => {
      try {
        return await work();
      } finally {
        await this.#changes;
      }
    });
  }

  /**
   * Runs `read` on the host file behind `stats` (from lstat/stat/walk of this view):
   * for what the view has no call for, such as the xattrs export writes. A rootless
   * store's 0000 file (or one below a 0000 directory) is read as its owner would be
   * let through (owner-fallback.ts).
   */
  async readHost<T>(stats: ResolverStats, read: (hostPath: string) => Promise<T>): Promise<T> {
    const host = stats.hostPath;
    if (host === null) throw fsError('ENOENT', 'open', '');
    return withOwnerFallback(
      this.#ctx,
      () => reach(this.#ctx, host, 0o400),
      () => read(host),
    );
  }

  /**
   * The xattr values a rootless unpack could not set on an entry of a lower layer and
   * kept in layer.json (`unapplied.xattrs`); empty for anything else. `stats` is the
   * entry's, from this view.
   */
  unappliedXattrs(path: string, stats: ResolverStats): Map<string, Buffer | null> {
    if (typeof stats.layer !== 'number') return new Map();
    const recorded = this.#ctx.lowerMetadata[stats.layer];
    return recorded === undefined ? new Map() : recordedXattrs(recorded, path);
  }

  async lstat(path: string): Promise<ResolverStats> {
    return statEntry(this.#ctx, (await resolveExisting(this.#ctx, path, false, 'lstat')).entry);
  }

  async stat(path: string): Promise<ResolverStats> {
    return statEntry(this.#ctx, (await resolveExisting(this.#ctx, path, true, 'stat')).entry);
  }

  async exists(path: string): Promise<boolean> {
    return this.stat(path).then(
      () => true,
      () => false,
    );
  }

  readdir(path: string, options: { withFileTypes: true }): Promise<ResolverDirent[]>;
  readdir(path: string, options?: { withFileTypes?: false }): Promise<string[]>;
  async readdir(path: string, options: { withFileTypes?: boolean } = {}): Promise<string[] | ResolverDirent[]> {
    const entries = await read.readdir(this.#ctx, path);
    return options.withFileTypes ? entries : entries.map((d) => d.name);
  }

  readFile(path: string): Promise<Buffer>;
  readFile(path: string, encoding: BufferEncoding): Promise<string>;
  async readFile(path: string, encoding?: BufferEncoding): Promise<Buffer | string> {
    const data = await read.readFile(this.#ctx, path);
    return encoding === undefined ? data : data.toString(encoding);
  }

  createReadStream(path: string, options?: read.ReadStreamOptions): Promise<Readable> {
    return read.createReadStream(this.#ctx, path, options);
  }

  readlink(path: string): Promise<string> {
    return read.readlink(this.#ctx, path);
  }

  realpath(path: string): Promise<string> {
    return read.realpath(this.#ctx, path);
  }

  writeFile(path: string, data: create.WriteData, options: { mode?: number } = {}): Promise<void> {
    return this.#change(() => create.writeData(this.#ctx, path, data, false, options.mode));
  }

  appendFile(path: string, data: create.WriteData, options: { mode?: number } = {}): Promise<void> {
    return this.#change(() => create.writeData(this.#ctx, path, data, true, options.mode));
  }

  truncate(path: string, len = 0): Promise<void> {
    return this.#change(() => attrs.truncate(this.#ctx, path, len));
  }

  /** As fs.mkdir: with `recursive`, resolves to the first directory created (or undefined). */
  mkdir(path: string, options: { recursive?: boolean; mode?: number } = {}): Promise<string | undefined> {
    return this.#change(async () => {
      if (options.recursive) return create.mkdirRecursive(this.#ctx, path, options.mode);
      await create.mkdirOne(this.#ctx, path, options.mode);
      return undefined;
    });
  }

  unlink(path: string): Promise<void> {
    return this.#change(() => remove.unlink(this.#ctx, path));
  }

  rmdir(path: string): Promise<void> {
    return this.#change(() => remove.rmdir(this.#ctx, path));
  }

  rm(path: string, options: remove.RmOptions = {}): Promise<void> {
    return this.#change(() => remove.rm(this.#ctx, path, options));
  }

  rename(from: string, to: string): Promise<void> {
    return this.#change(() => rename(this.#ctx, from, to));
  }

  symlink(target: string, path: string): Promise<void> {
    return this.#change(() => create.symlink(this.#ctx, target, path));
  }

  link(existing: string, newPath: string): Promise<void> {
    return this.#change(() => create.link(this.#ctx, existing, newPath));
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.#change(() => attrs.chmod(this.#ctx, path, mode));
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return this.#change(() => attrs.chown(this.#ctx, path, uid, gid));
  }

  /** chown of a symlink itself, never its target. */
  lchown(path: string, uid: number, gid: number): Promise<void> {
    return this.#change(() => attrs.lchown(this.#ctx, path, uid, gid));
  }

  utimes(path: string, atime: attrs.TimeLike, mtime: attrs.TimeLike): Promise<void> {
    return this.#change(() => attrs.utimes(this.#ctx, path, atime, mtime));
  }

  /**
   * Every entry below `root` (following `root` itself if it is a symlink, nothing
   * else), depth first, names in code-point order: the merged tree for export, diff
   * and du, without re-walking each path from the root.
   */
  async *walk(root = '/'): AsyncGenerator<WalkEntry> {
    const r = await resolveExisting(this.#ctx, root, true, 'scandir');
    if (r.entry.type !== 'dir') throw fsError('ENOTDIR', 'scandir', root);
    yield* this.#walkDir(r.entry, root === '/' ? '' : root.replace(/\/+$/, ''));
  }

  async *#walkDir(dir: Entry, prefix: string): AsyncGenerator<WalkEntry> {
    for (const [name] of await listDir(this.#ctx, dir)) {
      const { entry } = await lookupChild(this.#ctx, dir, name);
      if (entry === null) continue; // removed while we walked
      const path = prefix === '' ? childPath('/', name) : `${prefix}/${name}`;
      yield { path, stats: await statEntry(this.#ctx, entry) };
      if (entry.type === 'dir') yield* this.#walkDir(entry, path);
    }
  }
}

/** `onChange` on both sides of one change; the change's own error wins over the hook's. */
async function aroundChange<T>(hook: () => Promise<void>, work: () => Promise<T>): Promise<T> {
  await hook();
  let result: T;
  try {
    result = await work();
  } catch (err) {
    await hook().catch(() => undefined);
    throw err;
  }
  await hook();
  return result;
}
