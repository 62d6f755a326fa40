import type { ImageRecord } from '../image/record.js';
import type { ContainerRecord } from '../container/record.js';

/** One image's row of `system df -v`, by Docker's definitions (reference/docker-sizes.md). */
export interface ImageUsage {
  image: ImageRecord;
  /** Σ of its layers' sizes. */
  size: number;
  /** Σ of its layers that at least one other image also has (by chainID). */
  sharedSize: number;
  /** size − sharedSize, as docker/cli computes it. */
  uniqueSize: number;
  /** Containers of any state created from it. */
  containers: number;
}

/**
 * Docker's image sizes, from the layer sizes cached in the image records: nothing is
 * walked. A layer shared by two images counts fully in both images' SHARED SIZE.
 */
export function imageUsage(images: ImageRecord[], containers: ContainerRecord[]): ImageUsage[] {
  const refs = new Map<string, number>();
  for (const image of images) {
    for (const chainId of new Set(image.layers.map((l) => l.chainId))) refs.set(chainId, (refs.get(chainId) ?? 0) + 1);
  }
  return images.map((image) => {
    const size = image.layers.reduce((sum, l) => sum + l.size, 0);
    const sharedSize = image.layers.reduce((sum, l) => sum + ((refs.get(l.chainId) ?? 0) > 1 ? l.size : 0), 0);
    return { image, size, sharedSize, uniqueSize: size - sharedSize, containers: containers.filter((c) => c.image === image.id).length };
  });
}

/** Σ of every distinct layer's size: the bytes the store really holds for all images (Docker's LayersSize). */
export function layersSize(images: ImageRecord[]): number {
  const sizes = new Map<string, number>();
  for (const image of images) for (const l of image.layers) sizes.set(l.chainId, l.size);
  return [...sizes.values()].reduce((a, b) => a + b, 0);
}
