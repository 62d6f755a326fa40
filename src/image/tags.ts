import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { writeJsonAtomic } from '../store/atomic.js';
import { readJsonRecord } from '../store/records.js';
import { isDigest } from '../content/digest.js';

/**
 * tags.json maps a familiar reference (`app:1.0`) to an image ID, like Docker's
 * repositories.json. One file, so moving a tag between images is one atomic write;
 * callers hold the store lock while they read-modify-write it.
 */
export type TagMap = Record<string, string>;

export async function readTags(store: Store): Promise<TagMap> {
  const raw = await readJsonRecord(store.paths.tagsFile, { optional: true });
  if (raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw) || Object.values(raw as object).some((v) => !isDigest(v))) {
    throw new StrataError('EBADRECORD', `${store.paths.tagsFile}: not a tag map`, { path: store.paths.tagsFile });
  }
  return raw as TagMap;
}

export async function writeTags(store: Store, tags: TagMap): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  await writeJsonAtomic(store.paths.tagsFile, sorted);
}

export function tagsOf(tags: TagMap, imageId: string): string[] {
  return Object.entries(tags)
    .filter(([, id]) => id === imageId)
    .map(([ref]) => ref)
    .sort();
}
