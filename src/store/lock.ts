import lockfile from 'proper-lockfile';
import { StrataError } from '../errors.js';
import type { Store } from './root.js';

/**
 * The store lock serialises record mutations between processes (there is no daemon
 * to do it). proper-lockfile makes the lock with mkdir, which is atomic on every
 * local filesystem, and refreshes its mtime while held; a lock whose holder died
 * goes stale after STALE_MS and is taken over.
 */
const STALE_MS = 10_000;
const UPDATE_MS = 2_000;

export async function withStoreLock<T>(store: Store, work: () => Promise<T>): Promise<T> {
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(store.paths.lockTarget, {
      stale: STALE_MS,
      update: UPDATE_MS,
      realpath: false,
      retries: { retries: 600, minTimeout: 20, maxTimeout: 200, factor: 1.2 },
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new StrataError('ELOCKED', `${store.paths.lockTarget}: store is locked by another strata process`, { path: store.root });
    }
    throw err;
  }
  try {
    return await work();
  } finally {
    await release().catch(() => {});
  }
}
