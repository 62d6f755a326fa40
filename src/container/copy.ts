import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { StrataError, fsError, isFsError } from '../errors.js';
import type { Resolver } from '../resolver/resolver.js';
import { throwIfAborted, viewTree, type TreeEntry } from './tree.js';
import { writeTreeTar, type SkippedEntry, type TarResult } from './tree-tar.js';
import { hostTree, tarTree } from './copy-sources.js';
import { HostSink, ViewSink, nullIfMissing, type Sink } from './copy-sinks.js';

/**
 * `docker cp` in both directions, and the copy + delete that `mv` falls back to. A
 * copy is a tree of entries (tree.ts) from a source (a merged view, a host
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

/**
 * `docker cp HOSTSRC CONTAINER:DEST`: copies a host file or directory into the view,
 * as one batch (Resolver.batch): a container view's lock is held for the whole copy.
 */
export async function copyToView(view: Resolver, hostSrc: string, destPath: string, options: CopyOptions = {}): Promise<CopyResult> {
  return view.batch(() => copyToViewNow(view, hostSrc, destPath, options));
}

async function copyToViewNow(view: Resolver, hostSrc: string, destPath: string, options: CopyOptions): Promise<CopyResult> {
  const src = await (options.followLink ? fs.stat(hostSrc) : fs.lstat(hostSrc));
  const target = placeCopy(hostSrc, src.isDirectory(), destPath, await viewDestination(view, destPath));
  const entries = hostTree(hostSrc, { followRoot: options.followLink, signal: options.signal });
  return copyTree(entries, new ViewSink(view, target.path), { skipRoot: target.merge, signal: options.signal });
}

/** `docker cp CONTAINER:SRC -`: a tar of the path, its entries named from the path's basename. */
export async function archiveFromView(view: Resolver, srcPath: string, out: Writable, options: CopyOptions = {}): Promise<CopyResult> {
  const src = await (options.followLink ? view.stat(srcPath) : view.lstat(srcPath));
  const root = src.type === 'dir' && isContentsOnly(srcPath) ? '.' : baseName(srcPath);
  const entries = viewTree(view, srcPath, { followRoot: options.followLink, signal: options.signal, xattrs: true });
  return writeTreeTar(entries, out, { root });
}

/**
 * `docker cp - CONTAINER:DIR`: extracts a tar (plain, gzip or zstd) into a directory
 * of the view. Names are cleaned by the unpack name rule, so one whose `..` climbs
 * out of the directory is refused; parents missing from the tar are created. One
 * batch, like copyToView.
 */
export async function extractToView(view: Resolver, tar: Readable, destDir: string, options: CopyOptions = {}): Promise<CopyResult> {
  return view.batch(() => extractToViewNow(view, tar, destDir, options));
}

async function extractToViewNow(view: Resolver, tar: Readable, destDir: string, options: CopyOptions): Promise<CopyResult> {
  const dest = await view.stat(destDir);
  if (dest.type !== 'dir') throw new StrataError('ECONFLICT', `destination "${destDir}" must be a directory`, { path: destDir });
  const sink = new ViewSink(view, await view.realpath(destDir), { mkdirParents: true });
  return copyTree(tarTree(tar, 'stdin'), sink, { skipRoot: true, signal: options.signal });
}

/**
 * mv(1) inside the view: a rename, or — when the resolver answers EXDEV (a directory
 * that exists in a lower layer, or a move between mounts) — what coreutils does: copy
 * the whole tree with modes, owners and times, then delete the source. A copy that
 * fails is removed again and the source is left untouched. One batch, like copyToView.
 */
export async function moveInView(view: Resolver, from: string, to: string): Promise<void> {
  return view.batch(() => moveInViewNow(view, from, to));
}

async function moveInViewNow(view: Resolver, from: string, to: string): Promise<void> {
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
interface Destination {
  isDir: boolean;
  real: string;
}

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

async function copyTree(
  entries: AsyncIterable<TreeEntry>,
  sink: Sink,
  options: { skipRoot?: boolean; strict?: boolean; signal?: AbortSignal },
): Promise<CopyResult> {
  const result: CopyResult = { entries: 0, bytes: 0, skipped: [] };
  try {
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
  } catch (err) {
    // A failed copy leaves nothing of itself: what it created goes (the destination it
    // made, or what it added to a directory it merged into); the error is the copy's.
    await sink.abandon().catch(() => {});
    throw err;
  }
  return result;
}
