import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/root.js';
import { writeJsonAtomic } from '../store/atomic.js';
import { withStoreLock } from '../store/lock.js';
import { readJsonRecord } from '../store/records.js';

/**
 * A lease names blobs and layers that an operation in flight (a load) is about to
 * reference. Anything that deletes content (rmi, gc) holds the store lock and spares
 * leased objects, so it never removes a layer a concurrent load has just decided to
 * reuse. Leases of dead processes are ignored and swept.
 */
export interface LeaseRecord {
  pid: number;
  created: string;
  blobs: string[];
  layers: string[];
}

const LEASES = 'leases';

export class Lease {
  private readonly record: LeaseRecord = { pid: process.pid, created: new Date().toISOString(), blobs: [], layers: [] };
  /** What this operation itself added to the store: the only things a rollback may remove. */
  readonly created = { blobs: new Set<string>(), layers: new Set<string>() };
  private constructor(private readonly store: Store, readonly file: string) {}

  static async create(store: Store): Promise<Lease> {
    const dir = path.join(store.root, LEASES);
    await fs.mkdir(dir, { recursive: true });
    const lease = new Lease(store, path.join(dir, `${process.pid}-${randomBytes(6).toString('hex')}.json`));
    await writeJsonAtomic(lease.file, lease.record);
    return lease;
  }

  /** Adds objects under the store lock, so a sweep sees either none or all of them. */
  async add(objects: { blobs?: string[]; layers?: string[] }): Promise<void> {
    await withStoreLock(this.store, async () => {
      this.record.blobs.push(...(objects.blobs ?? []));
      this.record.layers.push(...(objects.layers ?? []));
      await writeJsonAtomic(this.file, this.record);
    });
  }

  async release(): Promise<void> {
    await fs.rm(this.file, { force: true });
  }
}

/** Everything live leases protect. Call with the store lock held. */
export async function activeLeases(store: Store): Promise<{ blobs: Set<string>; layers: Set<string> }> {
  const dir = path.join(store.root, LEASES);
  const blobs = new Set<string>();
  const layers = new Set<string>();
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const file = path.join(dir, name);
    const record = (await readJsonRecord(file, { optional: true }).catch(() => null)) as LeaseRecord | null;
    if (!record) continue;
    if (!processAlive(record.pid)) {
      await fs.rm(file, { force: true });
      continue;
    }
    record.blobs.forEach((b) => blobs.add(b));
    record.layers.forEach((l) => layers.add(l));
  }
  return { blobs, layers };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Start time (ms) of the oldest load still in flight, or null when none is. */
export async function oldestLiveLease(store: Store): Promise<number | null> {
  const dir = path.join(store.root, LEASES);
  let oldest: number | null = null;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const record = (await readJsonRecord(path.join(dir, name), { optional: true }).catch(() => null)) as LeaseRecord | null;
    if (!record || !processAlive(record.pid)) continue;
    const started = Date.parse(record.created);
    if (oldest === null || started < oldest) oldest = started;
  }
  return oldest;
}
