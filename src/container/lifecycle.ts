import fs from 'node:fs/promises';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { removeByRename, removeTree } from '../store/atomic.js';
import { removeVolume } from '../volume/volume.js';
import { findContainer } from './lookup.js';
import { withContainerLock } from './lock.js';
import { containerDirs, listContainerRecords, tmpfsBacking, writeContainerRecord, type ContainerRecord } from './record.js';
import { releaseImage } from '../image/remove.js';
import { faultPoint } from '../store/fault-points.js';
import { bumpUsageToken } from './usage-token.js';
import { assertLayerFilesPresent, assertUpperPresent } from '../layer/missing-layer.js';

/**
 * Docker's container states without a process: `start` marks a container Up,
 * `stop` marks it Exited. What users rely on is kept: --tmpfs content is gone after
 * every stop, restart and removal, exactly as a real tmpfs would be.
 */
export async function startContainer(store: Store, name: string): Promise<ContainerRecord> {
  return withStoreLock(store, async () => {
    const record = await findContainer(store, name);
    if (record.state.status === 'running') return record;
    // What a runtime would mount: refuse, as docker start does, rather than report Up over missing layers.
    await assertLayerFilesPresent(store, record.layers);
    await assertUpperPresent(record.id, containerDirs(store, record.id).upper);
    record.state = { status: 'running', startedAt: new Date().toISOString(), finishedAt: record.state.finishedAt, exitCode: 0 };
    // A runtime may write the upper while it runs: its cached usage is over from here on.
    await bumpUsageToken(store, record.id);
    await writeContainerRecord(store, record);
    return record;
  });
}

export async function stopContainer(store: Store, name: string): Promise<ContainerRecord> {
  return withStoreLock(store, async () => {
    const record = await findContainer(store, name);
    if (record.state.status !== 'running') return record;
    // A write into a --tmpfs path in flight finishes before the tmpfs is emptied.
    await withContainerLock(store, record.id, () => emptyTmpfs(store, record));
    record.state = { ...record.state, status: 'exited', finishedAt: new Date().toISOString(), exitCode: 0 };
    await writeContainerRecord(store, record);
    // Whatever ran meanwhile may have written the upper; a df during the run cached nothing, but be sure.
    await bumpUsageToken(store, record.id);
    return record;
  });
}

/** Stop then start under one hold of the store lock: no other process sees it stopped in between. */
export async function restartContainer(store: Store, name: string): Promise<ContainerRecord> {
  return withStoreLock(store, async () => {
    await stopContainer(store, name);
    return startContainer(store, name);
  });
}

export interface RemoveContainerOptions {
  /** Remove a running container too (docker rm -f). */
  force?: boolean;
  /** Also remove the container's anonymous volumes (docker rm -v). */
  volumes?: boolean;
}

/**
 * Removes upper/, work/ and tmpfs/ with the record. The directory is first renamed
 * to a trash name, so a crash mid-delete never leaves something that looks live.
 */
export async function removeContainer(store: Store, name: string, options: RemoveContainerOptions = {}): Promise<ContainerRecord> {
  return withStoreLock(store, async () => {
    const record = await findContainer(store, name);
    if (record.state.status === 'running' && !options.force) {
      throw new StrataError('ECONFLICT',
        `You cannot remove a running container ${record.id}. Stop the container before attempting removal or force remove`, { path: name });
    }
    // An fs write or cp in flight finishes first (lock order: store, then container).
    await withContainerLock(store, record.id, async () => {
      faultPoint('rm.container');
      await removeByRename(store.paths.containerDir(record.id));
    });
    if (options.volumes) {
      for (const mount of record.mounts) {
        if (mount.type === 'volume' && mount.anonymous) await removeVolume(store, mount.name).catch(() => {});
      }
    }
    // An image `rmi -f` could only untag while this container used it goes now.
    await releaseImage(store, record.image, await listContainerRecords(store));
    return record;
  });
}

async function emptyTmpfs(store: Store, record: ContainerRecord): Promise<void> {
  const { tmpfs } = containerDirs(store, record.id);
  await removeTree(tmpfs);
  await fs.mkdir(tmpfs, { mode: 0o755 });
  // Empty but still mounted, as a real tmpfs: a view made before the stop (a library
  // user's, in another process) keeps serving and taking changes at its mount points.
  for (const mount of record.mounts) {
    if (mount.type !== 'tmpfs') continue;
    const source = tmpfsBacking(store, record.id, mount.destination);
    await fs.mkdir(source, { mode: 0o1777 });
    await fs.chmod(source, 0o1777);
  }
}
