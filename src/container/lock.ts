import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withNamedLock, type LockOptions } from '../store/lock.js';

/**
 * Serialises changes to one container's upper dir between processes: two `fs write`s
 * to the same container would otherwise copy the same lower file up at once, and the
 * second rename would throw away what the first wrote. Same protocol as the store
 * lock (src/store/lock.ts): only a provably dead holder is ever taken over.
 *
 * Order: a process may take a container lock while it holds the store lock, never
 * the store lock while it holds a container lock — so the two can never deadlock.
 */
export async function withContainerLock<T>(store: Store, id: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  return withNamedLock(store, containerLockName(id), work, options);
}

export function containerLockName(id: string): string {
  // The full ID, never a name or prefix: one container, one lock, and no path tricks.
  if (!/^[0-9a-f]{64}$/.test(id)) throw new StrataError('EUSAGE', `not a container ID: ${id}`);
  return `container-${id}`;
}
