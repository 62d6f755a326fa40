import fs from 'node:fs/promises';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { removeByRename, removeTree } from '../store/atomic.js';
import { removeVolume } from './volume-use.js';
import { findContainer } from './lookup.js';
import { withContainerLock } from './lock.js';
import { containerDirs, tmpfsBacking, writeContainerRecord, type ContainerRecord } from './record.js';
import { faultPoint } from '../store/fault-points.js';
import { bumpUsageToken } from './usage-token.js';
import { assertLayerFilesPresent, assertUpperPresent } from '../layer/missing-layer.js';
import { detachForRemoval } from '../mount/mount.js';

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
    await assertUpperPresent(store, record.id);
    record.state = { status: 'running', startedAt: new Date().toISOString(), finishedAt: record.state.finishedAt, exitCode: 0 };
    // A runtime may write the upper while it runs: its cached usage is over from here on.
    await bumpUsageToken(store, record.id);
    await writeContainerRecord(store, record);
    return record;
  });
}

/**
 * A container created with --rm (AutoRemove) is removed, with its anonymous volumes,
 * when it stops: Docker removes it when its process exits, and in strata a stop is
 * the only way a running container ends.
 */
export async function stopContainer(store: Store, name: string): Promise<ContainerRecord> {
  return stopOnly(store, name, { autoRemove: true });
}

async function stopOnly(store: Store, name: string, options: { autoRemove: boolean }): Promise<ContainerRecord> {
  return withStoreLock(store, async () => {
    const record = await findContainer(store, name);
    if (record.state.status !== 'running') return record;
    // A write into a --tmpfs path in flight finishes before the tmpfs is emptied.
    await withContainerLock(store, record.id, () => emptyTmpfs(store, record));
    record.state = { ...record.state, status: 'exited', finishedAt: new Date().toISOString(), exitCode: 0 };
    await writeContainerRecord(store, record);
    // Whatever ran meanwhile may have written the upper; a df during the run cached nothing, but be sure.
    await bumpUsageToken(store, record.id);
    if (options.autoRemove && record.autoRemove) await removeContainer(store, record.id, { volumes: true });
    return record;
  });
}

/**
 * Stop then start under one hold of the store lock: no other process sees it stopped
 * in between. An --rm container survives, as Docker's restart keeps it.
 */
export async function restartContainer(store: Store, name: string): Promise<ContainerRecord> {
  return withStoreLock(store, async () => {
    const stopped = await stopOnly(store, name, { autoRemove: false });
    // A never-started container was not stopped, but its restart still mounts a fresh tmpfs.
    await withContainerLock(store, stopped.id, () => emptyTmpfs(store, stopped));
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
 * Removes upper/, work/ and tmpfs/ with the record, unmounting merged/ first if it is
 * mounted. The directory is first renamed to a trash name, so a crash mid-delete
 * never leaves something that looks live.
 */
export async function removeContainer(store: Store, name: string, options: RemoveContainerOptions = {}): Promise<ContainerRecord> {
  return withStoreLock(store, async () => {
    const record = await findContainer(store, name);
    if (record.state.status === 'running' && !options.force) {
      throw new StrataError(
        'ECONFLICT',
        `You cannot remove a running container ${record.id}. Stop the container before attempting removal or force remove`,
        { path: name },
      );
    }
    // An fs write or cp in flight finishes first (lock order: store, then container).
    await withContainerLock(store, record.id, async () => {
      // A mounted view goes first, lazily: a process inside keeps it, nothing else sees it.
      await detachForRemoval(store, record.id);
      faultPoint('rm.container');
      await removeByRename(store.paths.containerDir(record.id));
    });
    if (options.volumes) {
      for (const mount of record.mounts) {
        if (mount.type === 'volume' && mount.anonymous) await removeVolume(store, mount.name).catch(() => {});
      }
    }
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
