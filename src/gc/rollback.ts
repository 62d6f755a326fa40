import fs from 'node:fs/promises';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { removeByRename } from '../store/atomic.js';
import type { Lease } from '../store/lease.js';
import { markLive } from './mark.js';

/**
 * Undoes a failed load: removes the blobs and layers it created, unless an image,
 * a container or another load in flight has come to need them meanwhile. The store
 * is then exactly as it was before the load began.
 */
export async function rollbackCreated(store: Store, lease: Lease): Promise<void> {
  await lease.release();
  if (lease.created.blobs.size === 0 && lease.created.layers.size === 0) return;
  await withStoreLock(store, async () => {
    const live = await markLive(store);
    for (const chainId of lease.created.layers) {
      if (!live.layers.has(chainId)) await removeByRename(store.paths.layerDir(chainId));
    }
    for (const digest of lease.created.blobs) {
      if (!live.blobs.has(digest)) await fs.rm(store.paths.blob(digest), { force: true });
    }
  });
}
