import fs from 'node:fs';
import type { Store } from '../store/root.js';
import { listStoreDir } from '../store/record-dir.js';
import { isLeftoverName } from '../store/paths.js';
import { listContainerRecords } from '../container/record.js';
import { listImageIds } from '../image/record.js';
import { measureTree } from '../layer/size.js';
import { graphDriverName } from '../image/inspect.js';

/** What `strata info` reports about a store (`docker info`'s counts, and the store's own facts). */
export interface StoreSummary {
  root: string;
  /** `overlay2` or `strata-oci`, as GraphDriver.Name. */
  driver: string;
  whiteoutFormat: string;
  rootless: boolean;
  formatVersion: number;
  containers: { total: number; running: number; paused: number; stopped: number };
  images: number;
  volumes: number;
  /** Unpacked layers (layers/<chainID>), shared by every image that has them. */
  layers: number;
  /** Content-store blobs: configs, manifests, compressed layers. */
  blobs: number;
  /** Everything under the root, by Docker's size rule (st_size, each inode once). */
  size: number;
  /** What the disk gave the same files (st_blocks * 512). */
  allocatedSize: number;
}

export async function storeSummary(store: Store): Promise<StoreSummary> {
  const live = async (dir: string) => (await listStoreDir(dir)).filter((n) => !isLeftoverName(n));
  const containers = await listContainerRecords(store);
  const running = containers.filter((c) => c.state.status === 'running').length;
  const measured = fs.existsSync(store.root) ? await measureTree(store.root) : { size: 0, allocatedSize: 0 };
  return {
    root: store.root,
    driver: graphDriverName(store),
    whiteoutFormat: store.whiteoutFormat,
    rootless: store.info.rootless,
    formatVersion: store.info.formatVersion,
    // strata never pauses a container; the line is Docker's.
    containers: { total: containers.length, running, paused: 0, stopped: containers.length - running },
    images: (await listImageIds(store)).length,
    volumes: (await live(store.paths.volumesDir)).length,
    layers: (await live(store.paths.layersDir)).length,
    blobs: (await live(store.paths.blobsDir)).length,
    size: measured.size,
    allocatedSize: measured.allocatedSize,
  };
}
