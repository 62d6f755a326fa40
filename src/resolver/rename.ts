import fs from 'node:fs/promises';
import path from 'node:path';
import { fsError } from '../errors.js';
import { isOpaqueDir, markOpaque } from '../layer/whiteout.js';
import type { Context } from './options.js';
import { onHost } from './host.js';
import { hasLowerBranch, lowerPositive, mountPointAt, removeWhiteout, type Entry } from './lookup.js';
import { listDir } from './readdir.js';
import { lastComponent, resolvePath, type Resolved } from './walk-path.js';
import { ensureWritable } from './copy-up.js';
import { assertCreatableName, assertWritable, discardDir, putWhiteout } from './upper.js';

/**
 * rename(2) with the checks in the kernel's order (do_renameat2, vfs_rename,
 * ovl_rename), then: copy the source up, move it in the upper, and leave a whiteout
 * where it was if a lower layer has that name. A directory that exists in a lower
 * layer cannot move (EXDEV, overlayfs without redirect_dir); a directory moved into
 * a merged directory becomes opaque so nothing below its new name shows through.
 */
export async function rename(ctx: Context, from: string, to: string): Promise<void> {
  const syscall = 'rename';
  const src = await resolvePath(ctx, from, false, syscall, 'name');
  const dst = await resolvePath(ctx, to, false, syscall, 'name');
  if (src.parent.mount !== dst.parent.mount) throw fsError('EXDEV', syscall, to);
  if (!isPlainName(from) || !isPlainName(to)) throw fsError('EBUSY', syscall, from);
  assertWritable(ctx, src.parent, syscall, from);
  if (src.entry === null) throw fsError('ENOENT', syscall, from);
  if (src.entry.type !== 'dir' && (src.trailingSlash || dst.trailingSlash)) throw fsError('ENOTDIR', syscall, from);
  if (isWithin(dst.parent.path, src.path)) throw fsError('EINVAL', syscall, from);
  if (isWithin(src.parent.path, dst.path)) throw fsError('ENOTEMPTY', syscall, to);
  if (sameInode(src, dst)) return;

  const isDir = src.entry.type === 'dir';
  if (dst.entry !== null && isDir && dst.entry.type !== 'dir') throw fsError('ENOTDIR', syscall, to);
  if (dst.entry !== null && !isDir && dst.entry.type === 'dir') throw fsError('EISDIR', syscall, to);
  if (mountPointAt(ctx, src.path) || mountPointAt(ctx, dst.path)) throw fsError('EBUSY', syscall, from);
  if (isDir && src.entry.mount === null && hasLowerBranch(src.entry)) throw fsError('EXDEV', syscall, from);
  if (dst.entry !== null && dst.entry.type === 'dir' && (await listDir(ctx, dst.entry)).length > 0) {
    throw fsError('ENOTEMPTY', syscall, to);
  }
  assertCreatableName(ctx, dst.name, syscall, to);
  await onHost(move(ctx, src as Resolved & { entry: Entry }, dst, isDir), syscall, from);
}

async function move(ctx: Context, src: Resolved & { entry: Entry }, dst: Resolved, isDir: boolean): Promise<void> {
  const srcHost = await ensureWritable(ctx, src.entry, 'rename', src.path);
  const srcParentHost = await ensureWritable(ctx, src.parent, 'rename', src.path);
  const dstParentHost = await ensureWritable(ctx, dst.parent, 'rename', dst.path);
  const target = path.join(dstParentHost, dst.name);
  if (src.entry.mount !== null) {
    await fs.rename(srcHost, target);
    return;
  }
  const whiteoutAtSource = await lowerPositive(ctx, src.parent, src.name);
  const dstTop = dst.entry?.stack[0];
  // The (empty) upper directory replaced may still hold whiteouts of lower names.
  if (dst.entry?.type === 'dir' && dstTop?.layer === 'upper') await discardDir(ctx, dstTop.host);
  // A directory cannot be renamed over a whiteout device; a file replaces it in the rename.
  if (isDir) await removeWhiteout(dstParentHost, dst.name, ctx.format);
  await fs.rename(srcHost, target);
  await removeWhiteout(dstParentHost, dst.name, ctx.format);
  if (isDir && hasLowerBranch(dst.parent) && !isOpaqueDir(target, ctx.format)) {
    await markOpaque(target, ctx.format);
  }
  // Not atomic with the rename as the kernel's RENAME_WHITEOUT is: a crash in between
  // shows the lower copy again next to the moved one, never loses data.
  if (whiteoutAtSource) await putWhiteout(ctx, srcParentHost, src.name);
}

/** rename(2) refuses `.`, `..` and `/` as either end (LAST_DOT, LAST_DOTDOT, LAST_ROOT). */
function isPlainName(cpath: string): boolean {
  return !['.', '..', '/'].includes(lastComponent(cpath));
}

/** Is `p` the directory `dir` or below it? */
function isWithin(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/** vfs_rename does nothing when both names are the same inode (two hardlinks, or one path twice). */
function sameInode(src: Resolved, dst: Resolved): boolean {
  if (src.path === dst.path) return true;
  const a = src.entry?.stack[0];
  const b = dst.entry?.stack[0];
  if (a === undefined || b === undefined || a.layer !== b.layer) return false;
  // A lower file not yet copied up is its own inode unless it is the same path.
  if (typeof a.layer === 'number') return false;
  return a.st.dev === b.st.dev && a.st.ino === b.st.ino;
}
