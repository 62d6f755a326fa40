import fs from 'node:fs/promises';
import path from 'node:path';
import { fsError } from '../errors.js';
import { isEncodingArtifact, markOpaque, whiteoutEntryName, writeWhiteout } from '../layer/whiteout.js';
import { tempName } from '../store/atomic.js';
import type { Context } from './options.js';
import { lstatOrNull } from './host.js';
import { removeWhiteout, type Entry } from './lookup.js';

const S_ISGID = 0o2000;

/** Changes to the layers need an upper dir and a writable container; a mount, its own flag. */
export function assertWritable(ctx: Context, where: Entry, syscall: string, cpath: string): void {
  const readOnly = where.mount !== null ? ctx.mounts[where.mount]!.readOnly : ctx.readOnly || ctx.upper === null;
  if (readOnly) throw fsError('EROFS', syscall, cpath);
}

/** In the oci encoding `.wh.*` names are whiteouts; a container cannot create one. */
export function assertCreatableName(ctx: Context, name: string, syscall: string, cpath: string): void {
  if (isEncodingArtifact(name, ctx.format))
    throw fsError('EINVAL', syscall, cpath, `names starting with .wh. are reserved by the ${ctx.format} whiteout format`);
}

/**
 * A fresh temp name for an entry that will be renamed into `nearDir`: in the work
 * dir (overlayfs' workdir, same filesystem as the upper) when there is one, so a
 * half-made entry never shows in the merged view; else next to its target.
 */
export async function scratchPath(ctx: Context, nearDir: string): Promise<string> {
  if (ctx.work === null) return path.join(nearDir, tempName('strata'));
  const work = ctx.work;
  ctx.memo.workReady ??= fs.mkdir(work, { recursive: true }).then(() => undefined);
  await ctx.memo.workReady;
  return path.join(work, tempName('strata'));
}

/**
 * Puts a whiteout for `name` into the upper directory `parentHost`, replacing a
 * non-directory upper entry of that name in one rename (the kernel's
 * RENAME_WHITEOUT), so the lower entry never shows through in between. An upper
 * directory there must have been discarded first.
 */
export async function putWhiteout(ctx: Context, parentHost: string, name: string): Promise<void> {
  const tmp = await scratchPath(ctx, parentHost);
  const [dir, tmpName] = [path.dirname(tmp), path.basename(tmp)];
  await writeWhiteout(dir, tmpName, ctx.format);
  try {
    await fs.rename(path.join(dir, whiteoutEntryName(tmpName, ctx.format)), path.join(parentHost, whiteoutEntryName(name, ctx.format)));
  } catch (err) {
    await fs.rm(path.join(dir, whiteoutEntryName(tmpName, ctx.format)), { force: true });
    throw err;
  }
  if (whiteoutEntryName(name, ctx.format) !== name) {
    // The oci whiteout is a separate name: the upper copy of the entry goes after it.
    const st = await lstatOrNull(path.join(parentHost, name));
    if (st !== null && !st.isDirectory()) await fs.unlink(path.join(parentHost, name));
  }
}

/** Removes an upper directory tree (whiteouts and all): renamed out of sight first, then deleted. */
export async function discardDir(ctx: Context, host: string): Promise<void> {
  const trash = await scratchPath(ctx, path.dirname(host));
  await fs.rename(host, trash);
  await fs.rm(trash, { recursive: true, force: true });
}

export type NewKind = { kind: 'file' | 'dir'; mode: number } | { kind: 'symlink' | 'link' };

/**
 * Creates `name` in the upper (or mount) directory `parentHost`. Where the upper holds
 * a whiteout the entry is built aside and renamed over it (ovl_create_over_whiteout),
 * and a directory made there is opaque, so the deleted lower directory's content
 * stays deleted. `build` makes the entry at the path it is given.
 */
export async function placeNew(
  ctx: Context,
  parentHost: string,
  name: string,
  overWhiteout: boolean,
  what: NewKind,
  build: (host: string) => Promise<void>,
): Promise<void> {
  const target = path.join(parentHost, name);
  const parentSt = await fs.lstat(parentHost);
  if (!overWhiteout) {
    await build(target);
    await settle(target, what, parentSt.mode, null);
    return;
  }
  const tmp = await scratchPath(ctx, parentHost);
  try {
    await build(tmp);
    // Built outside its parent, the entry did not inherit a setgid parent's group: give it.
    await settle(tmp, what, parentSt.mode, ctx.ownsFiles && ctx.work !== null ? parentSt.gid : null);
    if (what.kind === 'dir') {
      await markOpaque(tmp, ctx.format);
      // A directory cannot be renamed over the whiteout: for a moment the lower shows.
      await removeWhiteout(parentHost, name, ctx.format);
    }
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  // In the oci encoding the whiteout is a separate `.wh.` entry, still there.
  await removeWhiteout(parentHost, name, ctx.format);
}

/** The mode the kernel gives a new entry: what was asked, less the umask, plus a setgid parent's bit on directories. */
async function settle(host: string, what: NewKind, parentMode: number, groupOfParent: number | null): Promise<void> {
  const setgidParent = (parentMode & S_ISGID) !== 0;
  if (groupOfParent !== null && setgidParent && what.kind !== 'link') await fs.lchown(host, -1, groupOfParent);
  if (what.kind === 'file' || what.kind === 'dir') {
    await fs.chmod(host, what.mode | (what.kind === 'dir' && setgidParent ? S_ISGID : 0));
  }
}
