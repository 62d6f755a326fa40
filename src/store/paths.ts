import path from 'node:path';
import { digestHex } from '../content/digest.js';

/**
 * The only place that maps an object's identity to a path under the store root.
 * Everything else asks here, so the layout in DESIGN.md is written down once.
 */
export class StorePaths {
  constructor(readonly root: string) {}

  get storeFile(): string { return path.join(this.root, 'store.json'); }
  get cacheDirTag(): string { return path.join(this.root, 'CACHEDIR.TAG'); }

  get blobsDir(): string { return path.join(this.root, 'blobs', 'sha256'); }
  blob(digest: string): string { return path.join(this.blobsDir, digestHex(digest)); }

  get ingestDir(): string { return path.join(this.root, 'ingest'); }

  get layersDir(): string { return path.join(this.root, 'layers'); }
  layerDir(chainId: string): string { return path.join(this.layersDir, digestHex(chainId)); }
  layerDiff(chainId: string): string { return path.join(this.layerDir(chainId), 'diff'); }
  layerRecord(chainId: string): string { return path.join(this.layerDir(chainId), 'layer.json'); }

  get imagesDir(): string { return path.join(this.root, 'images'); }
  imageRecord(imageId: string): string { return path.join(this.imagesDir, `${digestHex(imageId)}.json`); }
  get tagsFile(): string { return path.join(this.root, 'tags.json'); }

  get containersDir(): string { return path.join(this.root, 'containers'); }
  containerDir(id: string): string { return path.join(this.containersDir, id); }

  get volumesDir(): string { return path.join(this.root, 'volumes'); }
  volumeDir(name: string): string { return path.join(this.volumesDir, name); }

  get leasesDir(): string { return path.join(this.root, 'leases'); }
}

/**
 * Names of in-flight and half-removed entries. Anything with these prefixes is a
 * leftover that gc removes and check reports; nothing live ever carries them.
 */
export const TEMP_PREFIX = '.tmp-';
export const TRASH_PREFIX = '.rm-';

export function isLeftoverName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) || name.startsWith(TRASH_PREFIX);
}
