import type { Store } from '../store/root.js';
import { imageView } from '../image/view.js';
import { containerView } from '../container/view.js';
import type { ContainerRecord } from '../container/record.js';
import type { ImageRecord } from '../image/record.js';
import type { Resolver } from '../resolver/resolver.js';
import { containerUsage, type ContainerUsage } from './container-usage.js';
import { SizeTally, viewInode } from '../layer/size.js';

export interface LayerBreakdown {
  chainId: string;
  diffId: string;
  size: number;
  /** Bytes of this layer that the top of the stack still shows. */
  visible: number;
  /** size − visible: stored, but replaced or deleted by a layer above (dive's "wasted space"). */
  hidden: number;
}

export interface UsageBreakdown {
  layers: LayerBreakdown[];
  /** Present for a container: its upper dir split into new, copied-up and whiteout entries. */
  upper?: ContainerUsage;
}

/** `du IMAGE|CONTAINER`: per layer, what is still visible at the top and what is dead weight. */
export async function imageBreakdown(store: Store, image: ImageRecord): Promise<UsageBreakdown> {
  return {
    layers: await attribute(
      image,
      await imageView(
        store,
        image.layers.map((l) => l.chainId),
      ),
    ),
  };
}

export async function containerBreakdown(store: Store, record: ContainerRecord, image: ImageRecord): Promise<UsageBreakdown> {
  const view = await containerView(store, record);
  return { layers: await attribute(image, view), upper: await containerUsage(store, record) };
}

/**
 * Walks the merged view once and credits every visible non-directory to the layer
 * that serves it (hardlinked inodes once), so what a layer stores but nobody sees
 * falls out as the difference.
 */
async function attribute(image: ImageRecord, view: Resolver): Promise<LayerBreakdown[]> {
  const topFirst = [...image.layers].reverse();
  const visible = new Map<number, number>();
  const tally = new SizeTally();
  for await (const { stats } of view.walk('/')) {
    if (stats.type === 'dir' || typeof stats.layer !== 'number') continue;
    if (tally.count(stats, () => viewInode(stats))) visible.set(stats.layer, (visible.get(stats.layer) ?? 0) + stats.size);
  }
  return topFirst
    .map((layer, index) => {
      const shown = visible.get(index) ?? 0;
      return { chainId: layer.chainId, diffId: layer.diffId, size: layer.size, visible: shown, hidden: Math.max(0, layer.size - shown) };
    })
    .reverse();
}
