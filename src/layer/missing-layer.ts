import fs from 'node:fs/promises';
import { StrataError, isFsError } from '../errors.js';
import type { Store } from '../store/root.js';

/**
 * A layer that a record names but the store no longer holds is damage, not a user
 * mistake: the error says which layer, and where to look next. Without this, the
 * first thing to notice is a lookup in the merged view — `/: No such file or
 * directory` about a root that plainly exists.
 */
export function missingLayerError(chainId: string, what: string): StrataError {
  return new StrataError('ENOTFOUND', `layer ${chainId} is missing from the store (${what}); run \`strata check\``, { path: chainId });
}

/** Every layer of a chain still has its files (diff/), checked before a view is built on them. */
export async function assertLayerFilesPresent(store: Store, chain: readonly string[]): Promise<void> {
  await Promise.all(
    chain.map(async (chainId) => {
      const diff = store.paths.layerDiff(chainId);
      try {
        if (!(await fs.stat(diff)).isDirectory()) throw missingLayerError(chainId, 'its diff is not a directory');
      } catch (err) {
        if (isFsError(err, 'ENOENT') || isFsError(err, 'ENOTDIR')) throw missingLayerError(chainId, 'no diff directory');
        throw err;
      }
    }),
  );
}

/** A container's own layer (its upper dir), which create made and only rm removes. */
export async function assertUpperPresent(containerId: string, upperDir: string): Promise<void> {
  try {
    if ((await fs.stat(upperDir)).isDirectory()) return;
  } catch (err) {
    if (!isFsError(err, 'ENOENT') && !isFsError(err, 'ENOTDIR')) throw err;
  }
  throw new StrataError(
    'ENOTFOUND',
    `container ${containerId}: its layer (upper directory) is missing from the store; run \`strata check\``,
    { path: upperDir },
  );
}
