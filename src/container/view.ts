import fs from 'node:fs/promises';
import type { Store } from '../store/root.js';
import { layerStackOptions } from '../image/view.js';
import { Resolver } from '../resolver/resolver.js';
import type { ResolverMount } from '../resolver/options.js';
import { volumeDataDir } from '../volume/volume.js';
import { containerDirs, tmpfsBacking, type ContainerRecord } from './record.js';
import { bumpUsageToken } from './usage-token.js';
import { parseTmpfsOptions } from './tmpfs-options.js';

/**
 * The merged view a process in the container would see: its upper dir over the
 * image's layers, with --tmpfs and -v mounts resolved first.
 */
export async function containerView(store: Store, record: ContainerRecord): Promise<Resolver> {
  const dirs = containerDirs(store, record.id);
  const mounts: ResolverMount[] = [];
  for (const mount of record.mounts) {
    if (mount.type === 'tmpfs') {
      // A real tmpfs starts empty, its root of mode= (1777, like /tmp, unless given), and holds size= bytes.
      const options = parseTmpfsOptions(mount.options ?? '');
      const source = tmpfsBacking(store, record.id, mount.destination);
      await fs.mkdir(source, { recursive: true, mode: options.mode });
      await fs.chmod(source, options.mode);
      mounts.push({ path: mount.destination, source, readOnly: options.readOnly, ...(options.sizeBytes === null ? {} : { sizeLimit: options.sizeBytes }) });
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
