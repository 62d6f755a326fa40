import fs from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { xattr } from '../xattr.js';
import { fsError } from '../errors.js';
import { whiteoutTarget } from '../layer/whiteout.js';
import type { Context } from './options.js';
import { lstatOrNull } from './host.js';
import { isAccessDenied, reach, withOwnerFallback } from './owner-fallback.js';
import { typeOfStats, type Branch, type Entry } from './lookup.js';
import { assertWritable, scratchPath } from './upper.js';
import { devMajor, devMinor, writeUpperMeta, type UpperMeta } from './upper-meta.js';

const run = promisify(execFile);

/** overlayfs' private xattr namespace (opaque, origin, redirect…): never copied up (ovl_is_private_xattr). */
const OVERLAY_PRIVATE_XATTRS = 'trusted.overlay.';

export interface CopyUpOptions {
  /** The caller truncates right after (open with O_TRUNC): copy the metadata, not the bytes. */
  truncate?: boolean;
}

/**
 * Returns the host path where `entry` can be changed: its upper copy, made first if
 * the entry lives in a lower layer (copy-up), or its path in a writable mount.
 * Copy-up takes the whole file with its mode, times, ownership (when root) and
 * xattrs, after the parent directories, each with its own metadata; hardlinks in a
 * lower layer are broken, as overlayfs does without index=on.
 */
export async function ensureWritable(
  ctx: Context,
  entry: Entry,
  syscall: string,
  cpath: string,
  opts: CopyUpOptions = {},
): Promise<string> {
  assertWritable(ctx, entry, syscall, cpath);
  const top = entry.stack[0];
  if (top !== undefined && (top.layer === 'upper' || top.layer === 'mount')) return top.host;
  if (entry.parent === null) throw fsError('EROFS', syscall, cpath);
  const parentHost = await ensureWritable(ctx, entry.parent, syscall, cpath);
  // A rootless store's 0000 lower file (or one below a 0000 directory), or one whose
  // upper parent is a 0000 copy: copied with the owner bits of both sides opened for the moment.
  const needs = () => [
    ...(top === undefined ? [] : reach(ctx, top.host, top.st.isDirectory() ? 0o500 : 0o400)),
    ...reach(ctx, parentHost, 0o300),
  ];
  return withOwnerFallback(ctx, needs, () => placeCopy(ctx, entry, top, parentHost, opts));
}

async function placeCopy(ctx: Context, entry: Entry, top: Branch | undefined, parentHost: string, opts: CopyUpOptions): Promise<string> {
  const host = path.join(parentHost, entry.name);
  const already = await lstatOrNull(host);
  if (already !== null && whiteoutTarget(entry.name, already, ctx.format) === null) {
    // Another walk of this same call copied it up already (link and rename walk twice).
    entry.stack.unshift({ layer: entry.mount === null ? 'upper' : 'mount', host, st: already });
    return host;
  }
  if (top === undefined) {
    // A directory that only exists because a mount lies below it: make it, as a runtime would.
    await fs.mkdir(host, { mode: 0o755 });
  } else {
    await copyUp(ctx, top, entry, host, opts);
  }
  entry.stack.unshift({ layer: entry.mount === null ? 'upper' : 'mount', host, st: await fs.lstat(host) });
  return host;
}

async function copyUp(ctx: Context, from: Branch, entry: Entry, target: string, opts: CopyUpOptions): Promise<void> {
  const parentHost = path.dirname(target);
  const tmp = await scratchPath(ctx, parentHost);
  const type = typeOfStats(from.st);
  try {
    await makeCopy(ctx, from, type, tmp, opts, entry.path);
    await copyMetadata(ctx, from, type, tmp, entry.path);
    // ovl_copy_up_one restores the parent's times: a copy-up is not a change to the directory.
    const parentSt = await fs.lstat(parentHost);
    await moveIntoPlace(ctx, tmp, target, type);
    await fs.utimes(parentHost, parentSt.atimeMs / 1000, parentSt.mtimeMs / 1000);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Moving a directory to another parent rewrites its `..`, which needs write access
 * to the directory itself: a rootless store's 0000 copy is given it for the move,
 * and its mode put back at once.
 */
async function moveIntoPlace(ctx: Context, tmp: string, target: string, type: string): Promise<void> {
  try {
    await fs.rename(tmp, target);
  } catch (err) {
    if (!ctx.rootless || type !== 'dir' || !isAccessDenied(err)) throw err;
    const mode = (await fs.lstat(tmp)).mode & 0o7777;
    if ((mode & 0o200) !== 0) throw err;
    await fs.chmod(tmp, mode | 0o200);
    await fs.rename(tmp, target);
    await fs.chmod(target, mode);
  }
}

async function makeCopy(ctx: Context, from: Branch, type: string, tmp: string, opts: CopyUpOptions, cpath: string): Promise<void> {
  const st = from.st;
  switch (type) {
    case 'file':
      if (opts.truncate) await (await fs.open(tmp, 'wx', 0o600)).close();
      // A reflink where the filesystem has them: copy-up then costs no data blocks.
      else await fs.copyFile(from.host, tmp, fsConstants.COPYFILE_FICLONE | fsConstants.COPYFILE_EXCL);
      return;
    case 'dir':
      // Just the directory: its children stay in the lowers and keep merging.
      await fs.mkdir(tmp, { mode: 0o700 });
      return;
    case 'symlink':
      await fs.symlink(await fs.readlink(from.host), tmp);
      return;
    case 'fifo':
      await run('mknod', [tmp, 'p']);
      return;
    case 'char':
    case 'block':
      if (!ctx.ownsFiles) throw fsError('EPERM', 'copyup', cpath, 'a device node can only be copied up by root');
      await run('mknod', [tmp, type === 'char' ? 'c' : 'b', String(devMajor(st.rdev)), String(devMinor(st.rdev))]);
      return;
    default:
      throw fsError('EPERM', 'copyup', cpath, 'a socket cannot be copied up');
  }
}

async function copyMetadata(ctx: Context, from: Branch, type: string, tmp: string, cpath: string): Promise<void> {
  const st = from.st;
  await copyXattrs(from.host, tmp);
  if (ctx.ownsFiles) await fs.lchown(tmp, st.uid, st.gid);
  let mode = st.mode & 0o7777;
  if (ctx.rootless && type !== 'symlink' && typeof from.layer === 'number') {
    const recorded = ctx.lowerMetadata[from.layer];
    const owner = recorded?.owners[cpath];
    const device = recorded?.devices[cpath];
    if (owner !== undefined || device !== undefined) {
      const meta: UpperMeta = { uid: owner?.uid ?? 0, gid: owner?.gid ?? 0 };
      if (device !== undefined) {
        meta.device = { type: device.type, major: device.major, minor: device.minor };
        mode = device.mode & 0o7777;
      }
      // A user.* xattr needs write access, which a copy of a 0000 file denies even its owner; the mode is set below.
      await fs.chmod(tmp, 0o600);
      await writeUpperMeta(tmp, meta);
    }
  }
  // chmod after chown: chown clears setuid/setgid bits.
  if (type !== 'symlink') await fs.chmod(tmp, mode);
  const times: [number, number] = [st.atimeMs / 1000, st.mtimeMs / 1000];
  if (type === 'symlink') await fs.lutimes(tmp, ...times);
  else await fs.utimes(tmp, ...times);
}

/**
 * Copies every xattr but overlayfs' own (trusted.overlay.*: an opaque marker copied
 * up would change what merges). Attributes the filesystem or our privileges refuse
 * (EPERM, EOPNOTSUPP) are skipped, as ovl_copy_xattr skips unsupported ones.
 */
async function copyXattrs(from: string, to: string): Promise<void> {
  const names = await xattr()
    .listAttributes(from)
    .catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith(OVERLAY_PRIVATE_XATTRS)) continue;
    const value = await xattr().getAttribute(from, name);
    if (value === null) continue;
    try {
      await xattr().setAttribute(to, name, value);
    } catch (err) {
      if (!/\(os error (1|95)\)/.test(String((err as Error).message))) throw err;
    }
  }
}
