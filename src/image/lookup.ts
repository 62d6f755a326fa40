import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { digestHex } from '../content/digest.js';
import { familiarName } from './reference.js';
import { listImageIds, readImageRecord, type ImageRecord } from './record.js';
import { readTags } from './tags.js';

const ID_PREFIX = /^(?:sha256:)?([0-9a-f]{1,64})$/;

/**
 * Finds an image the way Docker does: a reference (`app`, `app:1.0`,
 * `docker.io/library/app:1.0`) first, then a full or unique-prefix image ID.
 */
export async function findImage(store: Store, name: string): Promise<ImageRecord> {
  const tags = await readTags(store);
  const familiar = tryNormalize(name);
  if (familiar !== null && tags[familiar] !== undefined) return readImageRecord(store, tags[familiar]!);
  const prefix = ID_PREFIX.exec(name)?.[1];
  // Neither a reference nor an ID: say why it is not a reference, as Docker does, not "no such image".
  if (familiar === null && prefix === undefined) familiarName(name);
  if (prefix !== undefined) {
    const matches = (await listImageIds(store)).filter((id) => digestHex(id).startsWith(prefix));
    if (matches.length === 1) return readImageRecord(store, matches[0]!);
    if (matches.length > 1) {
      throw new StrataError('EAMBIGUOUS', `image ID prefix ${name} matches ${matches.length} images; give more characters`, { path: name });
    }
  }
  throw new StrataError('ENOTFOUND', `No such image: ${name}`, { path: name });
}

function tryNormalize(name: string): string | null {
  try {
    return familiarName(name);
  } catch {
    return null;
  }
}
