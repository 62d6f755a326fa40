import type { Store } from '../store/root.js';
import { listContainerRecords } from '../container/record.js';
import { listImageRecords, type ImageRecord } from './record.js';
import { readTags, tagsOf } from './tags.js';

export interface ImageSummary {
  record: ImageRecord;
  repoTags: string[];
  /** Containers (any state) created from this image. */
  containers: number;
}

/** Every image, newest first (docker's order), with its tags and container count. */
export async function listImages(store: Store): Promise<ImageSummary[]> {
  const [records, tags, containers] = await Promise.all([listImageRecords(store), readTags(store), listContainerRecords(store)]);
  return records
    .map((record) => ({ record, repoTags: tagsOf(tags, record.id), containers: containers.filter((c) => c.image === record.id).length }))
    .sort((a, b) => b.record.created.localeCompare(a.record.created) || a.record.id.localeCompare(b.record.id));
}
