import path from 'node:path';
import { digestHex } from '../content/digest.js';

/**
 * The only place that maps an object's identity to a path under the store root.
 * Everything else asks here, so the layout in DESIGN.md is written down once.
 */
export class StorePaths {
  constructor(readonly root: string) {}

  get storeFile(): string {
    return path.join(this.root, 'store.json');
  }
  get cacheDirTag(): string {
    return path.join(this.root, 'CACHEDIR.TAG');
  }

  get blobsDir(): string {
    return path.join(this.root, 'blobs', 'sha256');
  }
  blob(digest: string): string {
    return path.join(this.blobsDir, digestHex(digest));
  }

  get ingestDir(): string {
    return path.join(this.root, 'ingest');
  }
  /** What a pull has received of a blob so far, kept across runs so the next pull resumes (gc removes it when stale). */
  pullSpool(digest: string): string {
    return path.join(this.ingestDir, `pull-${digestHex(digest)}`);
  }

  get layersDir(): string {
    return path.join(this.root, 'layers');
  }
  layerDir(chainId: string): string {
    return path.join(this.layersDir, digestHex(chainId));
  }
  layerDiff(chainId: string): string {
    return layerParts(this.layerDir(chainId)).diff;
  }
  layerRecord(chainId: string): string {
    return layerParts(this.layerDir(chainId)).record;
  }
  layerFileDigests(chainId: string): string {
    return layerParts(this.layerDir(chainId)).fileDigests;
  }

  get imagesDir(): string {
    return path.join(this.root, 'images');
  }
  imageRecord(imageId: string): string {
    return path.join(this.imagesDir, `${digestHex(imageId)}.json`);
  }
  get tagsFile(): string {
    return path.join(this.root, 'tags.json');
  }

  get containersDir(): string {
    return path.join(this.root, 'containers');
  }
  containerDir(id: string): string {
    return path.join(this.containersDir, id);
  }
  container(id: string): ContainerParts {
    return containerParts(this.containerDir(id));
  }

  get volumesDir(): string {
    return path.join(this.root, 'volumes');
  }
  volumeDir(name: string): string {
    return path.join(this.volumesDir, name);
  }
  volume(name: string): VolumeParts {
    return volumeParts(this.volumeDir(name));
  }

  get leasesDir(): string {
    return path.join(this.root, 'leases');
  }

  /** Where interrupted operations can leave temp and trash entries (gc sweeps them, check reports them). */
  get leftoverDirs(): string[] {
    return [this.root, this.blobsDir, this.layersDir, this.imagesDir, this.containersDir, this.volumesDir];
  }

  get locksDir(): string {
    return path.join(this.root, 'locks');
  }
  lock(name: string): string {
    return path.join(this.locksDir, name);
  }
}

/*
 * What one layer, container or volume directory holds, wherever that directory is:
 * in its place, or in the temp directory it is built in before the rename that
 * commits it. Plain concatenation: fixed names below an already normalised
 * directory, asked for per container by df.
 */

export interface LayerParts {
  /** The unpacked tree: a LowerDir. */
  diff: string;
  /** layer.json: diffID, parent, blob, sizes, unapplied metadata. */
  record: string;
  /** files.sha256: per-file digests for check --deep. */
  fileDigests: string;
}

export function layerParts(dir: string): LayerParts {
  return { diff: `${dir}/diff`, record: `${dir}/layer.json`, fileDigests: `${dir}/files.sha256` };
}

export interface ContainerParts {
  upper: string;
  work: string;
  merged: string;
  /** Backing directories of --tmpfs mounts. */
  tmpfs: string;
  /** config.json: the container record. */
  config: string;
  /** usage.json: the cached size of upper/ (src/usage/usage-cache.ts). */
  usageCache: string;
  /** usage.token: rewritten by every change strata makes to upper/. */
  usageToken: string;
}

export function containerParts(dir: string): ContainerParts {
  return {
    upper: `${dir}/upper`,
    work: `${dir}/work`,
    merged: `${dir}/merged`,
    tmpfs: `${dir}/tmpfs`,
    config: `${dir}/config.json`,
    usageCache: `${dir}/usage.json`,
    usageToken: `${dir}/usage.token`,
  };
}

export interface VolumeParts {
  /** _data/: what containers see. */
  data: string;
  /** volume.json: the volume record. */
  record: string;
}

export function volumeParts(dir: string): VolumeParts {
  return { data: `${dir}/_data`, record: `${dir}/volume.json` };
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
