import type { Store } from '../store/root.js';
import { isStrataError } from '../errors.js';
import { diskUsage, type DiskUsage } from '../usage/df.js';
import { findContainer } from '../container/lookup.js';
import { containerDirs, type ContainerRecord } from '../container/record.js';
import { findImage } from '../image/lookup.js';
import { imageHistory } from '../image/inspect.js';
import { readImageRecord, type ImageRecord } from '../image/record.js';
import { foldSmallFiles, upperChanges } from './file-tree.js';
import { readDiff, stackDiffs, type DiffEntry } from './layer-stack.js';
import { layerFiles } from './layer-files.js';
import { storeTotals } from './store-totals.js';
import { LayerListings, measureWaste, type WasteTarget } from '../usage/waste.js';
import type { ReportContainer, ReportData, ReportImage, ReportLayer, ReportWaste } from './report-data.js';

/** Paths stored more than once that each waste table lists (the JSON of `du --waste` has them all). */
export const WASTE_PATHS_LISTED = 100;

export interface CollectOptions {
  /** Images and containers to show, by name or ID; none for the whole store. */
  names?: string[];
  onProgress?: (done: number, total: number) => void;
}

/**
 * Everything the report shows. The store-wide numbers come from `system df` (cached
 * container sizes); the trees and layer listings are walked for the images and
 * containers shown.
 */
export async function collectReport(store: Store, options: CollectOptions = {}): Promise<ReportData> {
  // Names are resolved first: a name that is neither fails before anything is measured or cached.
  const named = await selection(store, options.names ?? []);
  const usage = await diskUsage(store);
  const images = named?.images ?? usage.images.map((i) => i.image);
  const containers = named?.containers ?? usage.containers.map((c) => c.record);
  const total = images.length + containers.length;
  const wasteLayers = new LayerListings();
  // Each layer's diff is read once, however many images hold it.
  const diffs = new Map<string, Promise<DiffEntry[]>>();
  const diff = (chainId: string) => {
    let entries = diffs.get(chainId);
    if (entries === undefined) diffs.set(chainId, (entries = readDiff(store.paths.layerDiff(chainId), store.whiteoutFormat)));
    return entries;
  };
  let done = 0;
  const report: ReportData = {
    formatVersion: 1,
    totals: await storeTotals(store, usage),
    docker: usage.summary.map((r) => ({ Type: r.type, TotalCount: r.total, Active: r.active, Size: r.size, Reclaimable: r.reclaimable })),
    layers: {},
    images: [],
    containers: [],
    volumes: usage.volumes.map((v) => ({ name: v.name, links: v.links, size: v.size })),
    waste: [],
  };
  for (const image of images) {
    report.images.push(await reportImage(store, usage, image, await Promise.all(image.layers.map((l) => diff(l.chainId)))));
    report.waste.push(await reportWaste(store, { image }, wasteLayers));
    for (const l of image.layers) report.layers[l.chainId] ??= reportLayer(usage, l.chainId, l.diffId, l.size, await diff(l.chainId));
    options.onProgress?.(++done, total);
  }
  for (const record of containers) {
    report.containers.push(await reportContainer(store, usage, record));
    // A container's waste walks its upper once more: for the ones named, not for a whole store of them.
    if (named !== null)
      report.waste.push(await reportWaste(store, { image: images.find((i) => i.id === record.image)!, container: record }, wasteLayers));
    options.onProgress?.(++done, total);
  }
  foldSmallFiles([...report.images.map((i) => i.tree), ...report.containers.map((c) => c.upper.tree)]);
  return report;
}

/** The images and containers named (a container brings its image along), or null for all of them. */
async function selection(store: Store, names: string[]): Promise<{ images: ImageRecord[]; containers: ContainerRecord[] } | null> {
  if (names.length === 0) return null;
  const images = new Map<string, ImageRecord>();
  const containers = new Map<string, ContainerRecord>();
  for (const name of names) {
    const container = await findContainer(store, name).catch((err: unknown) => {
      if (isStrataError(err, 'ENOTFOUND')) return null;
      throw err;
    });
    if (container === null) {
      const image = await findImage(store, name);
      images.set(image.id, image);
      continue;
    }
    containers.set(container.id, container);
    if (!images.has(container.image)) images.set(container.image, await readImageRecord(store, container.image));
  }
  return { images: [...images.values()], containers: [...containers.values()] };
}

async function reportImage(store: Store, usage: DiskUsage, image: ImageRecord, diffs: DiffEntry[][]): Promise<ReportImage> {
  const row = usage.images.find((i) => i.image.id === image.id)!;
  // history lists build steps newest first; the ones that made a layer are the layers, in order.
  const steps = (await imageHistory(store, image)).filter((h) => h.layer !== null).reverse();
  const { tree, visible } = stackDiffs(diffs);
  return {
    id: image.id,
    tags: row.repoTags,
    size: row.size,
    sharedSize: row.sharedSize,
    uniqueSize: row.uniqueSize,
    containers: row.containers,
    layers: image.layers.map((l, i) => ({ chainId: l.chainId, createdBy: steps[i]?.createdBy ?? '', visible: visible[i]! })),
    tree,
  };
}

async function reportWaste(store: Store, target: WasteTarget, layerListings: LayerListings): Promise<ReportWaste> {
  const report = await measureWaste(store, target, { layerListings });
  const subject = target.container ? `container:${target.container.id}` : `image:${target.image.id}`;
  return { subject, report: { ...report, paths: report.paths.slice(0, WASTE_PATHS_LISTED) }, pathCount: report.paths.length };
}

function reportLayer(usage: DiskUsage, chainId: string, diffId: string, size: number, diff: DiffEntry[]): ReportLayer {
  const holders = usage.images.filter((i) => i.image.layers.some((l) => l.chainId === chainId)).map((i) => i.image.id);
  return { chainId, diffId, size, images: holders, ...layerFiles(diff) };
}

async function reportContainer(store: Store, usage: DiskUsage, record: ContainerRecord): Promise<ReportContainer> {
  const u = usage.containers.find((c) => c.record.id === record.id)!.usage;
  return {
    id: record.id,
    name: record.name,
    image: record.image,
    status: record.state.status,
    sizeRw: u.sizeRw,
    added: u.added,
    copiedUp: u.copiedUp,
    hidden: u.hidden,
    whiteouts: u.entries.whiteouts,
    upper: await upperChanges(containerDirs(store, record.id).upper, store.whiteoutFormat, record.layers.length),
  };
}
