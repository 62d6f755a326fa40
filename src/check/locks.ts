import path from 'node:path';
import type { Store } from '../store/root.js';
import { TEMP_PREFIX, TRASH_PREFIX } from '../store/paths.js';
import { listStoreDir } from '../store/record-dir.js';
import { breakDeadLock, discardLockEntry, locksDir, makerOf, readOwner, type LockOwner } from '../store/lock.js';
import { holderState, type HolderState } from '../store/process-identity.js';

/** One entry of locks/, as check sees it. */
export interface LockEntry {
  path: string;
  /** A held lock, a lock being built (`.tmp-*`), a released one being deleted (`.rm-*`). */
  kind: 'lock' | 'building' | 'trash';
  owner: LockOwner | 'unreadable' | null;
  state: HolderState;
}

export async function listLocks(store: Store): Promise<LockEntry[]> {
  const dir = locksDir(store);
  const out: LockEntry[] = [];
  for (const name of await listStoreDir(dir)) {
    const where = path.join(dir, name);
    if (name.startsWith(TEMP_PREFIX) || name.startsWith(TRASH_PREFIX)) {
      // Never a held lock: whether its maker still runs says whether it is left over.
      const maker = makerOf(name);
      out.push({
        path: where,
        kind: name.startsWith(TEMP_PREFIX) ? 'building' : 'trash',
        owner: null,
        state: maker ? holderState(maker) : 'dead',
      });
      continue;
    }
    const owner = await readOwner(where);
    if (owner === null) continue; // released while we looked
    out.push({ path: where, kind: 'lock', owner, state: owner === 'unreadable' ? 'unknown' : holderState(owner) });
  }
  return out;
}

export async function removeLockLeftover(store: Store, entry: LockEntry): Promise<void> {
  await discardLockEntry(store, entry.path);
}

/** True when the dead holder's lock is gone; false when its holder turned out not to be provably dead. */
export async function breakStaleLock(store: Store, entry: LockEntry): Promise<boolean> {
  if (entry.owner === null || entry.owner === 'unreadable') return false;
  return breakDeadLock(store, entry.path, entry.owner);
}
