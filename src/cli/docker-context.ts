import type { ContainerRecord } from '../container/record.js';
import type { ImageRecord } from '../image/record.js';
import type { Store } from '../store/root.js';
import { containerStatus, ellipsis, humanSize, since } from './format.js';
import { GO_TYPE } from './template.js';

/**
 * The objects `--format` templates see for the listings docker also has: the fields of
 * docker/cli's formatter contexts, with its text values (human sizes, short IDs, Go's
 * time format), so `{{json .}}` prints what Docker prints. Scripts that want integer
 * bytes and full IDs use `--format json`.
 */

/** Go's time.Time.String() of a Unix time, in UTC: `2026-11-23 05:31:37 +0000 UTC`. */
export function dockerTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const text = new Date(Math.floor(ms / 1000) * 1000).toISOString();
  return `${text.slice(0, 10)} ${text.slice(11, 19)} +0000 UTC`;
}

/** Go's strconv.Quote for the text docker shows (`"sleep 1000"`). */
export function goQuote(text: string): string {
  return JSON.stringify(text)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** docker/cli's Labels field: `k=v` pairs joined by commas (sorted here; Go's map order is random). */
export function labelsText(labels: Record<string, string> | null | undefined): string {
  return Object.entries(labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** docker/cli marshals its contexts as maps: keys in sorted order. `type` names the context in template errors. */
function sorted(type: string, fields: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(
    Object.fromEntries(
      Object.keys(fields)
        .sort()
        .map((k) => [k, fields[k]]),
    ),
    { [GO_TYPE]: type },
  );
}

export interface ContainerContextOptions {
  trunc: boolean;
  /** Absent when sizes were not measured: docker prints 0B then. */
  sizeRw?: number;
  /** The image size under the container; 0 (as in `system df -v`) prints no "(virtual …)". */
  sizeRootFs?: number;
  labels?: Record<string, string>;
}

/** docker/cli's ContainerContext (ps, system df -v). */
export function containerContext(c: ContainerRecord, o: ContainerContextOptions): Record<string, unknown> {
  const command = c.command.join(' ');
  const sizeRw = humanSize(o.sizeRw ?? 0, 3);
  return sorted('container', {
    Command: goQuote(o.trunc ? ellipsis(command, 20) : command),
    CreatedAt: dockerTime(c.created),
    ID: o.trunc ? c.id.slice(0, 12) : c.id,
    Image: o.trunc ? shortImage(c) : c.imageRef,
    Labels: labelsText(o.labels),
    LocalVolumes: String(c.mounts.filter((m) => m.type === 'volume').length),
    Mounts: c.mounts
      .map((m) => (m.type === 'volume' ? (o.trunc ? ellipsis(m.name, 15) : m.name) : m.type === 'bind' ? m.source : m.destination))
      .join(','),
    Names: c.name,
    // strata containers have no network: what docker calls `--network none`.
    Networks: 'none',
    Ports: '',
    RunningFor: since(c.created),
    Size: o.sizeRootFs ? `${sizeRw} (virtual ${humanSize(o.sizeRootFs, 3)})` : sizeRw,
    State: c.state.status,
    Status: containerStatus(c),
  });
}

/** docker/cli: a container created from an image ID shows the ID cut to 12 digits, unless --no-trunc. */
function shortImage(c: ContainerRecord): string {
  const hex = c.imageRef.replace(/^sha256:/, '');
  return /^[0-9a-f]{1,64}$/.test(hex) && c.image.replace(/^sha256:/, '').startsWith(hex) ? hex.slice(0, 12) : c.imageRef;
}

export interface ImageContextInput {
  id: string;
  repository: string;
  tag: string;
  created: string;
  size: number;
  trunc: boolean;
  /** `images` prints `<none>`; `system df -v` leaves it empty. */
  digest: string;
  /** Only `system df -v` measures these; `images` prints N/A, as docker does. */
  containers?: number;
  sharedSize?: number;
  uniqueSize?: number;
}

/** docker/cli's imageContext (images, system df -v). */
export function imageContext(i: ImageContextInput): Record<string, unknown> {
  return sorted('image', {
    Containers: i.containers === undefined ? 'N/A' : String(i.containers),
    CreatedAt: dockerTime(i.created),
    CreatedSince: since(i.created),
    Digest: i.digest,
    ID: i.trunc ? i.id.replace(/^sha256:/, '').slice(0, 12) : i.id,
    Repository: i.repository,
    SharedSize: i.sharedSize === undefined ? 'N/A' : humanSize(i.sharedSize),
    Size: humanSize(i.size, 3),
    Tag: i.tag,
    UniqueSize: i.uniqueSize === undefined ? 'N/A' : humanSize(i.uniqueSize),
    VirtualSize: humanSize(i.size),
  });
}

/** docker/cli's volumeContext (volume ls, system df -v); links and size only where measured. */
export function volumeContext(
  v: { name: string; labels?: Record<string, string> | null },
  mountpoint: string,
  usage?: { links: number; size: number },
): Record<string, unknown> {
  return sorted('volume', {
    Driver: 'local',
    Labels: labelsText(v.labels),
    Links: usage === undefined ? 'N/A' : String(usage.links),
    Mountpoint: mountpoint,
    Name: v.name,
    Scope: 'local',
    Size: usage === undefined ? 'N/A' : humanSize(usage.size),
  });
}

/**
 * A container's labels as docker lists them: its image's labels (strata has no
 * per-container labels of its own yet). An image whose config blob is gone has none.
 */
export async function containerLabels(
  store: Store,
  records: ContainerRecord[],
  imageList: ImageRecord[],
): Promise<Map<string, Record<string, string>>> {
  // Loaded here: `volume ls` imports this module at startup and needs no image config.
  const { readImageConfig } = await import('../image/inspect.js');
  const images = new Map(imageList.map((i) => [i.id, i]));
  const byImage = new Map<string, Record<string, string>>();
  for (const image of new Set(records.map((c) => c.image))) {
    const record = images.get(image);
    const config = record ? await readImageConfig(store, record).catch(() => undefined) : undefined;
    const found = (config?.config as { Labels?: unknown } | undefined)?.Labels;
    byImage.set(image, found !== null && typeof found === 'object' ? (found as Record<string, string>) : {});
  }
  return new Map(records.map((c) => [c.id, { ...byImage.get(c.image), ...(c as { labels?: Record<string, string> }).labels }]));
}

/** Table headers docker/cli gives these fields (the rest are the field name in capitals). */
export const CONTAINER_HEADERS = { ID: 'CONTAINER ID', Names: 'NAMES' };
export const IMAGE_HEADERS = { ID: 'IMAGE ID' };
export const VOLUME_HEADERS = { Name: 'VOLUME NAME' };
export const HISTORY_HEADERS = { ID: 'IMAGE' };
