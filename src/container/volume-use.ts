import type { Store } from '../store/root.js';
import { StrataError } from '../errors.js';
import { removeByRename } from '../store/atomic.js';
import { requireReadableRecordDirs } from '../store/record-dir.js';
import { measureTree } from '../layer/size.js';
import { listVolumes, readVolume, volumeDataDir } from '../volume/volume.js';
import { listContainerRecords, type ContainerRecord } from './record.js';

/*
 * Volumes as containers use them: who mounts which, and removals that must respect
 * that. volume/ holds the records and data; this module sits above both, so volume/
 * never reads containers.
 */

/** IDs of the containers that mount each volume (Docker's LINKS / RefCount). */
export async function volumeUsers(store: Store, containers?: ContainerRecord[]): Promise<Map<string, string[]>> {
  const users = new Map<string, string[]>();
  for (const container of containers ?? (await listContainerRecords(store))) {
    for (const mount of container.mounts) {
      if (mount.type === 'volume') users.set(mount.name, [...(users.get(mount.name) ?? []), container.id]);
    }
  }
  return users;
}

/**
 * `volume rm`. Under the store lock, so no container starts using the volume meanwhile;
 * with `force`, also under the lock of every container that uses it, so a write into
 * the volume through a container's view finishes first (then later ones fail ENOENT,
 * as on a host whose mount source was deleted) and nothing lands in it while it goes.
 */
export async function removeVolume(store: Store, name: string, options: { force?: boolean } = {}): Promise<void> {
  const [{ withStoreLock }, { withContainerLock }] = await Promise.all([import('../store/lock.js'), import('./lock.js')]);
  await withStoreLock(store, async () => {
    await readVolume(store, name);
    const users = (await volumeUsers(store)).get(name) ?? [];
    if (users.length > 0 && !options.force) {
      throw new StrataError('ECONFLICT', `remove ${name}: volume is in use - [${users.join(', ')}]`, { path: name });
    }
    // Store lock first, then container locks, as everywhere (src/container/lock.ts).
    const underLocks = async (ids: string[]): Promise<unknown> =>
      ids.length === 0 ? removeByRename(store.paths.volumeDir(name)) : withContainerLock(store, ids[0]!, () => underLocks(ids.slice(1)));
    await underLocks(users);
  });
}

/** Docker's `volume prune`: unused anonymous volumes, or every unused one with `all`. */
export async function pruneVolumes(store: Store, all: boolean): Promise<{ removed: string[]; bytes: number }> {
  // The lock module loads here: listing and measuring volumes (df) never takes it.
  const { withStoreLock } = await import('../store/lock.js');
  return withStoreLock(store, async () => {
    await requireReadableRecordDirs(store);
    const users = await volumeUsers(store);
    const removed: string[] = [];
    let bytes = 0;
    for (const v of await listVolumes(store)) {
      if ((users.get(v.name) ?? []).length > 0 || (!all && !v.anonymous)) continue;
      bytes += (await measureTree(volumeDataDir(store, v.name))).size;
      await removeVolume(store, v.name);
      removed.push(v.name);
    }
    return { removed, bytes };
  });
}
