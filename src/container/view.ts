import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { layerStackOptions } from '../image/view.js';
import { assertUpperPresent } from '../layer/missing-layer.js';
import { Resolver } from '../resolver/resolver.js';
import type { Exclusive, ResolverMount } from '../resolver/options.js';
import { volumeDataDir } from '../volume/volume.js';
import { withContainerLock } from './lock.js';
import { containerDirs, containerFile, tmpfsBacking, type ContainerRecord } from './record.js';
import { bumpUsageToken } from './usage-token.js';
import { parseTmpfsOptions } from './tmpfs-options.js';

/**
 * The merged view a process in the container would see: its upper dir over the
 * image's layers, with --tmpfs and -v mounts resolved first.
 *
 * Safe beside other strata processes: every change (write, append, truncate, mkdir,
 * unlink, rmdir, rm, rename, symlink, link, chmod, chown, utimes) takes the
 * container's lock — the one `strata fs`, `cp`, `stop` and `rm` take — for as long
 * as it runs, and rewrites the container's usage token before and after. Reads take
 * no lock. `view.batch(work)` holds the lock once across every change `work` makes
 * (faster for many small changes, and no other process's change lands in between);
 * the per-change lock inside it costs nothing. The store lock is always taken first,
 * so inside a batch anything that takes it (create, rm, rmi, gc…) fails with EUSAGE.
 *
 * A container removed after its view was made (`strata rm -f` in another process)
 * takes no further change: each fails with StrataError ENOTFOUND `No such container`,
 * and a change already running finishes before the removal starts.
 */
export async function containerView(store: Store, record: ContainerRecord): Promise<Resolver> {
  const dirs = containerDirs(store, record.id);
  // The resolver would make a missing upper again, empty: the container's changes silently gone.
  await assertUpperPresent(store, record.id);
  // The check is synchronous: a change made inside a batch (the lock already held)
  // must join the view's queue at once, before the batch looks for changes in flight.
  const exclusive: Exclusive = (work) =>
    withContainerLock(store, record.id, () => {
      ensureNotRemoved(store, record.id);
      return work();
    });
  const mounts: ResolverMount[] = [];
  for (const mount of record.mounts) {
    if (mount.type === 'tmpfs') {
      // A real tmpfs starts empty, its root of mode= (1777, like /tmp, unless given), and holds size= bytes.
      const options = parseTmpfsOptions(mount.options ?? '');
      const source = tmpfsBacking(store, record.id, mount.destination);
      await ensureTmpfs(source, options.mode, exclusive);
      mounts.push({
        path: mount.destination,
        source,
        readOnly: options.readOnly,
        ...(options.sizeBytes === null ? {} : { sizeLimit: options.sizeBytes }),
      });
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
    exclusive,
    // Every change to the upper invalidates its cached usage (a read-only root has none to make).
    ...(record.readOnly ? {} : { onChange: () => bumpUsageToken(store, record.id) }),
  });
}

/**
 * Checked under the container's lock, which removal holds until the directory is
 * gone: a change that passes here cannot land in (or re-create a piece of) a removed
 * container — the resolver would otherwise make `work/` again for its scratch files.
 */
function ensureNotRemoved(store: Store, id: string): void {
  try {
    fsSync.accessSync(containerFile(store, id));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new StrataError('ENOTFOUND', `No such container: ${id}`, { path: id });
    throw err;
  }
}

/** A real tmpfs starts empty, its root of the mount's mode (1777 unless given, like /tmp); made on first use, under the lock. */
async function ensureTmpfs(source: string, mode: number, exclusive: Exclusive): Promise<void> {
  const st = await fs.stat(source).catch(() => null);
  if (st?.isDirectory() && (st.mode & 0o7777) === mode) return;
  await exclusive(async () => {
    await fs.mkdir(source, { recursive: true, mode });
    await fs.chmod(source, mode);
  });
}
