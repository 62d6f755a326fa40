import fs from 'node:fs/promises';
import { fsError } from '../errors.js';
import type { Context } from './options.js';
import { onHost } from './host.js';
import { resolveExisting } from './walk-path.js';
import { ensureWritable } from './copy-up.js';
import { assertWritable } from './upper.js';
import { reach, readUpperMetaAsOwner, withOwnerFallback, writeUpperMetaAsOwner } from './owner-fallback.js';

export type TimeLike = number | string | Date;

/** chmod(2), following symlinks; the first change to a lower entry copies it up. */
export async function chmod(ctx: Context, cpath: string, mode: number): Promise<void> {
  const r = await resolveExisting(ctx, cpath, true, 'chmod');
  const host = await ensureWritable(ctx, r.entry, 'chmod', cpath);
  await onHost(fs.chmod(host, mode & 0o7777), 'chmod', cpath);
}

/**
 * chown(2), following symlinks; -1 leaves an id as it is. Rootless, where the host
 * refuses, the container's view is recorded on the upper copy instead.
 */
export function chown(ctx: Context, cpath: string, uid: number, gid: number): Promise<void> {
  return setOwner(ctx, cpath, uid, gid, true, 'chown');
}

/** lchown(2): a symlink itself, never its target. */
export function lchown(ctx: Context, cpath: string, uid: number, gid: number): Promise<void> {
  return setOwner(ctx, cpath, uid, gid, false, 'lchown');
}

async function setOwner(ctx: Context, cpath: string, uid: number, gid: number, follow: boolean, syscall: string): Promise<void> {
  const r = await resolveExisting(ctx, cpath, follow, syscall);
  // A symlink cannot carry the user.* record a rootless store keeps owners in.
  if (ctx.rootless && r.entry.mount === null && r.entry.type === 'symlink') {
    assertWritable(ctx, r.entry, syscall, cpath);
    throw fsError('EPERM', syscall, cpath, 'a rootless store cannot record the owner of a symlink');
  }
  const host = await ensureWritable(ctx, r.entry, syscall, cpath);
  if (ctx.rootless && r.entry.mount === null) {
    const meta = (await readUpperMetaAsOwner(ctx, host)) ?? { uid: 0, gid: 0 };
    if (uid !== -1) meta.uid = uid;
    if (gid !== -1) meta.gid = gid;
    await onHost(writeUpperMetaAsOwner(ctx, host, meta), syscall, cpath);
    return;
  }
  await onHost(fs.lchown(host, uid, gid), syscall, cpath);
}

/** utimes(2), following symlinks. */
export async function utimes(ctx: Context, cpath: string, atime: TimeLike, mtime: TimeLike): Promise<void> {
  const r = await resolveExisting(ctx, cpath, true, 'utime');
  const host = await ensureWritable(ctx, r.entry, 'utime', cpath);
  await onHost(fs.utimes(host, atime, mtime), 'utime', cpath);
}

/** truncate as Node does it (open O_RDWR + ftruncate, so a 0000 file needs read and write opened): EISDIR before EROFS, a negative length is 0. */
export async function truncate(ctx: Context, cpath: string, len = 0): Promise<void> {
  const r = await resolveExisting(ctx, cpath, true, 'open');
  if (r.entry.type === 'dir') throw fsError('EISDIR', 'open', cpath);
  assertWritable(ctx, r.entry, 'open', cpath);
  if (r.entry.type !== 'file') throw fsError('EINVAL', 'open', cpath, 'not a regular file');
  const size = Math.max(0, len);
  const host = await ensureWritable(ctx, r.entry, 'open', cpath, { truncate: size === 0 });
  await onHost(
    withOwnerFallback(
      ctx,
      () => reach(ctx, host, 0o600),
      () => fs.truncate(host, size),
    ),
    'ftruncate',
    cpath,
  );
}
