import type { Store } from '../store/root.js';
import { readLayerRecord } from '../layer/unpack.js';
import { assertLayerFilesPresent } from '../layer/missing-layer.js';
import { Resolver } from '../resolver/resolver.js';
import type { ResolverOptions } from '../resolver/options.js';

/**
 * The read-only layers under a chain of chainIDs (bottom first), as resolver options:
 * diff dirs top-first, with what a rootless unpack recorded about each.
 */
export async function layerStackOptions(
  store: Store,
  chain: string[],
): Promise<Pick<ResolverOptions, 'lowerDirs' | 'lowerMetadata' | 'format' | 'rootless' | 'privileged'>> {
  const topFirst = [...chain].reverse();
  const records = await Promise.all(topFirst.map((chainId) => readLayerRecord(store, chainId)));
  await assertLayerFilesPresent(store, topFirst);
  return {
    lowerDirs: topFirst.map((chainId) => store.paths.layerDiff(chainId)),
    lowerMetadata: records.map((r) => r.unapplied),
    format: store.whiteoutFormat,
    rootless: store.info.rootless,
    privileged: store.privileged,
  };
}

/** What a container started from this image would see before it changes anything. */
export async function imageView(store: Store, chain: string[]): Promise<Resolver> {
  return new Resolver({ ...(await layerStackOptions(store, chain)), readOnly: true });
}
