import type { Store } from '../store/root.js';
import { requireReadableRecordDirs } from '../store/record-dir.js';
import { withStoreLock } from '../store/lock.js';
import { listContainerRecords } from '../container/record.js';
import { removeContainerAndImage } from './remove-container.js';
import { containerUsage } from '../usage/container-usage.js';
import { listImages, withContainerCounts } from '../image/list.js';
import { removeImage, type RemoveEvent } from './remove-image.js';

/**
 * `container prune`: every container that is not running. Bytes are their upper dirs.
 * Under the store lock from the listing on, so a container started meanwhile is not
 * taken for a stopped one.
 */
export async function pruneContainers(store: Store): Promise<{ removed: string[]; bytes: number }> {
  return withStoreLock(store, async () => {
    const removed: string[] = [];
    let bytes = 0;
    await requireReadableRecordDirs(store);
    for (const record of await listContainerRecords(store)) {
      if (record.state.status === 'running') continue;
      bytes += (await containerUsage(store, record)).sizeRw;
      await removeContainerAndImage(store, record.id);
      removed.push(record.id);
    }
    return { removed, bytes };
  });
}

/**
 * `image prune`: dangling images (no tag, no container), or with `all` every image no
 * container uses. Bytes are the layers that actually left the disk. Under the store
 * lock from the listing on: each removal is forced, so an image that gained a
 * container or a tag after an unlocked listing would go with it.
 */
export async function pruneImages(store: Store, options: { all?: boolean } = {}): Promise<{ events: RemoveEvent[]; bytes: number }> {
  return withStoreLock(store, async () => {
    const events: RemoveEvent[] = [];
    await requireReadableRecordDirs(store);
    for (const image of withContainerCounts(await listImages(store), await listContainerRecords(store))) {
      if (image.containers > 0 || (!options.all && image.repoTags.length > 0)) continue;
      events.push(...(await removeImage(store, image.record.id, { force: true })));
    }
    return { events, bytes: events.reduce((sum, e) => sum + (e.type === 'deleted' ? e.bytes : 0), 0) };
  });
}
