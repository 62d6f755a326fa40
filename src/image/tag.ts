import { StrataError, isStrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { findImage } from './lookup.js';
import { normalizeReference } from './reference.js';
import { readTags, writeTags } from './tags.js';

/** `docker tag SOURCE TARGET`: TARGET now names SOURCE's image (moved if it named another). */
export async function tagImage(store: Store, source: string, target: string): Promise<void> {
  let parsed;
  try {
    parsed = normalizeReference(target);
  } catch (err) {
    // docker tag's own sentence around distribution/reference's words.
    if (isStrataError(err, 'EREFERENCE')) {
      throw new StrataError(
        'EREFERENCE',
        `Error parsing reference: ${JSON.stringify(target)} is not a valid repository/tag: ${err.message}`,
        { path: target },
      );
    }
    throw err;
  }
  const { repository, tag } = parsed;
  const ref = `${repository}:${tag}`;
  await withStoreLock(store, async () => {
    const image = await findImage(store, source);
    const tags = await readTags(store);
    tags[ref] = image.id;
    await writeTags(store, tags);
  });
}
