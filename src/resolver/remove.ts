import fs from 'node:fs/promises';
import { fsError, isFsError } from '../errors.js';
import type { Context } from './options.js';
import { onHost } from './host.js';
import { lowerPositive, mountPointAt, type Entry } from './lookup.js';
import { listDir } from './readdir.js';
import { lastComponent, resolveExisting, resolvePath } from './walk-path.js';
import { ensureWritable } from './copy-up.js';
import { assertWritable, discardDir, putWhiteout } from './upper.js';

/** unlink(2): never follows the final symlink; a name that exists below leaves a whiteout. */
export async function unlink(ctx: Context, cpath: string): Promise<void> {
  const syscall = 'unlink';
  if (['.', '..', '/'].includes(lastComponent(cpath))) throw fsError('EISDIR', syscall, cpath);
  const r = await resolvePath(ctx, cpath, false, syscall, 'name');
  // mnt_want_write comes before the final lookup: a read-only view says EROFS even for a missing name.
  assertWritable(ctx, r.parent, syscall, cpath);
  if (r.entry === null) throw fsError('ENOENT', syscall, cpath);
  if (r.entry.type === 'dir') throw fsError('EISDIR', syscall, cpath);
  if (r.trailingSlash) throw fsError('ENOTDIR', syscall, cpath);
  if (mountPointAt(ctx, r.path)) throw fsError('EBUSY', syscall, cpath);
  await removeEntry(ctx, r.parent, r.entry, syscall, cpath);
}

/** rmdir(2): the merged directory must be empty (lower names all whited out). */
export async function rmdir(ctx: Context, cpath: string): Promise<void> {
  const syscall = 'rmdir';
  const last = lastComponent(cpath);
  if (last === '.') throw fsError('EINVAL', syscall, cpath);
  if (last === '..') throw fsError('ENOTEMPTY', syscall, cpath);
  if (last === '/') throw fsError('EBUSY', syscall, cpath);
  const r = await resolvePath(ctx, cpath, false, syscall, 'name');
  assertWritable(ctx, r.parent, syscall, cpath);
  if (r.entry === null) throw fsError('ENOENT', syscall, cpath);
  if (r.entry.type !== 'dir') throw fsError('ENOTDIR', syscall, cpath);
  if (r.entry.parent === null || mountPointAt(ctx, r.path)) throw fsError('EBUSY', syscall, cpath);
  if ((await listDir(ctx, r.entry)).length > 0) throw fsError('ENOTEMPTY', syscall, cpath);
  await removeEntry(ctx, r.parent, r.entry, syscall, cpath);
}

/**
 * Deletes an entry already checked by the caller. As ovl_do_remove: when no lower
 * layer has the name (ovl_lower_positive) the upper entry simply goes; otherwise a
 * whiteout takes its place, written into upper parents copied up as needed.
 */
export async function removeEntry(ctx: Context, parent: Entry, entry: Entry, syscall: string, cpath: string): Promise<void> {
  const parentHost = await ensureWritable(ctx, parent, syscall, cpath);
  const top = entry.stack[0];
  if (entry.mount !== null) {
    if (top !== undefined) await onHost(entry.type === 'dir' ? fs.rmdir(top.host) : fs.unlink(top.host), syscall, cpath);
    return;
  }
  const whiteout = await lowerPositive(ctx, parent, entry.name);
  if (top?.layer === 'upper') {
    // An upper directory may still hold whiteouts of the lower names it hid.
    if (top.st.isDirectory()) await onHost(discardDir(ctx, top.host), syscall, cpath);
    else if (!whiteout) await onHost(fs.unlink(top.host), syscall, cpath);
  }
  if (whiteout) await onHost(putWhiteout(ctx, parentHost, entry.name), syscall, cpath);
}

export interface RmOptions {
  recursive?: boolean;
  force?: boolean;
}

/** fs.rm: lstat, then unlink, or (recursive) empty the directory depth-first and rmdir it. */
export async function rm(ctx: Context, cpath: string, opts: RmOptions): Promise<void> {
  let r;
  try {
    r = await resolveExisting(ctx, cpath, false, 'lstat');
  } catch (err) {
    if (opts.force && isFsError(err, 'ENOENT')) return;
    throw err;
  }
  if (r.entry.type !== 'dir') return unlink(ctx, cpath);
  if (!opts.recursive) throw fsError('EISDIR', 'rm', cpath, 'Path is a directory');
  // Children by plain concatenation: path.join would fold `link/..` lexically and
  // name another directory than the one just listed.
  const base = cpath.endsWith('/') ? cpath : `${cpath}/`;
  for (const [name] of await listDir(ctx, r.entry)) {
    await rm(ctx, `${base}${name}`, { recursive: true });
  }
  await rmdir(ctx, cpath);
}
