import fs from 'node:fs/promises';
import { randomHex } from '../store/random.js';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { tempName, writeJsonAtomic } from '../store/atomic.js';
import { createDirByRename } from '../store/dir-by-rename.js';
import { readJsonRecord, readJsonRecordSync } from '../store/records.js';
import { isLeftoverName, volumeParts } from '../store/paths.js';
import { listStoreDir } from '../store/record-dir.js';
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
  // Docker's local driver's words (volume/local validateName).
  if (name.length === 1) {
    throw new StrataError('EUSAGE', `create ${name}: volume name is too short, names should be at least two alphanumeric characters`, {
      path: name,
    });
  }
  if (!VALID_NAME.test(name)) {
    throw new StrataError(
      'EUSAGE',
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      { path: name },
    );
  }
  const existing = await readVolume(store, name).catch(() => null);
  if (existing) return existing;
  const { withStoreLock } = await import('../store/lock.js');
  return withStoreLock(store, async () => (await readVolume(store, name).catch(() => null)) ?? createVolume(store, name, options));
}

async function createVolume(store: Store, name: string, options: { anonymous?: boolean }): Promise<VolumeRecord> {
  const record: VolumeRecord = { name, created: new Date().toISOString(), anonymous: options.anonymous ?? false, labels: {} };
  const created = await createDirByRename(
    store.paths.volumeDir(name),
    async (tmp) => {
      await fs.mkdir(volumeParts(tmp).data, { mode: 0o755 });
      await writeJsonAtomic(volumeParts(tmp).record, record);
    },
    { name: tempName(name) },
  );
  return created ? record : readVolume(store, name);
}

export async function readVolume(store: Store, name: string): Promise<VolumeRecord> {
  const file = store.paths.volume(name).record;
  const raw = VALID_NAME.test(name) ? await readJsonRecord(file, { optional: true }) : null;
  if (raw === null) throw new StrataError('ENOTFOUND', `No such volume: ${name}`, { path: name });
  return raw as VolumeRecord;
}

export async function listVolumes(store: Store): Promise<VolumeRecord[]> {
  const names = (await listStoreDir(store.paths.volumesDir)).filter((n) => !isLeftoverName(n));
  // Synchronous, as for containers: df reads every record, and each awaited read is several thread-pool round trips.
  const records = names.map((name) => {
    try {
      return VALID_NAME.test(name)
        ? (readJsonRecordSync(store.paths.volume(name).record, { optional: true }) as VolumeRecord | null)
        : null;
    } catch {
      return null;
    }
  });
  // Docker's natural order, not localeCompare: the order does not depend on LANG, and
  // the first localeCompare loads ICU's collator — 7 ms and more, a large part of a df.
  return records.filter((r): r is VolumeRecord => r !== null).sort((a, b) => compareNatural(a.name, b.name));
}
