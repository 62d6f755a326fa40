import path from 'node:path';
import { FS_ERROR_TEXT, StrataError, isFsError, isStrataError } from '../errors.js';
import { isLeftoverName } from './paths.js';

export type StoreAction = 'create' | 'read' | 'write to';

/**
 * A file-system failure on the store's own files, said about the store: the user
 * chose the root, not `locks/.tmp-1a2b3c-lock`, and can only act on the store as a
 * whole (its permissions, its disk). The internal path stays in `path` for --debug
 * and callers.
 */
export function storeError(root: string, action: StoreAction, err: unknown): StrataError | undefined {
  if (!isFsError(err) || isStrataError(err)) return undefined;
  const reason = (FS_ERROR_TEXT[err.code] ?? err.code).toLowerCase();
  return new StrataError('ESTORE', `cannot ${action} store ${root}: ${reason}`, { path: err.path ?? root, cause: err });
}

/** Syscalls that only read; anything else failing on a store path was a write. */
const READING_SYSCALLS = new Set(['stat', 'lstat', 'access', 'open', 'scandir', 'readlink', 'read', 'opendir', 'realpath']);

/** The store's own directories: a failure on one of them is a failure of the store. */
const STORE_DIRS = new Set(['blobs', 'blobs/sha256', 'ingest', 'layers', 'images', 'containers', 'volumes', 'leases', 'locks']);

/**
 * Whether an fs error is about the store's own bookkeeping — the root, its
 * directories, a temp or trash entry, a lock — whose path means nothing to a user.
 * Records a user can look at (`images/<id>.json`, a lease) and files inside layers
 * and containers keep their path: naming them is what helps.
 */
export function isStoreInternalError(root: string, err: unknown): boolean {
  if (!isFsError(err) || isStrataError(err) || !err.path) return false;
  const rel = path.relative(root, err.path);
  if (rel === '') return true;
  if (rel.startsWith('..') || path.isAbsolute(rel)) return false;
  const parts = rel.split(path.sep);
  return STORE_DIRS.has(parts.join('/')) || parts[0] === 'locks' || parts.some(isLeftoverName);
}

/** How an fs error on a store path reads to a user: whether the store was being read or written. */
export function storeActionOf(err: unknown): StoreAction {
  if (!isFsError(err)) return 'read';
  // Temp and trash entries exist only to be written, renamed or removed.
  if (err.path?.split(path.sep).some(isLeftoverName)) return 'write to';
  return READING_SYSCALLS.has(err.syscall ?? '') ? 'read' : 'write to';
}
