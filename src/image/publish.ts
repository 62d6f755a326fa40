import fs from 'node:fs/promises';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { writeFileAtomic } from '../store/atomic.js';
import { removeImageRecord, writeImageRecord, type ImageRecord } from './record.js';
import { readTags, writeTags } from './tags.js';

/** An image whose blobs and layers are all stored, with the references to point at it. */
export interface ImageToPublish {
  record: ImageRecord;
  /** Normalised references, e.g. `app:1.0`. */
  repoTags: string[];
}

export interface PublishedImage {
  id: string;
  repoTags: string[];
  /** Tags that pointed at another image before this publish moved them here. */
  retagged: { tag: string; previous: string }[];
}

/**
 * Makes images visible: writes their records, then moves their tags in one write of
 * tags.json, under the store lock. Records are the commit point of whatever stored
 * the content (load, pull, commit), so the caller calls this last. If a record or the
 * tags cannot be written (a full disk, a read-only store), every record this call
 * wrote is taken back — new ones removed, overwritten ones restored byte for byte —
 * and the store is as it was.
 */
export async function publishImages(store: Store, images: ImageToPublish[]): Promise<PublishedImage[]> {
  return withStoreLock(store, async () => {
    const tags = await readTags(store);
    const published: PublishedImage[] = [];
    const undo: { id: string; previous: Buffer | null }[] = [];
    try {
      for (const { record, repoTags } of images) {
        if (!undo.some((u) => u.id === record.id))
          undo.push({ id: record.id, previous: await readIfPresent(store.paths.imageRecord(record.id)) });
        await writeImageRecord(store, record);
        const retagged = [];
        for (const tag of repoTags) {
          const previous = tags[tag];
          if (previous !== undefined && previous !== record.id) retagged.push({ tag, previous });
          tags[tag] = record.id;
        }
        published.push({ id: record.id, repoTags, retagged });
      }
      await writeTags(store, tags);
    } catch (err) {
      for (const { id, previous } of undo) await restore(store, id, previous).catch(() => {});
      throw err;
    }
    return published;
  });
}

async function restore(store: Store, id: string, previous: Buffer | null): Promise<void> {
  if (previous === null) await removeImageRecord(store, id);
  else await writeFileAtomic(store.paths.imageRecord(id), previous);
}

async function readIfPresent(file: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
