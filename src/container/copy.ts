import fs from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { StrataError, fsError, isFsError, isStrataError } from '../errors.js';
import type { Resolver } from '../resolver/resolver.js';
import type { ResolverStats } from '../resolver/options.js';
import { typeOfStats } from '../resolver/lookup.js';
import { compareNames } from '../resolver/readdir.js';
import { makeDev } from '../resolver/upper-meta.js';
import { decompress } from '../archive/compression.js';
import {
  throwIfAborted, viewTree, writeTar, type SkippedEntry, type TarResult, type TreeEntry, type TreeOptions,
} from '../archive/tar-writer.js';
import {
  cleanPath, deviceNumbers, entryKind, entryMeta, hardlinkTargetPath, symlinkTarget, type EntryContext,
} from '../layer/entry-path.js';

/**
 * `docker cp` in both directions, and the copy + delete that `mv` falls back to. A
 * copy is a tree of entries (tar-writer.ts) from a source (a merged view, a host
 * directory, a tar) put into a sink (a merged view, a host directory): the view sink
 * writes through the resolver, so copy-up, whiteouts, mounts and --read-only apply
 * as to any other change; the host sink never follows a symlink it meets.
 */
export interface CopyOptions {
  /** Follow the source when it is a symlink (`docker cp -L`). */
  followLink?: boolean;
  signal?: AbortSignal;
}

export type CopyResult = TarResult;

/** `docker cp CONTAINER:SRC HOSTDEST`: copies a path of the view out to the host. */
export async function copyFromView(view: Resolver, srcPath: string, hostDest: string, options: CopyOptions = {}): Promise<CopyResult> {
  const src = await (options.followLink ? view.stat(srcPath) : view.lstat(srcPath));
  const target = placeCopy(srcPath, src.type === 'dir', hostDest, await hostDestination(hostDest));
  const entries = viewTree(view, srcPath, { followRoot: options.followLink, signal: options.signal });
  return copyTree(entries, new HostSink(target.path), { skipRoot: target.merge, signal: options.signal });
}

/** `docker cp HOSTSRC CONTAINER:DEST`: copies a host file or directory into the view. */
export async function copyToView(view: Resolver, hostSrc: string, destPath: string, options: CopyOptions = {}): Promise<CopyResult> {
  const src = await (options.followLink ? fs.stat(hostSrc) : fs.lstat(hostSrc));
  const target = placeCopy(hostSrc, src.isDirectory(), destPath, await viewDestination(view, destPath));
  const entries = hostTree(hostSrc, { followRoot: options.followLink, signal: options.signal });
  return copyTree(entries, new ViewSink(view, target.path), { skipRoot: target.merge, signal: options.signal });
}

/** `docker cp CONTAINER:SRC -`: a tar of the path, its entries named from the path's basename. */
export async function archiveFromView(view: Resolver, srcPath: string, out: Writable, options: CopyOptions = {}): Promise<CopyResult> {
  const src = await (options.followLink ? view.stat(srcPath) : view.lstat(srcPath));
  const root = src.type === 'dir' && isContentsOnly(srcPath) ? '.' : baseName(srcPath);
  return writeTar(viewTree(view, srcPath, { followRoot: options.followLink, signal: options.signal }), out, { root });
}

/**
 * `docker cp - CONTAINER:DIR`: extracts a tar (plain, gzip or zstd) into a directory
 * of the view. Names are cleaned by the unpack name rule, so one whose `..` climbs
 * out of the directory is refused; parents missing from the tar are created.
 */
export async function extractToView(view: Resolver, tar: Readable, destDir: string, options: CopyOptions = {}): Promise<CopyResult> {
  const dest = await view.stat(destDir);
  if (dest.type !== 'dir') throw new StrataError('ECONFLICT', `destination "${destDir}" must be a directory`, { path: destDir });
  const sink = new ViewSink(view, await view.realpath(destDir), { mkdirParents: true });
  return copyTree(tarTree(tar, 'stdin'), sink, { skipRoot: true, signal: options.signal });
}

/**
 * mv(1) inside the view: a rename, or — when the resolver answers EXDEV (a directory
 * that exists in a lower layer, or a move between mounts) — what coreutils does: copy
 * the whole tree with modes, owners and times, then delete the source. A copy that
 * fails is removed again and the source is left untouched.
 */
export async function moveInView(view: Resolver, from: string, to: string): Promise<void> {
  try {
    await view.rename(from, to);
    return;
  } catch (err) {
    if (!isFsError(err, 'EXDEV')) throw err;
  }
  const src = await view.lstat(from);
  const dst = await view.lstat(to).catch(nullIfMissing);
  if (dst !== null) {
    if (dst.type === 'dir' && src.type !== 'dir') throw fsError('EISDIR', 'rename', to, 'cannot overwrite directory with non-directory');
    if (dst.type !== 'dir' && src.type === 'dir') throw fsError('ENOTDIR', 'rename', to, 'cannot overwrite non-directory with directory');
    await (dst.type === 'dir' ? view.rmdir(to) : view.unlink(to));
  }
  try {
    await copyTree(viewTree(view, from), new ViewSink(view, to, { preserveOwner: true }), { strict: true });
  } catch (err) {
    await view.rm(to, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
  await view.rm(from, { recursive: true });
}

/* ---- where a copy lands: docker's CopyInfoDestinationPath ---- */

/** What is at the destination; `real` is where a symlink there leads (docker copies to its target). */
interface Destination { isDir: boolean; real: string }

/** `dir/.` copies the directory's contents rather than the directory. */
function isContentsOnly(p: string): boolean {
  return p === '/' || /(^|\/)\.$/.test(p);
}

function baseName(p: string): string {
  const base = path.posix.basename(p.replace(/\/+$/, ''));
  return base === '' ? '.' : base;
}

/**
 * An existing directory receives the source under its own name (or its contents for
 * `src/.`); an existing file is replaced by a file; anything else is created as named,
 * in a parent that must exist.
 */
function placeCopy(srcPath: string, srcIsDir: boolean, destPath: string, dest: Destination | null): { path: string; merge: boolean } {
  const assertsDir = /(^|\/)\.?$/.test(destPath) && destPath !== '';
  if (dest?.isDir) {
    if (srcIsDir && isContentsOnly(srcPath)) return { path: dest.real, merge: true };
    return { path: path.join(dest.real, baseName(srcPath)), merge: false };
  }
  if (dest !== null) {
    if (srcIsDir) throw new StrataError('ECONFLICT', `cannot copy a directory to a file: ${destPath}`, { path: destPath });
    if (assertsDir) throw fsError('ENOTDIR', 'open', destPath);
    return { path: dest.real, merge: false };
  }
  if (assertsDir && !srcIsDir) throw new StrataError('ENOTFOUND', `destination directory ${destPath} must exist`, { path: destPath });
  return { path: destPath.length > 1 ? destPath.replace(/\/+$/, '') : destPath, merge: false };
}

async function hostDestination(dest: string): Promise<Destination | null> {
  const st = await fs.stat(dest).catch(nullIfMissing);
  if (st === null) return null;
  const link = (await fs.lstat(dest)).isSymbolicLink();
  return { isDir: st.isDirectory(), real: link ? await fs.realpath(dest) : dest };
}

async function viewDestination(view: Resolver, dest: string): Promise<Destination | null> {
  const st = await view.stat(dest).catch(nullIfMissing);
  if (st === null) return null;
  const link = (await view.lstat(dest)).type === 'symlink';
  return { isDir: st.type === 'dir', real: link ? await view.realpath(dest) : dest };
}

function nullIfMissing(err: unknown): null {
  if (isFsError(err, 'ENOENT') || isFsError(err, 'ENOTDIR')) return null;
  throw err;
}

/* ---- sources ---- */

/** A host file or directory as a tree; symlinks below the root are entries, never followed. */
export async function* hostTree(root: string, options: TreeOptions = {}): AsyncGenerator<TreeEntry> {
  const st = await (options.followRoot ? fs.stat(root) : fs.lstat(root));
  yield* hostEntries(root, [], st, new Map(), options.signal);
}

async function* hostEntries(abs: string, rel: string[], st: Stats, inodes: Map<string, string[]>, signal?: AbortSignal): AsyncGenerator<TreeEntry> {
  throwIfAborted(signal);
  const type = typeOfStats(st);
  const entry: TreeEntry = {
    rel, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: type === 'file' ? st.size : 0,
    atimeMs: st.atimeMs, mtimeMs: st.mtimeMs, rdev: st.rdev,
  };
  if (type === 'symlink') entry.linkTarget = await fs.readlink(abs);
  if (type === 'file') {
    const first = st.nlink > 1 ? inodes.get(`${st.dev}:${st.ino}`) : undefined;
    if (first !== undefined) Object.assign(entry, { hardlinkTo: first, size: 0 });
    else {
      if (st.nlink > 1) inodes.set(`${st.dev}:${st.ino}`, rel);
      // O_NOFOLLOW: what was lstat'ed as a file is not swapped for a link under us.
      entry.open = async () => (await fs.open(abs, constants.O_RDONLY | constants.O_NOFOLLOW)).createReadStream();
    }
  }
  yield entry;
  if (type !== 'dir') return;
  for (const name of (await fs.readdir(abs)).sort(compareNames)) {
    const child = path.join(abs, name);
    yield* hostEntries(child, [...rel, name], await fs.lstat(child), inodes, signal);
  }
}

/** The entries of a tar stream (plain, gzip or zstd), checked by the unpack name and header rules. */
export async function* tarTree(input: Readable, source: string): AsyncGenerator<TreeEntry> {
  const { stream } = await decompress(input);
  const extract = tarExtract();
  const feeding = pipeline(stream, extract);
  feeding.catch(() => {}); // surfaced below, through the iterator or the final await
  try {
    for await (const item of extract) {
      const header = item.header;
      const ctx: EntryContext = { source, entry: header.name };
      const kind = entryKind(header, ctx);
      const rel = cleanPath(header.name, ctx, 'name');
      const meta = entryMeta(header, ctx);
      const mtimeMs = meta.mtime * 1000;
      const entry: TreeEntry = {
        rel, type: 'file', mode: meta.mode, uid: meta.uid, gid: meta.gid, size: 0, atimeMs: mtimeMs, mtimeMs, rdev: 0,
      };
      if (kind === 'file') Object.assign(entry, { size: header.size ?? 0, open: async () => item });
      else if (kind === 'hardlink') entry.hardlinkTo = hardlinkTargetPath(header.linkname ?? '', ctx);
      else if (kind === 'directory') entry.type = 'dir';
      else if (kind === 'symlink') Object.assign(entry, { type: 'symlink', linkTarget: symlinkTarget(header, ctx) });
      else {
        const { major, minor } = deviceNumbers(header, ctx);
        Object.assign(entry, { type: kind, rdev: makeDev(major, minor) });
      }
      yield entry;
      item.resume(); // whatever the sink did not read (a skipped entry) is drained
    }
    await feeding;
  } catch (err) {
    if (isStrataError(err) || isFsError(err)) throw err;
    throw new StrataError('EINVALIDARCHIVE', `${source}: not a valid tar archive: ${(err as Error).message}`, { path: source, cause: err });
  } finally {
    extract.destroy();
    stream.destroy();
  }
}

/* ---- sinks ---- */

interface Sink {
  /** Creates one entry; answers why not when this sink cannot hold an entry of its type. */
  put(entry: TreeEntry): Promise<string | null>;
  /** Gives directories their modes and times, deepest first, once their contents are in. */
  finish(): Promise<void>;
}

async function copyTree(entries: AsyncIterable<TreeEntry>, sink: Sink, options: { skipRoot?: boolean; strict?: boolean; signal?: AbortSignal }): Promise<CopyResult> {
  const result: CopyResult = { entries: 0, bytes: 0, skipped: [] };
  for await (const entry of entries) {
    throwIfAborted(options.signal);
    if (options.skipRoot && entry.rel.length === 0) continue;
    const reason = await sink.put(entry);
    if (reason !== null) {
      const skipped: SkippedEntry = { path: `/${entry.rel.join('/')}`, type: entry.type, reason };
      if (options.strict) throw new StrataError('EUSAGE', `${skipped.path}: ${reason}`, { path: skipped.path });
      result.skipped.push(skipped);
      continue;
    }
    result.entries += 1;
    if (entry.type === 'file' && entry.hardlinkTo === undefined) result.bytes += entry.size;
  }
  await sink.finish();
  return result;
}

const UNSUPPORTED = 'device nodes, fifos and sockets are not copied';

/** Writes entries through the resolver at `root` (+ rel). */
class ViewSink implements Sink {
  private readonly dirs: { path: string; entry: TreeEntry }[] = [];
  private readonly knownDirs = new Set<string>();

  constructor(private readonly view: Resolver, private readonly root: string,
    private readonly options: { preserveOwner?: boolean; mkdirParents?: boolean } = {}) {}

  private pathOf(rel: string[]): string {
    return rel.length === 0 ? this.root : path.posix.join(this.root, ...rel);
  }

  async put(entry: TreeEntry): Promise<string | null> {
    const p = this.pathOf(entry.rel);
    if (this.options.mkdirParents && entry.rel.length > 1) await this.ensureDir(this.pathOf(entry.rel.slice(0, -1)));
    const existing = await this.view.lstat(p).catch(nullIfMissing);
    if (entry.type === 'dir') {
      if (existing === null) await this.view.mkdir(p, { mode: 0o700 });
      else if (existing.type !== 'dir') throw fsError('ENOTDIR', 'mkdir', p, 'cannot overwrite non-directory with directory');
      this.knownDirs.add(p);
      this.dirs.push({ path: p, entry });
      return null;
    }
    if (entry.type !== 'file' && entry.type !== 'symlink') return UNSUPPORTED;
    if (existing?.type === 'dir') throw fsError('EISDIR', 'open', p, 'cannot overwrite directory with non-directory');
    if (existing !== null) await this.view.unlink(p);
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
    await this.view.mkdir(p, { recursive: true });
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
}

/**
 * Writes entries under a host path. Every name is created exclusively and never
 * followed: a symlink already at a file's place is removed, not written through, and
 * one at a directory's place is an error, so nothing lands outside `root`.
 */
class HostSink implements Sink {
  private readonly dirs: { path: string; entry: TreeEntry }[] = [];

  constructor(private readonly root: string) {}

  private pathOf(rel: string[]): string {
    return rel.length === 0 ? this.root : path.join(this.root, ...rel);
  }

  async put(entry: TreeEntry): Promise<string | null> {
    const p = this.pathOf(entry.rel);
    const existing = await fs.lstat(p).catch(nullIfMissing);
    if (entry.type === 'dir') {
      if (existing === null) await fs.mkdir(p, { mode: 0o700 });
      else if (!existing.isDirectory()) throw fsError('ENOTDIR', 'mkdir', p, 'cannot overwrite non-directory with directory');
      this.dirs.push({ path: p, entry });
      return null;
    }
    if (entry.type !== 'file' && entry.type !== 'symlink') return UNSUPPORTED;
    if (existing?.isDirectory()) throw fsError('EISDIR', 'open', p, 'cannot overwrite directory with non-directory');
    if (existing !== null) await fs.unlink(p);
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
}
