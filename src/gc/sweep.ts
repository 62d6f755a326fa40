import fs from 'node:fs/promises';
import path from 'node:path';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { isLeftoverName, layerParts } from '../store/paths.js';
import { removeByRename, removeTree } from '../store/atomic.js';
import { digestFromHex } from '../content/digest.js';
import { readJsonRecord } from '../store/records.js';
import { listStoreDir } from '../store/record-dir.js';
import { measureTree } from '../layer/size.js';
import type { LayerRecord } from '../layer/record.js';
import { markLive } from './mark.js';
import { oldestLiveLease } from '../store/lease.js';
import { faultPoint } from '../store/fault-points.js';

export interface GcOptions {
  dryRun?: boolean;
  /** Leftovers younger than this may belong to an operation still running. Default one hour. */
  gracePeriodMs?: number;
  onProgress?: (done: number, total: number) => void;
  /** Stops between two removals (each one is whole: renamed away, then deleted). */
  signal?: AbortSignal;
}

export type GcItem = { kind: 'layer' | 'blob' | 'leftover'; name: string; bytes: number };

export interface GcReport {
  removed: GcItem[];
  bytes: number;
}

const DEFAULT_GRACE_MS = 60 * 60 * 1000;

/**
 * Mark and sweep under the store lock: everything an image record, a container or a
 * live lease names survives; unreferenced layers and blobs go, and so do leftovers of
 * interrupted operations once they are older than the grace period and than every
 * load still in flight.
 */
export async function collectGarbage(store: Store, options: GcOptions = {}): Promise<GcReport> {
  return withStoreLock(store, async () => {
    const live = await markLive(store);
    const candidates = [
      ...(await deadLayers(store, live.layers)),
      ...(await deadBlobs(store, live.blobs)),
      ...(await staleLeftovers(store, options.gracePeriodMs ?? DEFAULT_GRACE_MS)),
    ];
    const removed: GcItem[] = [];
    for (const [i, item] of candidates.entries()) {
      if (options.signal?.aborted) {
        throw new StrataError(
          'EINTERRUPTED',
          `gc interrupted after removing ${i} of ${candidates.length} items (${reclaimedText(removed)})`,
        );
      }
      faultPoint('gc.remove');
      if (!options.dryRun) await remove(item);
      removed.push({ kind: item.kind, name: item.name, bytes: item.bytes });
      options.onProgress?.(i + 1, candidates.length);
    }
    return { removed, bytes: removed.reduce((sum, r) => sum + r.bytes, 0) };
  });
}

function reclaimedText(removed: GcItem[]): string {
  return `${removed.reduce((sum, r) => sum + r.bytes, 0)} bytes reclaimed`;
}

interface Candidate extends GcItem {
  path: string;
}

async function deadLayers(store: Store, live: Set<string>): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const name of await listStoreDir(store.paths.layersDir)) {
    if (isLeftoverName(name) || live.has(digestFromHex(name))) continue;
    const dir = path.join(store.paths.layersDir, name);
    const record = (await readJsonRecord(layerParts(dir).record, { optional: true }).catch(() => null)) as LayerRecord | null;
    const bytes = record?.size ?? (await treeBytes(dir));
    out.push({ kind: 'layer', name: digestFromHex(name), bytes, path: dir });
  }
  return out;
}

async function deadBlobs(store: Store, live: Set<string>): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const name of await listStoreDir(store.paths.blobsDir)) {
    if (isLeftoverName(name) || live.has(digestFromHex(name))) continue;
    const file = path.join(store.paths.blobsDir, name);
    out.push({ kind: 'blob', name: digestFromHex(name), bytes: (await fs.lstat(file)).size, path: file });
  }
  return out;
}

async function staleLeftovers(store: Store, graceMs: number): Promise<Candidate[]> {
  const cutoff = Math.min(Date.now() - graceMs, (await oldestLiveLease(store)) ?? Infinity);
  const out: Candidate[] = [];
  const dirs = store.paths.leftoverDirs;
  const consider = async (file: string) => {
    const st = await fs.lstat(file).catch(() => null);
    if (st === null || st.mtimeMs >= cutoff) return;
    const bytes = st.isDirectory() ? await treeBytes(file) : st.size;
    out.push({ kind: 'leftover', name: path.relative(store.root, file), bytes, path: file });
  };
  for (const dir of dirs) {
    for (const name of await listStoreDir(dir)) if (isLeftoverName(name)) await consider(path.join(dir, name));
  }
  // Everything in ingest/ is in flight or left over; age tells which.
  for (const name of await listStoreDir(store.paths.ingestDir)) await consider(path.join(store.paths.ingestDir, name));
  return out;
}

/** Bytes a leftover holds; a tree we cannot read (e.g. mode 000 rootless) counts as 0. */
async function treeBytes(dir: string): Promise<number> {
  try {
    return (await measureTree(dir)).size;
  } catch {
    return 0;
  }
}

async function remove(item: Candidate): Promise<void> {
  if (item.kind === 'layer') await removeByRename(item.path);
  else if (item.kind === 'blob') await fs.rm(item.path, { force: true });
  else await removeTree(item.path);
}
