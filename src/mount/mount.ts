import fs from 'node:fs';
import path from 'node:path';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { faultPoint } from '../store/fault-points.js';
import { findContainer } from '../container/lookup.js';
import { withContainerLock } from '../container/lock.js';
import { containerDirs, listContainerRecords, type ContainerRecord } from '../container/record.js';
import { bumpUsageToken } from '../container/usage-token.js';
import { assertLayerFilesPresent, assertUpperPresent } from '../layer/missing-layer.js';
import { ensureRunDir, runDir } from './run-dir.js';
import { liveHolders, NO_HOLDS, readHolds, withHold, withoutHold, writeHolds, type HoldKind } from './holds.js';
import { mountAt, readMounts, type MountEntry } from './mountinfo.js';
import { mountFuseOverlay, mountKernelOverlay, unmountPoint, type MountEngine } from './engine.js';

export interface MountedContainer {
  id: string;
  /** containers/<id>/merged, as inspect shows it (GraphDriver.Data.MergedDir). */
  mergedDir: string;
}

export interface MountOptions {
  /**
   * `user` (default): a hold `strata umount` ends, as `strata mount` takes. `process`:
   * a hold that ends with this process too, for a runtime that uses the mount while it
   * runs — check sees a mount whose every holder is gone, and repair unmounts it.
   */
  heldBy?: HoldKind;
  /**
   * For a container whose upper is thrown away after this mount (a --rm run): a
   * kernel mount made now is `volatile`, so its unmount does not sync the whole
   * filesystem under the upper (overlayfs's sync_fs on umount, tens of ms to seconds
   * on a busy disk). Its price is that the kernel will not mount that upper again
   * (work/work/incompat/volatile) and that fsync inside it promises nothing, neither
   * of which matters to an upper that is removed next. A mount already there is
   * shared as it is; fuse-overlayfs has no such option.
   */
  discardedAfter?: boolean;
}

/**
 * Mounts a container's merged view at its MergedDir and takes one hold on it; a
 * mount already there is shared (several strata processes, one mount). While it
 * works, the hold is this process's own, written before the mount is made, and
 * becomes a `user` hold only once the mount is there: a crash anywhere before leaves
 * a hold of a dead process, which check reports and --repair undoes (unmounting
 * what nobody else holds), never a mount that looks wanted.
 */
export async function mountContainer(store: Store, nameOrId: string, options: MountOptions = {}): Promise<MountedContainer> {
  const record = await findContainer(store, nameOrId);
  return withContainerLock(store, record.id, async () => {
    await assertStillThere(store, record);
    const dirs = containerDirs(store, record.id);
    await assertLayerFilesPresent(store, record.layers);
    await assertUpperPresent(store, record.id);
    const runs = ensureRunDir(store);
    const mounted = mountAt(fs.realpathSync(dirs.merged));
    // The kernel is the truth: holds on a mount that is gone (a reboot, a crash, someone's umount) are void.
    const before = mounted === null ? NO_HOLDS : readHolds(runs, record.id);
    const pending = withHold(before, 'process');
    writeHolds(runs, record.id, pending);
    faultPoint('mount.held');
    if (mounted === null) {
      try {
        await makeMount(store, record, engineFor(store), options.discardedAfter === true);
      } catch (err) {
        writeHolds(runs, record.id, before); // refused: no mount, so no hold either
        throw err;
      }
      faultPoint('mount.mounted');
    }
    if ((options.heldBy ?? 'user') === 'user') writeHolds(runs, record.id, withHold(withoutHold(pending, 'process'), 'user'));
    return { id: record.id, mergedDir: dirs.merged };
  });
}

export interface UnmountOptions {
  /** Unmount whatever the holds (and lazily: a process still inside does not stop it). */
  force?: boolean;
  heldBy?: HoldKind;
}

/** Drops one hold; the last one unmounts. True when the container is no longer mounted. */
export async function unmountContainer(store: Store, nameOrId: string, options: UnmountOptions = {}): Promise<boolean> {
  const record = await findContainer(store, nameOrId);
  return withContainerLock(store, record.id, async () => {
    const runs = runDir(store);
    const merged = containerDirs(store, record.id).merged;
    const mounted = fs.existsSync(merged) ? mountAt(fs.realpathSync(merged)) : null;
    if (mounted === null) {
      writeHolds(runs, record.id, NO_HOLDS);
      return true;
    }
    const holds = options.force ? NO_HOLDS : withoutHold(readHolds(runs, record.id), options.heldBy ?? 'user');
    if (liveHolders(holds) > 0) {
      writeHolds(runs, record.id, holds);
      return false;
    }
    // Unmount first, then drop the holds: a crash between leaves holds on nothing, which is harmless.
    await unmountPoint(mounted.mountPoint, mounted.fsType, { lazy: options.force === true, privileged: store.privileged });
    faultPoint('umount.unmounted');
    writeHolds(runs, record.id, NO_HOLDS);
    await bumpUsageToken(store, record.id);
    return true;
  });
}

/**
 * For `rm`, with the container's lock held: detaches the mount lazily (a process still
 * inside keeps its view, nothing else sees it) and forgets its holds, before the
 * directory under it is renamed away.
 */
export async function detachForRemoval(store: Store, id: string): Promise<void> {
  const merged = containerDirs(store, id).merged;
  const mounted = fs.existsSync(merged) ? mountAt(fs.realpathSync(merged)) : null;
  if (mounted !== null) {
    await unmountPoint(mounted.mountPoint, mounted.fsType, { lazy: true, privileged: store.privileged });
    faultPoint('rm.unmounted');
  }
  writeHolds(runDir(store), id, NO_HOLDS);
}

export interface MountState extends MountedContainer {
  name: string;
  /** Holds strata knows of (user count plus live processes); 0 for a mount nobody holds. */
  holders: number;
}

/** Every container of the store whose merged view is mounted, as the kernel says now. */
export async function listMounted(store: Store): Promise<MountState[]> {
  const mounts = readMounts();
  const runs = runDir(store);
  const out: MountState[] = [];
  for (const record of await listContainerRecords(store)) {
    const merged = containerDirs(store, record.id).merged;
    if (mountOf(merged, mounts) === null) continue;
    out.push({ id: record.id, name: record.name, mergedDir: merged, holders: liveHolders(readHolds(runs, record.id)) });
  }
  return out;
}

/** Whether the container's merged view is mounted right now. */
export function isContainerMounted(store: Store, id: string): boolean {
  return mountOf(containerDirs(store, id).merged, readMounts()) !== null;
}

function mountOf(dir: string, mounts: MountEntry[]): MountEntry | null {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return null;
  }
  return mountAt(real, mounts);
}

/** Kernel overlayfs where the kernel can read the store as root; fuse-overlayfs otherwise. */
export function engineFor(store: Store): MountEngine {
  return store.whiteoutFormat === 'overlay' && store.privileged ? 'kernel' : 'fuse';
}

async function makeMount(store: Store, record: ContainerRecord, engine: MountEngine, volatile: boolean): Promise<void> {
  const dirs = containerDirs(store, record.id);
  fs.mkdirSync(dirs.merged, { recursive: true, mode: 0o755 });
  fs.mkdirSync(dirs.work, { recursive: true, mode: 0o700 });
  const lowers = record.layers.map((chainId) => store.paths.layerDiff(chainId)).reverse();
  // overlayfs needs a lower; an image of no layers stands on an empty one.
  if (lowers.length === 0) lowers.push(emptyLower(store));
  const overlay = { lowers, upper: dirs.upper, work: dirs.work };
  if (engine === 'kernel') await mountKernelOverlay(overlay, dirs.merged, { volatile });
  else await mountFuseOverlay(overlay, dirs.merged);
}

function emptyLower(store: Store): string {
  const dir = path.join(ensureRunDir(store), 'empty');
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

/** Removed while we waited for its lock: not a container any more. */
async function assertStillThere(store: Store, record: ContainerRecord): Promise<void> {
  if (!fs.existsSync(store.paths.container(record.id).config)) {
    throw new StrataError('ENOTFOUND', `No such container: ${record.id}`, { path: record.id });
  }
}
