import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { findImage } from './lookup.js';
import { normalizeReference } from './reference.js';
import { readTags, writeTags } from './tags.js';

/** `docker tag SOURCE TARGET`: TARGET now names SOURCE's image (moved if it named another). */
export async function tagImage(store: Store, source: string, target: string): Promise<void> {
  const { repository, tag } = normalizeReference(target);
  const ref = `${repository}:${tag}`;
  await withStoreLock(store, async () => {
    const image = await findImage(store, source);
    const tags = await readTags(store);
    tags[ref] = image.id;
    await writeTags(store, tags);
  });
}
