import fs from 'node:fs/promises';
import path from 'node:path';
import { isStrataError } from '../errors.js';
import { digestHex } from '../content/digest.js';
import { tempName } from '../store/atomic.js';
import { withNamedLock } from '../store/lock.js';
import type { Store } from '../store/root.js';
import { discardStagedLayer, type StagedLayer } from '../layer/stage.js';

/**
 * A blob's resume spool (ingest/pull-<hex>) is the blob's one copy on disk: the
 * download appends to it and the import stage hashes the same bytes, so the verified
 * spool is what the commit renames into blobs/. Another writer appending to it meanwhile
 * would change a file already verified, so one pull at a time holds it, under the lock
 * `pull-<hex>` (taken over from a pull that died, as every lock is). A pull of this
 * process waits for the one before; another process's pull holding it is not waited
 * for: `work` then gets no spool and downloads on its own, without resume.
 */
export async function withPullSpool<T>(store: Store, digest: string, work: (spool: string | undefined) => Promise<T>): Promise<T> {
  let held = false;
  try {
    return await withNamedLock(
      store,
      `pull-${digestHex(digest)}`,
      () => {
        held = true;
        return work(store.paths.pullSpool(digest));
      },
      { timeoutMs: 0 },
    );
  } catch (err) {
    if (held || !isStrataError(err, 'ELOCKED')) throw err;
    return work(undefined);
  }
}

/**
 * A layer staged from its spool, with the spool moved to a temp name of its own: done
 * before the lock is let go, so the next holder finds no spool rather than one about to
 * be renamed into blobs/ under it. What the commit then renames is this pull's alone.
 */
export async function takeStagedSpool(store: Store, staged: StagedLayer): Promise<StagedLayer> {
  const own = path.join(store.paths.ingestDir, tempName());
  try {
    await fs.rename(staged.blob.tempPath, own);
  } catch (err) {
    await discardStagedLayer(staged);
    throw err;
  }
  return { ...staged, blob: { ...staged.blob, tempPath: own } };
}
