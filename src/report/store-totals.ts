import fs from 'node:fs';
import path from 'node:path';
import { Yielder } from '../event-loop.js';
import type { Store } from '../store/root.js';
import { isLeftoverName, layerParts } from '../store/paths.js';
import { hostInode, measureTree, SizeTally } from '../layer/size.js';
import { digestHex } from '../content/digest.js';
import type { DiskUsage } from '../usage/df.js';
import type { StoreTotals } from './report-data.js';

/**
 * The store's bytes split into parts that add up: layers (shared or not) from the
 * sizes the image records cache, containers and volumes from `system df`, and the rest
 * measured here. Nothing large is walked again: the layer diffs, upper dirs and
 * volume data are skipped, so the cost is the blobs and the records.
 */
export async function storeTotals(store: Store, usage: DiskUsage): Promise<StoreTotals> {
  const holders = new Map<string, number>();
  const sizes = new Map<string, number>();
  for (const { image } of usage.images)
    for (const chainId of new Set(image.layers.map((l) => l.chainId))) holders.set(chainId, (holders.get(chainId) ?? 0) + 1);
  for (const { image } of usage.images) for (const l of image.layers) sizes.set(l.chainId, l.size);
  let sharedLayers = 0;
  let uniqueLayers = 0;
  for (const [chainId, size] of sizes) {
    if (holders.get(chainId)! > 1) sharedLayers += size;
    else uniqueLayers += size;
  }

  const paths = store.paths;
  const skip = new Set<string>();
  let leftovers = 0;
  for (const dir of [...new Set(paths.leftoverDirs)]) {
    for (const name of listOrEmpty(dir).filter(isLeftoverName)) {
      leftovers += await sizeOf(path.join(dir, name));
      skip.add(path.join(dir, name));
    }
  }
  // Layers no image names: what an interrupted rmi or load left, measured as they are.
  const named = new Set([...sizes.keys()].map(digestHex));
  for (const hex of listOrEmpty(paths.layersDir)) {
    const dir = path.join(paths.layersDir, hex);
    if (isLeftoverName(hex)) continue;
    if (named.has(hex)) skip.add(layerParts(dir).diff);
    else {
      leftovers += await sizeOf(dir);
      skip.add(dir);
    }
  }
  leftovers += await sizeOf(paths.ingestDir);
  skip.add(paths.ingestDir);

  const blobs = await sizeOf(paths.blobsDir, skip);
  skip.add(paths.blobsDir);
  for (const { record } of usage.containers) skip.add(paths.container(record.id).upper);
  for (const v of usage.volumes) skip.add(paths.volume(v.name).data);
  const metadata = await sizeOf(paths.root, skip);

  const containersNew = usage.containers.reduce((sum, c) => sum + c.usage.added, 0);
  const containersCopiedUp = usage.containers.reduce((sum, c) => sum + c.usage.copiedUp, 0);
  const volumes = usage.volumes.reduce((sum, v) => sum + v.size, 0);
  return {
    sharedLayers,
    uniqueLayers,
    containersNew,
    containersCopiedUp,
    volumes,
    blobs,
    leftovers,
    metadata,
    total: sharedLayers + uniqueLayers + containersNew + containersCopiedUp + volumes + blobs + leftovers + metadata,
  };
}

/** Docker's size rule over a file or a tree, leaving out the paths in `skip`; 0 when it is not there. */
async function sizeOf(target: string, skip = new Set<string>()): Promise<number> {
  const st = fs.lstatSync(target, { throwIfNoEntry: false });
  if (st === undefined) return 0;
  if (!st.isDirectory()) return st.size;
  if (skip.size === 0) return (await measureTree(target)).size;
  const tally = new SizeTally();
  const yielder = new Yielder();
  const pending = [target];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      await yielder.maybe();
      const full = `${dir}/${entry.name}`;
      if (skip.has(full)) continue;
      if (entry.isDirectory()) pending.push(full);
      else tally.count(fs.lstatSync(full), () => hostInode(full));
    }
  }
  return tally.size;
}

function listOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
