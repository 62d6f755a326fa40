import type { Store } from '../store/root.js';
import { listImageRecords, type ImageRecord } from './record.js';
import { readTags, tagsOf } from './tags.js';

export interface ImageSummary {
  record: ImageRecord;
  repoTags: string[];
}

/** Every image, newest first (docker's order), with its tags. */
export async function listImages(store: Store): Promise<ImageSummary[]> {
  const [records, tags] = await Promise.all([listImageRecords(store), readTags(store)]);
  return records
    .map((record) => ({ record, repoTags: tagsOf(tags, record.id) }))
    .sort((a, b) => b.record.created.localeCompare(a.record.created) || a.record.id.localeCompare(b.record.id));
}

/**
 * Each image with the number of containers (any state) created from it. The caller
 * lists the containers: images sit below containers, so this module never reads them.
 */
export function withContainerCounts<T extends ImageSummary>(
  images: T[],
  containers: readonly { image: string }[],
): (T & { containers: number })[] {
  const counts = new Map<string, number>();
  for (const c of containers) counts.set(c.image, (counts.get(c.image) ?? 0) + 1);
  return images.map((image) => ({ ...image, containers: counts.get(image.record.id) ?? 0 }));
}
