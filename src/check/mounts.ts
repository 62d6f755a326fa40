import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/root.js';
import { readOwner } from '../store/lock.js';
import { holderState } from '../store/process-identity.js';
import { containerLockName } from '../container/lock.js';
import { listStoreDir } from '../store/record-dir.js';
import { isLeftoverName } from '../store/paths.js';
import { runDir } from '../mount/run-dir.js';
import { heldIds, liveHolders, readHolds } from '../mount/holds.js';
import { readMounts } from '../mount/mountinfo.js';
import { problem, type CheckReport } from './problem.js';

/**
 * Mounts of the store's merged dirs against the holds in the run dir, as the kernel
 * lists them now (/proc/self/mountinfo):
 * - a container's view mounted with no holder left (a crash, a runtime that died):
 *   repair unmounts it;
 * - a mount under containers/ whose container is gone (removed, or a trash name):
 *   repair unmounts it before anything removes the directory under it;
 * - holds on a container not mounted, or removed: repair drops them.
 * A container whose lock a live process holds is passed over: a mount or umount is
 * under way there, and its mount and holds may disagree for that moment.
 */
export async function checkMounts(store: Store, report: CheckReport): Promise<void> {
  let containers: string;
  try {
    containers = fs.realpathSync(store.paths.containersDir);
  } catch {
    return;
  }
  // Directories, not records: a container whose record is damaged is still there (check reports it apart).
  const live = new Set((await listStoreDir(store.paths.containersDir)).filter((n) => !isLeftoverName(n)));
  const runs = runDir(store);
  const mountedIds = new Set<string>();
  for (const m of readMounts()) {
    if (path.dirname(path.dirname(m.mountPoint)) !== containers || path.basename(m.mountPoint) !== 'merged') continue;
    const name = path.basename(path.dirname(m.mountPoint));
    const fix = { action: 'unmount' as const, path: m.mountPoint, fsType: m.fsType };
    if (!live.has(name)) {
      problem(report, 'mount-orphan', m.mountPoint, `${m.mountPoint}: mounted, but container ${name} is removed`, {
        ...fix,
        containerId: null,
        says: `unmounted ${m.mountPoint} (container ${name} is removed)`,
      });
      continue;
    }
    mountedIds.add(name);
    if (liveHolders(readHolds(runs, name)) > 0 || (await changeUnderWay(store, name))) continue;
    problem(report, 'mount-unheld', m.mountPoint, `${m.mountPoint}: mounted, but no strata mount or process holds it`, {
      ...fix,
      containerId: name,
      says: `unmounted ${m.mountPoint} (no holder)`,
    });
  }
  for (const id of heldIds(runs)) {
    if (mountedIds.has(id) || (await changeUnderWay(store, id))) continue;
    const file = path.join(runs, `${id}.json`);
    const why = live.has(id) ? 'container is not mounted' : 'container is removed';
    problem(report, 'mount-hold-stale', file, `${file}: holds a mount, but the ${why}`, {
      action: 'drop-holds',
      containerId: id,
      path: file,
      says: `dropped stale mount holds ${file} (${why})`,
    });
  }
}

async function changeUnderWay(store: Store, id: string): Promise<boolean> {
  const owner = await readOwner(store.paths.lock(containerLockName(id)));
  return owner === 'unreadable' || (owner !== null && holderState(owner) !== 'dead');
}
