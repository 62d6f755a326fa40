import fs from 'node:fs/promises';
import { randomHex } from '../store/random.js';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { removeByRename, tempName, writeJsonAtomic } from '../store/atomic.js';
import { createDirByRename } from '../store/dir-by-rename.js';
import { readJsonRecord, readJsonRecordSync } from '../store/records.js';
import { isLeftoverName, volumeParts } from '../store/paths.js';
import { listStoreDir, requireReadableRecordDirs } from '../store/record-dir.js';
import { listContainerRecords, type ContainerRecord } from '../container/record.js';
import { measureTree } from '../layer/size.js';
import { compareNatural } from './natural-order.js';

/**
 * Named volumes live in volumes/<name>/{_data, volume.json}, like Docker's local
 * driver. They outlive containers; only `volume rm`, `volume prune` or `rm -v`
 * (for anonymous ones) remove them.
 */
export interface VolumeRecord {
  name: string;
  created: string;
  /** Made by `-v /path` without a name; `rm -v` removes it with its container. */
  anonymous: boolean;
  labels: Record<string, string>;
}

const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function volumeDataDir(store: Store, name: string): string {
  return store.paths.volume(name).data;
}

export function anonymousVolumeName(): string {
  return randomHex(32);
}

/**
 * Creates the volume if it does not exist (as `-v name:/path` does) and returns its
 * record. Takes the store lock to create one, so it never races a `volume rm` or prune.
 */
export async function ensureVolume(store: Store, name: string, options: { anonymous?: boolean } = {}): Promise<VolumeRecord> {
  if (!VALID_NAME.test(name)) {
    throw new StrataError('EUSAGE', `"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`, { path: name });
  }
  const existing = await readVolume(store, name).catch(() => null);
  if (existing) return existing;
  const { withStoreLock } = await import('../store/lock.js');
  return withStoreLock(store, async () => (await readVolume(store, name).catch(() => null)) ?? createVolume(store, name, options));
}

async function createVolume(store: Store, name: string, options: { anonymous?: boolean }): Promise<VolumeRecord> {
  const record: VolumeRecord = { name, created: new Date().toISOString(), anonymous: options.anonymous ?? false, labels: {} };
  const created = await createDirByRename(store.paths.volumeDir(name), async (tmp) => {
    await fs.mkdir(volumeParts(tmp).data, { mode: 0o755 });
    await writeJsonAtomic(volumeParts(tmp).record, record);
  }, { name: tempName(name) });
  return created ? record : readVolume(store, name);
}

export async function readVolume(store: Store, name: string): Promise<VolumeRecord> {
  const file = store.paths.volume(name).record;
  const raw = VALID_NAME.test(name) ? await readJsonRecord(file, { optional: true }) : null;
  if (raw === null) throw new StrataError('ENOTFOUND', `get ${name}: no such volume`, { path: name });
  return raw as VolumeRecord;
}

export async function listVolumes(store: Store): Promise<VolumeRecord[]> {
  const names = (await listStoreDir(store.paths.volumesDir)).filter((n) => !isLeftoverName(n));
  // Synchronous, as for containers: df reads every record, and each awaited read is several thread-pool round trips.
  const records = names.map((name) => {
    try {
      return VALID_NAME.test(name) ? readJsonRecordSync(store.paths.volume(name).record, { optional: true }) as VolumeRecord | null : null;
    } catch {
      return null;
    }
  });
  // Docker's natural order, not localeCompare: the order does not depend on LANG, and
  // the first localeCompare loads ICU's collator — 7 ms and more, a large part of a df.
  return records.filter((r): r is VolumeRecord => r !== null).sort((a, b) => compareNatural(a.name, b.name));
}

/** IDs of the containers that mount each volume (Docker's LINKS / RefCount). */
export async function volumeUsers(store: Store, containers?: ContainerRecord[]): Promise<Map<string, string[]>> {
  const users = new Map<string, string[]>();
  for (const container of containers ?? await listContainerRecords(store)) {
    for (const mount of container.mounts) {
      if (mount.type === 'volume') users.set(mount.name, [...(users.get(mount.name) ?? []), container.id]);
    }
  }
  return users;
}

/**
 * `volume rm`. Under the store lock, so no container starts using the volume meanwhile;
 * with `force`, also under the lock of every container that uses it, so a write into
 * the volume through a container's view finishes first (then later ones fail ENOENT,
 * as on a host whose mount source was deleted) and nothing lands in it while it goes.
 */
export async function removeVolume(store: Store, name: string, options: { force?: boolean } = {}): Promise<void> {
  const [{ withStoreLock }, { withContainerLock }] = await Promise.all([import('../store/lock.js'), import('../container/lock.js')]);
  await withStoreLock(store, async () => {
    await readVolume(store, name);
    const users = (await volumeUsers(store)).get(name) ?? [];
    if (users.length > 0 && !options.force) {
      throw new StrataError('ECONFLICT', `remove ${name}: volume is in use - [${users.join(', ')}]`, { path: name });
    }
    // Store lock first, then container locks, as everywhere (src/container/lock.ts).
    const underLocks = async (ids: string[]): Promise<unknown> => (ids.length === 0
      ? removeByRename(store.paths.volumeDir(name))
      : withContainerLock(store, ids[0]!, () => underLocks(ids.slice(1))));
    await underLocks(users);
  });
}

/** Docker's `volume prune`: unused anonymous volumes, or every unused one with `all`. */
export async function pruneVolumes(store: Store, all: boolean): Promise<{ removed: string[]; bytes: number }> {
  // The lock module loads here: listing and measuring volumes (df) never takes it.
  const { withStoreLock } = await import('../store/lock.js');
  return withStoreLock(store, async () => {
    await requireReadableRecordDirs(store);
    const users = await volumeUsers(store);
    const removed: string[] = [];
    let bytes = 0;
    for (const v of await listVolumes(store)) {
      if ((users.get(v.name) ?? []).length > 0 || (!all && !v.anonymous)) continue;
      bytes += (await measureTree(volumeDataDir(store, v.name))).size;
      await removeVolume(store, v.name);
      removed.push(v.name);
    }
    return { removed, bytes };
  });
}
