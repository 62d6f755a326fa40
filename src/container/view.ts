import fs from 'node:fs/promises';
import type { Store } from '../store/root.js';
import { layerStackOptions } from '../image/view.js';
import { Resolver } from '../resolver/resolver.js';
import type { ResolverMount } from '../resolver/options.js';
import { volumeDataDir } from '../volume/volume.js';
import { containerDirs, tmpfsBacking, type ContainerRecord } from './record.js';
import { bumpUsageToken } from './usage-token.js';

/**
 * The merged view a process in the container would see: its upper dir over the
 * image's layers, with --tmpfs and -v mounts resolved first.
 */
export async function containerView(store: Store, record: ContainerRecord): Promise<Resolver> {
  const dirs = containerDirs(store, record.id);
  const mounts: ResolverMount[] = [];
  for (const mount of record.mounts) {
    if (mount.type === 'tmpfs') {
      // A real tmpfs starts empty and world-writable with the sticky bit, like /tmp.
      const source = tmpfsBacking(store, record.id, mount.destination);
      await fs.mkdir(source, { recursive: true, mode: 0o1777 });
      await fs.chmod(source, 0o1777);
      mounts.push({ path: mount.destination, source, readOnly: false });
    } else if (mount.type === 'volume') {
      mounts.push({ path: mount.destination, source: volumeDataDir(store, mount.name), readOnly: mount.readOnly });
    } else {
      mounts.push({ path: mount.destination, source: mount.source, readOnly: mount.readOnly });
    }
  }
  return new Resolver({
    ...(await layerStackOptions(store, record.layers)),
    upperDir: dirs.upper,
    workDir: dirs.work,
    readOnly: record.readOnly,
    mounts,
    // Every change to the upper invalidates its cached usage (a read-only root has none to make).
    ...(record.readOnly ? {} : { onChange: () => bumpUsageToken(store, record.id) }),
  });
}
