import path from 'node:path';
import { FS_ERROR_TEXT, StrataError, isFsError, isStrataError } from '../errors.js';
import { TEMP_PREFIX } from './paths.js';

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

/** Where layers, containers and volumes keep content: paths below these are the user's files, not the store's. */
const CONTENT_DIRS = new Set(['diff', 'upper', 'work', 'merged', 'tmpfs', '_data']);

/**
 * Whether an fs error is about the store's own bookkeeping — the root itself, a
 * temp or trash entry, the lock and lease directories — rather than a file the
 * user named or content inside a layer or container, whose path means something.
 */
export function isStoreInternalError(root: string, err: unknown): boolean {
  if (!isFsError(err) || isStrataError(err) || !err.path) return false;
  const rel = path.relative(root, err.path);
  if (rel === '') return true;
  if (rel.startsWith('..') || path.isAbsolute(rel)) return false;
  const parts = rel.split(path.sep);
  if (parts.some((part) => part.startsWith(TEMP_PREFIX))) return true;
  return ['locks', 'leases', 'ingest', 'images', 'blobs', 'store.json', 'tags.json', 'CACHEDIR.TAG'].includes(parts[0]!) ||
    (['layers', 'containers', 'volumes'].includes(parts[0]!) && (parts.length <= 2 || (parts.length === 3 && !CONTENT_DIRS.has(parts[2]!))));
}

/** How an fs error on a store path reads to a user: whether the store was being read or written. */
export function storeActionOf(err: unknown): StoreAction {
  if (!isFsError(err)) return 'read';
  if (err.path && path.basename(err.path).startsWith(TEMP_PREFIX)) return 'write to';
  return READING_SYSCALLS.has(err.syscall ?? '') ? 'read' : 'write to';
}
