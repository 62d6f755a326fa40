import { isStrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { readImageRecord, writeImageRecord } from './record.js';

/**
 * Records that a registry holds image `id` as `repoDigest` (`NAME@sha256:…`), as Docker
 * does after a push: `images --digests` and `image inspect`'s RepoDigests then show it,
 * and a later push to another repository of that registry can mount from it. An image
 * removed meanwhile is left removed.
 */
export async function addRepoDigest(store: Store, id: string, repoDigest: string): Promise<void> {
  await withStoreLock(store, async () => {
    let record;
    try {
      record = await readImageRecord(store, id);
    } catch (err) {
      if (isStrataError(err, 'ENOTFOUND')) return;
      throw err;
    }
    if (record.repoDigests?.includes(repoDigest)) return;
    await writeImageRecord(store, { ...record, repoDigests: [...(record.repoDigests ?? []), repoDigest] });
  });
}
