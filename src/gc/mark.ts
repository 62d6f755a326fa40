import type { Store } from '../store/root.js';
import { listImageRecords } from '../image/record.js';
import { listContainerRecords } from '../container/record.js';
import { activeLeases } from '../store/lease.js';
import { requireReadableRecordDirs } from '../store/record-dir.js';

export interface LiveSet {
  blobs: Set<string>;
  layers: Set<string>;
}

/**
 * Everything that must survive a sweep: what image records name, the layer chains
 * containers stand on, and what loads in flight have leased. Call with the store
 * lock held, or the answer may be stale by the time it is used. A record directory
 * that cannot be listed stops it: a keep-list built without it would be too short.
 */
export async function markLive(store: Store): Promise<LiveSet> {
  await requireReadableRecordDirs(store);
  const live = await activeLeases(store);
  for (const image of await listImageRecords(store)) {
    live.blobs.add(image.configDigest);
    if (image.manifestDigest) live.blobs.add(image.manifestDigest);
    for (const layer of image.layers) {
      live.blobs.add(layer.blobDigest);
      live.layers.add(layer.chainId);
    }
  }
  for (const container of await listContainerRecords(store)) {
    for (const chainId of container.layers) live.layers.add(chainId);
  }
  return live;
}
