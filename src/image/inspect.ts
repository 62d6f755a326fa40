import type { Store } from '../store/root.js';
import { readBlob } from '../content/read.js';
import { parseImageConfigBytes, type HistoryEntry, type ImageConfig } from './config.js';
import type { ImageRecord } from './record.js';

/**
 * The `docker image inspect` shape. GraphDriver.Data points at the real layer
 * directories: UpperDir is the top layer's diff, LowerDir the rest top-first,
 * colon-joined — mountable as they are (read-only) by the kernel's overlayfs.
 */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Author: string;
  Config: Record<string, unknown>;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  GraphDriver: { Name: string; Data: Record<string, string> };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

export async function readImageConfig(store: Store, image: ImageRecord): Promise<ImageConfig> {
  return parseImageConfigBytes(await readBlob(store, image.configDigest), store.paths.blob(image.configDigest));
}

export async function inspectImage(store: Store, image: ImageRecord, repoTags: string[]): Promise<ImageInspect> {
  const config = await readImageConfig(store, image);
  const diffs = image.layers.map((l) => store.paths.layerDiff(l.chainId)).reverse();
  const data: Record<string, string> = {};
  if (diffs.length > 1) data.LowerDir = diffs.slice(1).join(':');
  if (diffs.length > 0) data.UpperDir = diffs[0]!;
  const inspect: ImageInspect = {
    Id: image.id,
    RepoTags: repoTags,
    RepoDigests: [],
    Parent: '',
    Comment: lastComment(config),
    Created: image.created,
    Author: typeof config.author === 'string' ? config.author : '',
    Config: config.config ?? {},
    Architecture: config.architecture ?? '',
    Os: config.os ?? '',
    Size: image.size,
    GraphDriver: { Name: graphDriverName(store), Data: data },
    RootFS: { Type: 'layers', Layers: image.layers.map((l) => l.diffId) },
    Metadata: { LastTagTime: image.loaded },
  };
  if (config.variant) inspect.Variant = config.variant;
  return inspect;
}

/** `overlay2` when the store's directories are what the kernel's overlayfs reads, as Docker's are. */
export function graphDriverName(store: Store): string {
  return store.whiteoutFormat === 'overlay' ? 'overlay2' : 'strata-oci';
}

function lastComment(config: ImageConfig): string {
  const history = config.history ?? [];
  return history.length > 0 ? history[history.length - 1]!.comment ?? '' : '';
}

export interface HistoryRow {
  /** The image ID for the newest row, `<missing>` below it, as docker prints. */
  id: string;
  created: string;
  createdBy: string;
  size: number;
  comment: string;
  /** The diffID of the layer this step made (what `du` and `fs stat` name a layer by), or null for an empty layer. */
  layer: string | null;
}

/** `docker history`: newest first; each non-empty history entry owns the next layer. */
export async function imageHistory(store: Store, image: ImageRecord): Promise<HistoryRow[]> {
  const config = await readImageConfig(store, image);
  const history = config.history && config.history.length > 0
    ? config.history
    : image.layers.map((): HistoryEntry => ({ created: image.created }));
  let layer = 0;
  const rows = history.map((entry) => {
    const made = entry.empty_layer ? undefined : image.layers[layer++];
    return { id: '<missing>', created: entry.created ?? '', createdBy: entry.created_by ?? '', size: made?.size ?? 0, comment: entry.comment ?? '', layer: made?.diffId ?? null };
  }).reverse();
  if (rows.length > 0) rows[0]!.id = image.id;
  return rows;
}
