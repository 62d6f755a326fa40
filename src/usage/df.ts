import type { Store } from '../store/root.js';
import { listImageRecords } from '../image/record.js';
import { readTags, tagsOf } from '../image/tags.js';
import { listContainerRecords, type ContainerRecord } from '../container/record.js';
import { listVolumes, volumeDataDir } from '../volume/volume.js';
import { volumeUsers } from '../container/volume-use.js';
import { measureTree } from '../layer/size.js';
import { imageUsage, layersSize, type ImageUsage } from './image-usage.js';
import type { ContainerUsage } from './container-usage.js';
import { UsageMeter } from './usage-meter.js';

export interface ContainerDf {
  record: ContainerRecord;
  usage: ContainerUsage;
  imageSize: number;
}
export interface VolumeDf {
  name: string;
  links: number;
  size: number;
}
export interface SummaryRow {
  type: string;
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

/** `system df`: Docker's three sections and summary, plus what Docker does not say. */
export interface DiskUsage {
  images: (ImageUsage & { repoTags: string[] })[];
  containers: ContainerDf[];
  volumes: VolumeDf[];
  summary: SummaryRow[];
  /** Σ of every distinct layer: the image bytes really on disk (Docker's LayersSize). */
  layersSize: number;
  /** Σ image sizes − layersSize: bytes stored once instead of once per image. */
  savedBySharing: number;
  /** Σ over containers of bytes copy-up duplicated from lower layers. */
  copiedUp: number;
  /** Σ over containers of image bytes their whiteouts and overwrites hide. */
  hidden: number;
  /**
   * Bytes of the distinct layers that no image in use by a container holds: what
   * removing every unused image and running gc would really free. Docker's RECLAIMABLE
   * (the summary row) is LayersSize − Σ unique sizes of used images instead, which
   * also counts layers that used images share with each other.
   */
  unusedLayersSize: number;
}

export interface DiskUsageOptions {
  onProgress?: (done: number, total: number) => void;
  /** Walk every container's upper dir instead of trusting its cached usage (`system df --no-cache`). */
  noCache?: boolean;
}

export async function diskUsage(store: Store, options: DiskUsageOptions = {}): Promise<DiskUsage> {
  const [records, tags, containerRecords, volumeRecords] = await Promise.all([
    listImageRecords(store),
    readTags(store),
    listContainerRecords(store),
    listVolumes(store),
  ]);
  const users = await volumeUsers(store, containerRecords);
  const images = imageUsage(records, containerRecords).map((u) => ({ ...u, repoTags: tagsOf(tags, u.image.id) }));
  const imageSizes = new Map(images.map((u) => [u.image.id, u.size]));
  const total = containerRecords.length + volumeRecords.length;
  let done = 0;
  // Cached usage where still valid; containers of one layer chain share one index of the image.
  const meter = new UsageMeter(store, { noCache: options.noCache });
  const usages = await meter.all(containerRecords, () => options.onProgress?.(++done, total));
  const containers: ContainerDf[] = containerRecords.map((record, i) => ({
    record,
    usage: usages[i]!,
    imageSize: imageSizes.get(record.image) ?? 0,
  }));
  const volumes: VolumeDf[] = [];
  for (const v of volumeRecords) {
    volumes.push({ name: v.name, links: (users.get(v.name) ?? []).length, size: (await measureTree(volumeDataDir(store, v.name))).size });
    options.onProgress?.(++done, total);
  }
  const stored = layersSize(records);
  return {
    images,
    containers,
    volumes,
    summary: summarize(images, containers, volumes, stored),
    layersSize: stored,
    savedBySharing: images.reduce((sum, i) => sum + i.size, 0) - stored,
    copiedUp: containers.reduce((sum, c) => sum + c.usage.copiedUp, 0),
    hidden: containers.reduce((sum, c) => sum + c.usage.hidden, 0),
    unusedLayersSize: stored - layersSize(images.filter((i) => i.containers > 0).map((i) => i.image)),
  };
}

/**
 * Docker's summary table. Images RECLAIMABLE is docker/cli's formula: all layer bytes
 * minus the unique bytes of every image a container uses (DiskUsage.unusedLayersSize
 * is what could really be freed).
 */
function summarize(images: ImageUsage[], containers: ContainerDf[], volumes: VolumeDf[], stored: number): SummaryRow[] {
  const running = (c: ContainerDf) => c.record.state.status === 'running';
  return [
    {
      type: 'Images',
      total: images.length,
      active: images.filter((i) => i.containers > 0).length,
      size: stored,
      reclaimable: stored - images.filter((i) => i.containers > 0).reduce((sum, i) => sum + i.uniqueSize, 0),
    },
    {
      type: 'Containers',
      total: containers.length,
      active: containers.filter(running).length,
      size: containers.reduce((sum, c) => sum + c.usage.sizeRw, 0),
      reclaimable: containers.filter((c) => !running(c)).reduce((sum, c) => sum + c.usage.sizeRw, 0),
    },
    {
      type: 'Local Volumes',
      total: volumes.length,
      active: volumes.filter((v) => v.links > 0).length,
      size: volumes.reduce((sum, v) => sum + v.size, 0),
      reclaimable: volumes.filter((v) => v.links === 0).reduce((sum, v) => sum + v.size, 0),
    },
    { type: 'Build Cache', total: 0, active: 0, size: 0, reclaimable: 0 },
  ];
}
