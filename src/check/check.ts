import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import type { Store } from '../store/root.js';
import { isLeftoverName } from '../store/paths.js';
import { readJsonRecord } from '../store/records.js';
import { digestFromHex } from '../content/digest.js';
import { listImageIds, readImageRecord } from '../image/record.js';
import { readTags } from '../image/tags.js';
import type { LayerRecord } from '../layer/record.js';

/** One inconsistency, with the file it is about. */
export interface Problem {
  kind: 'blob-corrupt' | 'blob-missing' | 'layer-missing' | 'layer-record' | 'image-record' | 'tag-dangling' | 'leftover';
  path: string;
  message: string;
}

export interface CheckReport {
  problems: Problem[];
  checked: { blobs: number; layers: number; images: number; tags: number };
}

/**
 * `strata check`: reads everything and trusts nothing. Each step is a named function
 * that appends problems; none of them changes the store.
 */
export async function checkStore(store: Store): Promise<CheckReport> {
  const report: CheckReport = { problems: [], checked: { blobs: 0, layers: 0, images: 0, tags: 0 } };
  await checkBlobs(store, report);
  await checkLayers(store, report);
  await checkImages(store, report);
  await checkTags(store, report);
  await checkLeftovers(store, report);
  return report;
}

async function checkBlobs(store: Store, report: CheckReport): Promise<void> {
  for (const name of await readdirOrEmpty(store.paths.blobsDir)) {
    const file = path.join(store.paths.blobsDir, name);
    if (isLeftoverName(name)) continue;
    report.checked.blobs++;
    if (!/^[0-9a-f]{64}$/.test(name)) {
      report.problems.push({ kind: 'blob-corrupt', path: file, message: `${file}: not a sha256 blob name` });
      continue;
    }
    const hash = createHash('sha256');
    await pipeline(fs.createReadStream(file), hash);
    const found = hash.digest('hex');
    if (found !== name) {
      report.problems.push({ kind: 'blob-corrupt', path: file, message: `${file}: content does not match its digest (found sha256:${found})` });
    }
  }
}

async function checkLayers(store: Store, report: CheckReport): Promise<void> {
  for (const name of await readdirOrEmpty(store.paths.layersDir)) {
    if (isLeftoverName(name)) continue;
    report.checked.layers++;
    const dir = path.join(store.paths.layersDir, name);
    const recordFile = path.join(dir, 'layer.json');
    let record: LayerRecord | null;
    try {
      record = (await readJsonRecord(recordFile, { optional: true })) as LayerRecord | null;
    } catch (err) {
      report.problems.push({ kind: 'layer-record', path: recordFile, message: (err as Error).message });
      continue;
    }
    if (record === null) {
      report.problems.push({ kind: 'layer-record', path: dir, message: `${dir}: layer directory has no layer.json` });
      continue;
    }
    if (record.chainId !== digestFromHex(name)) {
      report.problems.push({ kind: 'layer-record', path: recordFile, message: `${recordFile}: records chainID ${record.chainId}, but lives under ${name}` });
    }
    const diff = await fsp.lstat(path.join(dir, 'diff')).catch(() => null);
    if (!diff?.isDirectory()) {
      report.problems.push({ kind: 'layer-missing', path: dir, message: `${dir}: layer has no diff directory` });
    }
  }
}

async function checkImages(store: Store, report: CheckReport): Promise<void> {
  for (const id of await listImageIds(store)) {
    report.checked.images++;
    let image;
    try {
      image = await readImageRecord(store, id);
    } catch (err) {
      report.problems.push({ kind: 'image-record', path: store.paths.imageRecord(id), message: (err as Error).message });
      continue;
    }
    const file = store.paths.imageRecord(id);
    const blobs = [image.configDigest, ...image.layers.map((l) => l.blobDigest)];
    if (image.manifestDigest) blobs.push(image.manifestDigest);
    for (const blob of blobs) {
      if (!(await exists(store.paths.blob(blob)))) {
        report.problems.push({ kind: 'blob-missing', path: file, message: `${file}: names blob ${blob}, which is missing` });
      }
    }
    for (const layer of image.layers) {
      if (!(await exists(store.paths.layerRecord(layer.chainId)))) {
        report.problems.push({ kind: 'layer-missing', path: file, message: `${file}: names layer ${layer.chainId}, which is missing` });
      }
    }
  }
}

async function checkTags(store: Store, report: CheckReport): Promise<void> {
  let tags;
  try {
    tags = await readTags(store);
  } catch (err) {
    report.problems.push({ kind: 'tag-dangling', path: store.paths.tagsFile, message: (err as Error).message });
    return;
  }
  for (const [ref, id] of Object.entries(tags)) {
    report.checked.tags++;
    if (!(await exists(store.paths.imageRecord(id)))) {
      report.problems.push({ kind: 'tag-dangling', path: store.paths.tagsFile, message: `${store.paths.tagsFile}: tag ${ref} names image ${id}, which is missing` });
    }
  }
}

/** Temp and trash entries mean an operation was interrupted; gc finishes them off. */
async function checkLeftovers(store: Store, report: CheckReport): Promise<void> {
  const dirs = [store.paths.root, store.paths.blobsDir, store.paths.layersDir, store.paths.imagesDir, store.paths.containersDir, store.paths.volumesDir];
  for (const dir of dirs) {
    for (const name of await readdirOrEmpty(dir)) {
      if (isLeftoverName(name)) {
        const file = path.join(dir, name);
        report.problems.push({ kind: 'leftover', path: file, message: `${file}: leftover of an interrupted operation` });
      }
    }
  }
  for (const name of await readdirOrEmpty(store.paths.ingestDir)) {
    const file = path.join(store.paths.ingestDir, name);
    report.problems.push({ kind: 'leftover', path: file, message: `${file}: leftover of an interrupted operation` });
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  return fsp.readdir(dir).catch(() => [] as string[]);
}

async function exists(file: string): Promise<boolean> {
  return fsp.access(file).then(() => true, () => false);
}
