import fs from 'node:fs/promises';
import { FS_ERROR_TEXT, StrataError } from '../errors.js';
import type { Store } from './root.js';

/**
 * The names in a store directory (images/, containers/, volumes/, leases/, layers/,
 * blobs/ …). Only a missing directory is an empty one: a store made by an older
 * strata may lack it. Any other failure (EACCES, EIO, ENOTDIR) is thrown, because
 * what is live is decided from these listings — a directory read as empty when it
 * could not be read makes gc, prune, rmi and a load's rollback remove what its
 * records keep alive.
 */
export async function listStoreDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw unreadableStoreDir(dir, err);
  }
}

/**
 * Throws unless every directory of records lists. Whatever removes content or
 * records (gc, prune, rmi, a load's rollback) calls this before its first change,
 * so a store it can only partly read is refused whole rather than half pruned.
 */
export async function requireReadableRecordDirs(store: Store): Promise<void> {
  for (const dir of [store.paths.imagesDir, store.paths.containersDir, store.paths.volumesDir, store.paths.leasesDir]) {
    await listStoreDir(dir);
  }
}

function unreadableStoreDir(dir: string, err: unknown): StrataError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === undefined ? (err as Error).message : (FS_ERROR_TEXT[code] ?? code);
  return new StrataError('EBADRECORD', `${dir}: cannot list the store directory (${reason})`, { path: dir, cause: err });
}
