import fs from 'node:fs';
import type { Store } from '../store/root.js';
import { isStrataError } from '../errors.js';
import { withContainerLock } from '../container/lock.js';
import { runDir } from '../mount/run-dir.js';
import { liveHolders, NO_HOLDS, readHolds, writeHolds } from '../mount/holds.js';
import { mountAt } from '../mount/mountinfo.js';
import { unmountPoint } from '../mount/engine.js';

/**
 * check --repair's mount fixes, each under the container's lock taken without
 * waiting (a mount or umount at work owns its state) and only if what check saw is
 * still so: the mount still there with nobody holding it, the holds still on nothing.
 */
export async function repairMount(store: Store, fix: { path: string; fsType: string; containerId: string | null }): Promise<boolean> {
  const id = fix.containerId;
  if (id === null) return unmountIfMounted(store, fix.path, fix.fsType);
  return underLock(store, id, async () => {
    if (liveHolders(readHolds(runDir(store), id)) > 0) return false;
    const done = await unmountIfMounted(store, fix.path, fix.fsType);
    writeHolds(runDir(store), id, NO_HOLDS);
    return done;
  });
}

export async function dropStaleHolds(store: Store, id: string): Promise<boolean> {
  return underLock(store, id, async () => {
    const merged = store.paths.container(id).merged;
    if (fs.existsSync(merged) && mountAt(fs.realpathSync(merged)) !== null) return false;
    writeHolds(runDir(store), id, NO_HOLDS);
    return true;
  });
}

/** Lazily: whatever still has it open keeps it, and nothing new finds it. */
async function unmountIfMounted(store: Store, point: string, fsType: string): Promise<boolean> {
  if (mountAt(point) === null) return false;
  await unmountPoint(point, fsType, { lazy: true, privileged: store.privileged });
  return true;
}

async function underLock(store: Store, id: string, work: () => Promise<boolean>): Promise<boolean> {
  try {
    return await withContainerLock(store, id, work, { timeoutMs: 0 });
  } catch (err) {
    if (isStrataError(err, 'ELOCKED')) return false;
    throw err;
  }
}
