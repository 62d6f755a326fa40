import path from 'node:path';
import { isFsError } from '../errors.js';
import { withOwnerAccess, type AccessNeed } from '../store/owner-access.js';
import type { Context } from './options.js';
import { readUpperMeta, writeUpperMeta, type UpperMeta } from './upper-meta.js';

/*
 * Rootless stores: the files of the layers and of the upper dir belong to the user
 * who made the store, with the image's modes. A 0000 file or a 0000/0100/0400
 * directory then refuses its owner (EACCES) where root in the container would get
 * through. The resolver first tries as any process would (the fast path, and the
 * semantics the kernel's overlayfs is checked against); only when that is refused,
 * in a rootless store, does it open up the owner bits of what the access needs for
 * the moment of the access (store/owner-access.ts) and try once more. Files that
 * are not ours are never touched, so the retry fails the same way for them.
 */

/** A refusal for want of permission: EACCES from fs, or errno 13 from the xattr addon. */
export function isAccessDenied(err: unknown): boolean {
  return isFsError(err, 'EACCES') || /\(os error 13\)/.test(String((err as Error | undefined)?.message));
}

/** Runs `fn`; when a rootless store refuses it for permissions, once more with `needs()` opened up. */
export async function withOwnerFallback<T>(ctx: Context, needs: () => AccessNeed[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!ctx.rootless || !isAccessDenied(err)) throw err;
    return withOwnerAccess(needs(), fn);
  }
}

/**
 * What reaching `host` (a path inside a layer or the upper dir) needs: search (x) on
 * every directory from the layer's root down to its parent, and `bits` on `host`
 * itself. A path outside the layers (a mount) needs nothing opened.
 */
export function reach(ctx: Context, host: string, bits: number): AccessNeed[] {
  const root = layerRootOf(ctx, host);
  if (root === null) return [];
  const needs: AccessNeed[] = [];
  const rel = path.relative(root, host);
  let at = root;
  for (const part of rel === '' ? [] : rel.split(path.sep).slice(0, -1)) {
    needs.push({ path: at, bits: 0o100 });
    at = path.join(at, part);
  }
  if (rel !== '') needs.push({ path: at, bits: 0o100 });
  if (bits !== 0) needs.push({ path: host, bits });
  return needs;
}

/** reach() for several paths at once (each directory of a merge stack). */
export function reachAll(ctx: Context, hosts: string[], bits: number): AccessNeed[] {
  return hosts.flatMap((host) => reach(ctx, host, bits));
}

function layerRootOf(ctx: Context, host: string): string | null {
  for (const root of ctx.upper === null ? ctx.lowers : [ctx.upper, ...ctx.lowers]) {
    if (host === root || host.startsWith(root.endsWith(path.sep) ? root : root + path.sep)) return root;
  }
  return null;
}

/** readUpperMeta of an upper entry that may be a 0000 file (user.* xattrs need read access). */
export function readUpperMetaAsOwner(ctx: Context, host: string): Promise<UpperMeta | null> {
  // Only a rootless user can be refused its own files; anyone else reads as before (one getxattr).
  if (!ctx.rootless || ctx.privileged) return readUpperMeta(host);
  return withOwnerFallback(
    ctx,
    () => reach(ctx, host, 0o400),
    () => readUpperMeta(host, { throwDenied: true }),
  );
}

/** writeUpperMeta of an upper entry that may be a 0000 file (user.* xattrs need write access). */
export function writeUpperMetaAsOwner(ctx: Context, host: string, meta: UpperMeta): Promise<void> {
  return withOwnerFallback(
    ctx,
    () => reach(ctx, host, 0o600),
    () => writeUpperMeta(host, meta),
  );
}
