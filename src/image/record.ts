import fs from 'node:fs/promises';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { writeJsonAtomic } from '../store/atomic.js';
import { readJsonRecord } from '../store/records.js';
import { listStoreDir } from '../store/record-dir.js';
import { digestFromHex, isDigest } from '../content/digest.js';

/** One layer of an image, bottom first, as the image record lists it. */
export interface ImageLayer {
  diffId: string;
  chainId: string;
  blobDigest: string;
  /**
   * The blob as the image's manifest named it (media type, byte size), so save and
   * push can write a manifest for the stored blob as it is. Optional because records
   * written by earlier versions lack both: `imageLayerDescriptors` then takes them
   * from the stored manifest, or from the blob itself (see image/descriptors.ts).
   */
  blobMediaType?: string;
  blobSize?: number;
  /** The layer's own size (Docker's rule), copied from layer.json at load time. */
  size: number;
}

/**
 * images/<id>.json. The image ID is the config digest, as in Docker. The record is
 * written last in a load: its presence means every blob and layer it names is stored.
 */
export interface ImageRecord {
  id: string;
  configDigest: string;
  manifestDigest: string | null;
  layers: ImageLayer[];
  /** Sum of the layer sizes. */
  size: number;
  /** From the image config (`created`), or the load time when the config has none. */
  created: string;
  loaded: string;
  /**
   * Set by `rmi -f` while containers use the image: it is untagged (shows as <none>)
   * and kept, as Docker keeps it, and removed when the last of them is removed.
   */
  removeWhenUnused?: boolean;
  /**
   * Blobs `check --repair` found corrupt and removed while the unpacked layers were
   * intact: the image stays usable; loading or pulling it again restores them.
   */
  missingBlobs?: string[];
  /** `repository@sha256:…` for each repository the image was pulled from or pushed to, as Docker keeps them. */
  repoDigests?: string[];
}

export async function writeImageRecord(store: Store, record: ImageRecord): Promise<void> {
  await writeJsonAtomic(store.paths.imageRecord(record.id), record);
}

export async function readImageRecord(store: Store, id: string): Promise<ImageRecord> {
  const file = store.paths.imageRecord(id);
  const raw = await readJsonRecord(file, { optional: true });
  if (raw === null) throw new StrataError('ENOTFOUND', `No such image: ${id}`, { path: id });
  const record = raw as ImageRecord;
  if (!isDigest(record.id) || !Array.isArray(record.layers)) {
    throw new StrataError('EBADRECORD', `${file}: not an image record`, { path: file });
  }
  return record;
}

/**
 * Only ENOENT is "no such image": a load takes back the records it believes it
 * added, so an image record it merely could not see must not count as one of them.
 */
export async function imageExists(store: Store, id: string): Promise<boolean> {
  try {
    await fs.access(store.paths.imageRecord(id));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** IDs of every image record, in no particular order. Leftover temp files are skipped. */
export async function listImageIds(store: Store): Promise<string[]> {
  const names = await listStoreDir(store.paths.imagesDir);
  return names
    .map((n) => /^([0-9a-f]{64})\.json$/.exec(n)?.[1])
    .filter((hex): hex is string => hex !== undefined)
    .map(digestFromHex);
}

export async function listImageRecords(store: Store): Promise<ImageRecord[]> {
  const ids = await listImageIds(store);
  const records = await Promise.all(
    ids.map((id) =>
      readImageRecord(store, id).catch((err) => {
        // An image removed between readdir and read is simply gone, not an error.
        if ((err as StrataError).code === 'ENOTFOUND') return null;
        throw err;
      }),
    ),
  );
  return records.filter((r): r is ImageRecord => r !== null);
}

export async function removeImageRecord(store: Store, id: string): Promise<void> {
  await fs.rm(store.paths.imageRecord(id), { force: true });
}
