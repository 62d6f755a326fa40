import path from 'node:path';
import type { Store } from '../store/root.js';
import { isLeftoverName } from '../store/paths.js';
import { isStrataError } from '../errors.js';
import { digestFromHex, isDigest } from '../content/digest.js';
import { readLayerRecord } from '../layer/unpack.js';
import type { TreeSize } from '../layer/size.js';
import { chainIds } from '../layer/chain-id.js';
import { listImageIds, readImageRecord, type ImageRecord } from '../image/record.js';
import { readTags, tagsOf } from '../image/tags.js';
import { containerDirs, readContainerRecord } from '../container/record.js';
import { readVolume } from '../volume/volume.js';
import { problem, type CheckReport } from './problem.js';
import { exists, isDirectory } from './scan.js';
import { listStoreDir } from '../store/record-dir.js';
import { containerScratch } from './leftovers.js';

/** The names of the containers that stand on each layer and were made from each image. */
interface ContainerUses {
  layers: Map<string, string[]>;
  images: Map<string, string[]>;
}

/** Who depends on what, from every container record that can be read (checkContainers reports the rest). */
async function containerUses(store: Store): Promise<ContainerUses> {
  const uses: ContainerUses = { layers: new Map(), images: new Map() };
  const add = (map: Map<string, string[]>, key: string, name: string) => map.set(key, [...(map.get(key) ?? []), name]);
  for (const name of await listStoreDir(store.paths.containersDir)) {
    if (isLeftoverName(name)) continue;
    const record = await readContainerRecord(store, name).catch(() => null);
    if (record === null) continue;
    for (const chainId of record.layers) add(uses.layers, chainId, record.name);
    add(uses.images, record.image, record.name);
  }
  return uses;
}

/** `container web stands`, `containers a, b stand`: who depends on something, and the verb to go with them. */
const usedBy = (names: string[], verb: 'stand' | 'use') =>
  `container${names.length === 1 ? '' : 's'} ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''} ${verb}${names.length === 1 ? 's' : ''}`;

/**
 * Every layer directory has a layer.json for its own chainID, a diff/, and the size the
 * tree has. A broken layer nothing else needs is removed by repair; one a container
 * stands on is only reported: its files may still be what the container reads.
 */
export async function checkLayers(store: Store, report: CheckReport, measured: Map<string, TreeSize>): Promise<void> {
  const uses = await containerUses(store);
  for (const name of await listStoreDir(store.paths.layersDir)) {
    if (isLeftoverName(name)) continue;
    report.checked.layers++;
    const dir = path.join(store.paths.layersDir, name);
    const users = /^[0-9a-f]{64}$/.test(name) ? uses.layers.get(digestFromHex(name)) : undefined;
    const broken = (why: string) =>
      users
        ? problem(report, 'layer-record', dir, `${dir}: ${why}; ${usedBy(users, 'stand')} on it, so it is kept: load its image again`)
        : problem(report, 'layer-record', dir, `${dir}: ${why}`, { action: 'remove', path: dir, says: `removed layer ${dir} (${why})` });
    if (!/^[0-9a-f]{64}$/.test(name)) {
      broken('not a chainID-named layer directory');
      continue;
    }
    const chainId = digestFromHex(name);
    let record;
    try {
      record = await readLayerRecord(store, chainId);
    } catch (err) {
      if (isStrataError(err, 'ENOTFOUND')) broken('layer directory has no layer.json');
      else if (isStrataError(err, 'EBADRECORD')) broken(`unreadable layer.json (${err.message})`);
      else throw err;
      continue;
    }
    if (!(await isDirectory(store.paths.layerDiff(chainId)))) {
      broken('layer has no diff directory');
      continue;
    }
    const tree = measured.get(chainId);
    if (tree !== undefined && tree.size !== record.size) {
      const file = store.paths.layerRecord(chainId);
      problem(report, 'layer-size', file, `${file}: records ${record.size} bytes, but the layer tree holds ${tree.size}`, {
        action: 'layer-size',
        chainId,
        ...tree,
        says: `recomputed the size of layer ${chainId}: ${record.size} -> ${tree.size} bytes`,
      });
    }
  }
}

/**
 * An image record is whole: its chain matches its diffIDs, and every blob and layer it
 * names is there. Repair never drops an image a container was made from. A missing
 * blob of an image whose layers are intact is only marked (missingBlobs): the image
 * stays usable, and loading or pulling it again restores the blob.
 */
export async function checkImages(store: Store, report: CheckReport): Promise<void> {
  const uses = await containerUses(store);
  const tags = await readTags(store).catch(() => ({}) as Record<string, string>);
  for (const id of await listImageIds(store)) {
    report.checked.images++;
    const file = store.paths.imageRecord(id);
    const users = uses.images.get(id);
    const name = tagsOf(tags, id)[0] ?? id;
    const drop = (kind: 'image-record' | 'blob-missing' | 'layer-missing', why: string) =>
      users
        ? problem(report, kind, file, `${file}: ${why}; ${usedBy(users, 'use')} this image, so it is kept: load ${name} again`)
        : problem(report, kind, file, `${file}: ${why}`, { action: 'drop-image', id, says: `dropped image ${id} (${why})` });
    let image: ImageRecord;
    try {
      image = await readImageRecord(store, id);
    } catch (err) {
      if (isStrataError(err, 'ENOTFOUND')) continue; // removed meanwhile
      drop('image-record', `unreadable image record (${(err as Error).message})`);
      continue;
    }
    const malformed = malformedImage(image, id);
    if (malformed) {
      drop('image-record', malformed);
      continue;
    }
    const missingLayer = await firstMissing(
      image.layers.map((l) => l.chainId),
      (c) => store.paths.layerRecord(c),
    );
    if (missingLayer) {
      drop('layer-missing', `names layer ${missingLayer}, which is missing`);
      continue;
    }
    const blobs = [image.configDigest, ...image.layers.map((l) => l.blobDigest)];
    if (image.manifestDigest) blobs.push(image.manifestDigest);
    const missing = await allMissing(blobs, (b) => store.paths.blob(b));
    const unmarked = missing.filter((b) => !image.missingBlobs?.includes(b));
    if (unmarked.length > 0) {
      const restore = `the unpacked layers are intact, so the image stays usable; load or pull ${name} again to restore ${unmarked.length === 1 ? 'it' : 'them'}`;
      problem(report, 'blob-missing', file, `${file}: names blob ${unmarked.join(', ')}, which is missing; ${restore}`, {
        action: 'mark-blobs-missing',
        id,
        digests: unmarked,
        says: `marked blob ${unmarked.join(', ')} of image ${name} missing (${restore})`,
      });
    }
    const marked = missing.filter((b) => image.missingBlobs?.includes(b));
    if (marked.length > 0)
      report.notes.push(`image ${name} lacks blob ${marked.join(', ')} (removed as corrupt); load or pull it again to restore it`);
    await checkImageSizes(store, report, image, file);
  }
}

function malformedImage(image: ImageRecord, id: string): string | null {
  if (image.id !== id || image.configDigest !== id) return `record is for ${String(image.id)}, not ${id}`;
  if (image.manifestDigest !== null && !isDigest(image.manifestDigest)) return 'invalid manifest digest';
  for (const layer of image.layers) {
    if (!isDigest(layer?.chainId) || !isDigest(layer.diffId) || !isDigest(layer.blobDigest) || typeof layer.size !== 'number') {
      return 'a layer entry is not a layer';
    }
  }
  const chain = chainIds(image.layers.map((l) => l.diffId));
  if (chain.some((c, i) => c !== image.layers[i]!.chainId)) return 'layer chainIDs do not follow from the diffIDs';
  return null;
}

async function checkImageSizes(store: Store, report: CheckReport, image: ImageRecord, file: string): Promise<void> {
  let total = 0;
  for (const layer of image.layers) {
    const record = await readLayerRecord(store, layer.chainId).catch(() => null);
    if (record === null) return; // reported with the layer
    if (record.size !== layer.size) {
      problem(report, 'image-size', file, `${file}: layer ${layer.chainId} is ${record.size} bytes, the image record says ${layer.size}`, {
        action: 'image-size',
        id: image.id,
        says: `recomputed the layer sizes in image record ${image.id}`,
      });
      return;
    }
    total += record.size;
  }
  if (total !== image.size) {
    problem(report, 'image-size', file, `${file}: records ${image.size} bytes, its layers add up to ${total}`, {
      action: 'image-size',
      id: image.id,
      says: `recomputed the layer sizes in image record ${image.id}`,
    });
  }
}

export async function checkTags(store: Store, report: CheckReport): Promise<void> {
  const file = store.paths.tagsFile;
  let tags;
  try {
    tags = await readTags(store);
  } catch (err) {
    problem(report, 'tags-record', file, (err as Error).message);
    return;
  }
  for (const [ref, id] of Object.entries(tags)) {
    report.checked.tags++;
    if (!(await exists(store.paths.imageRecord(id)))) {
      problem(report, 'tag-dangling', file, `${file}: tag ${ref} names image ${id}, which is missing`, {
        action: 'drop-tag',
        ref,
        says: `dropped tag ${ref} (image ${id} is missing)`,
      });
    }
  }
}

/**
 * Containers are reported, never repaired: their upper dir is the user's data. Only
 * scratch in work/ (overlayfs' private space) is a leftover repair may remove.
 */
export async function checkContainers(store: Store, report: CheckReport): Promise<void> {
  for (const name of await listStoreDir(store.paths.containersDir)) {
    if (isLeftoverName(name)) continue;
    report.checked.containers++;
    const dir = store.paths.containerDir(name);
    let record;
    try {
      record = await readContainerRecord(store, name);
    } catch (err) {
      if (!isStrataError(err)) throw err;
      const why = isStrataError(err, 'ENOTFOUND') ? 'container directory has no config.json' : (err as Error).message;
      problem(report, 'container-record', dir, `${dir}: ${why}; its upper dir is kept, fix or remove the container by hand`);
      continue;
    }
    if (record.id !== name) {
      problem(report, 'container-record', dir, `${dir}: config.json is for container ${record.id}`);
      continue;
    }
    const gone = [];
    for (const chainId of record.layers) {
      if (!isDigest(chainId) || !(await exists(store.paths.layerRecord(chainId))) || !(await isDirectory(store.paths.layerDiff(chainId))))
        gone.push(chainId);
    }
    if (gone.length > 0) {
      problem(
        report,
        'container-layers',
        dir,
        `${dir}: container ${record.name} stands on ${gone.length} layer(s) that are gone (${gone[0]}${gone.length > 1 ? ', …' : ''}); load its image ${record.imageRef} again`,
      );
    }
    if (!(await exists(store.paths.imageRecord(record.image)))) {
      problem(
        report,
        'container-image',
        dir,
        `${dir}: container ${record.name} was made from image ${record.image}, whose record is gone (du, inspect and commit need it); load ${record.imageRef} again`,
      );
    }
    await containerScratch(store, report, record.id, containerDirs(store, record.id).work);
  }
}

export async function checkVolumes(store: Store, report: CheckReport): Promise<void> {
  for (const name of await listStoreDir(store.paths.volumesDir)) {
    if (isLeftoverName(name)) continue;
    report.checked.volumes++;
    try {
      await readVolume(store, name);
    } catch (err) {
      if (!isStrataError(err)) throw err;
      const dir = store.paths.volumeDir(name);
      const why = isStrataError(err, 'ENOTFOUND') ? 'volume directory has no readable volume.json' : (err as Error).message;
      problem(report, 'volume-record', dir, `${dir}: ${why}; its data is kept, fix it by hand`);
    }
  }
}

async function firstMissing(names: string[], where: (name: string) => string): Promise<string | null> {
  for (const name of names) if (!(await exists(where(name)))) return name;
  return null;
}

async function allMissing(names: string[], where: (name: string) => string): Promise<string[]> {
  const missing = [];
  for (const name of new Set(names)) if (!(await exists(where(name)))) missing.push(name);
  return missing;
}
