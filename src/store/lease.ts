import fs from 'node:fs/promises';
import path from 'node:path';
import { randomHex } from './random.js';
import type { Store } from './root.js';
import { writeJsonAtomic } from './atomic.js';
import { withStoreLock } from './lock.js';
import { holderState, self, type ProcessIdentity } from './process-identity.js';
import { readJsonRecord } from './records.js';
import { listStoreDir } from './record-dir.js';
import { StrataError } from '../errors.js';
import { isLeftoverName } from './paths.js';
import { faultPoint } from './fault-points.js';

/**
 * A lease names blobs and layers that an operation in flight (a load) is about to
 * reference. Anything that deletes content (rmi, gc) holds the store lock and spares
 * leased objects, so it never removes a layer a concurrent load has just decided to
 * reuse. Leases of dead processes are ignored and swept; "dead" is judged as for
 * locks (pid and start time), so a reused pid never keeps a crashed load's lease alive.
 */
export interface LeaseRecord {
  pid: number;
  /** Who holds it, as the store lock records its owner; absent in leases of older strata. */
  owner?: ProcessIdentity;
  created: string;
  blobs: string[];
  layers: string[];
}

export class Lease {
  private readonly record: LeaseRecord = { pid: process.pid, owner: self(), created: new Date().toISOString(), blobs: [], layers: [] };
  /** What this operation itself added to the store: the only things a rollback may remove. */
  readonly created = { blobs: new Set<string>(), layers: new Set<string>() };
  private constructor(
    private readonly store: Store,
    readonly file: string,
  ) {}

  static async create(store: Store): Promise<Lease> {
    const dir = store.paths.leasesDir;
    await fs.mkdir(dir, { recursive: true });
    const lease = new Lease(store, path.join(dir, `${process.pid}-${randomHex(6)}.json`));
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
    faultPoint('lease.released');
  }
}

export interface LeaseEntry {
  file: string;
  /** null when the file is not a readable lease. */
  record: LeaseRecord | null;
  live: boolean;
}

/** Every lease file, with whether its process still runs. Temp files of lease writes are not listed. */
export async function listLeases(store: Store): Promise<LeaseEntry[]> {
  const dir = store.paths.leasesDir;
  const out: LeaseEntry[] = [];
  for (const name of await listStoreDir(dir)) {
    if (!name.endsWith('.json') || isLeftoverName(name)) continue;
    const file = path.join(dir, name);
    // Malformed JSON is a lease no process can hold (writes are atomic); a file that
    // cannot be read at all (EACCES, EIO) may be a live load's, so that stops the caller.
    const raw = await readJsonRecord(file, { optional: true }).catch((err: unknown) => {
      if (err instanceof StrataError) return undefined;
      throw err;
    });
    if (raw === null) continue; // released while we looked
    const record = isLeaseRecord(raw) ? raw : null;
    out.push({ file, record, live: record !== null && leaseHolderAlive(record) });
  }
  return out;
}

function isLeaseRecord(raw: unknown): raw is LeaseRecord {
  const r = raw as LeaseRecord | undefined;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.pid === 'number' &&
    typeof r.created === 'string' &&
    Array.isArray(r.blobs) &&
    Array.isArray(r.layers)
  );
}

export function leaseHolderAlive(record: Pick<LeaseRecord, 'pid' | 'owner'>): boolean {
  return holderState(record.owner ?? { ...self(), pid: record.pid, start: null }) !== 'dead';
}

/** Everything live leases protect. Call with the store lock held; leases of dead processes are removed. */
export async function activeLeases(store: Store): Promise<{ blobs: Set<string>; layers: Set<string> }> {
  const blobs = new Set<string>();
  const layers = new Set<string>();
  for (const lease of await listLeases(store)) {
    if (lease.record === null) continue;
    if (!lease.live) {
      await fs.rm(lease.file, { force: true });
      continue;
    }
    for (const b of lease.record.blobs) blobs.add(b);
    for (const l of lease.record.layers) layers.add(l);
  }
  return { blobs, layers };
}

/**
 * File times come from the kernel's coarse clock, which may lag Date.now() by a
 * scheduler tick: a file a load makes just after its lease can look older than the
 * lease. Leftover sweeps therefore treat everything from this much before the oldest
 * lease on as possibly in flight.
 */
const CLOCK_SLACK_MS = 1000;

/** Start time (ms, minus the clock slack) of the oldest load still in flight, or null when none is. */
export async function oldestLiveLease(store: Store): Promise<number | null> {
  let oldest: number | null = null;
  for (const lease of await listLeases(store)) {
    if (!lease.record || !lease.live) continue;
    const started = Date.parse(lease.record.created) - CLOCK_SLACK_MS;
    if (oldest === null || started < oldest) oldest = started;
  }
  return oldest;
}
