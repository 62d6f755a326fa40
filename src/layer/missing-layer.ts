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

/**
 * A container's own layer (its upper dir), which create made and only rm removes.
 * Callers read the record without the container's lock, so a `strata rm` in another
 * process may take the whole container between that read and this check: with the
 * record gone too, that is the documented `No such container`, not damage.
 */
export async function assertUpperPresent(store: Store, containerId: string): Promise<void> {
  const { upper, config } = store.paths.container(containerId);
  if (await isDirectory(upper)) return;
  if (!(await exists(config))) throw new StrataError('ENOTFOUND', `No such container: ${containerId}`, { path: containerId });
  throw new StrataError(
    'ENOTFOUND',
    `container ${containerId}: its layer (upper directory) is missing from the store; run \`strata check\``,
    { path: upper },
  );
}

async function isDirectory(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isDirectory();
  } catch (err) {
    if (isFsError(err, 'ENOENT') || isFsError(err, 'ENOTDIR')) return false;
    throw err;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (err) {
    if (isFsError(err, 'ENOENT') || isFsError(err, 'ENOTDIR')) return false;
    throw err;
  }
}
