import type { Store } from '../store/root.js';
import { readBlob } from '../content/read.js';
import { parseImageConfigBytes, type HistoryEntry, type ImageConfig } from './config.js';
import type { ImageRecord } from './record.js';

/**
 * The `docker image inspect` shape (Docker 20.10's ImageInspect, fields in its order).
 * GraphDriver.Data points at the real layer directories: UpperDir is the top layer's
 * diff, LowerDir the rest top-first, colon-joined — mountable as they are (read-only)
 * by the kernel's overlayfs.
 */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container: string;
  ContainerConfig: Record<string, unknown>;
  DockerVersion: string;
  Author: string;
  Config: Record<string, unknown> | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  VirtualSize: number;
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
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  const runConfig = isObject(config.config) ? goContainerConfig(config.config) : null;
  return {
    Id: image.id,
    RepoTags: repoTags,
    RepoDigests: image.repoDigests ?? [],
    Parent: '',
    Comment: lastComment(config),
    Created: goTimeText(image.created),
    Container: text(config.container),
    // Docker shows an empty config where the image has none (it is a struct, not a pointer).
    ContainerConfig: goContainerConfig(isObject(config.container_config) ? config.container_config : {}),
    DockerVersion: text(config.docker_version),
    Author: text(config.author),
    Config: runConfig,
    Architecture: config.architecture ?? '',
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os ?? '',
    ...(text(config['os.version']) !== '' ? { OsVersion: text(config['os.version']) } : {}),
    Size: image.size,
    // Docker 20.10 reports the same figure twice; VirtualSize was never anything else for an image.
    VirtualSize: image.size,
    GraphDriver: { Name: graphDriverName(store), Data: data },
    RootFS: { Type: 'layers', Layers: image.layers.map((l) => l.diffId) },
    Metadata: { LastTagTime: image.loaded },
  };
}

/**
 * An image's run config as Docker prints it: read into Go's container.Config and
 * written back, so every field is present in Go's order (empty values where the
 * image has none), optional ones only when set, and keys Go does not know dropped.
 */
function goContainerConfig(raw: Record<string, unknown>): Record<string, unknown> {
  const value = (key: string, empty: unknown) => (raw[key] === undefined ? empty : raw[key]);
  const optional = (key: string) =>
    raw[key] === undefined || raw[key] === null || raw[key] === '' || raw[key] === false ? {} : { [key]: raw[key] };
  return {
    Hostname: value('Hostname', ''),
    Domainname: value('Domainname', ''),
    User: value('User', ''),
    AttachStdin: value('AttachStdin', false),
    AttachStdout: value('AttachStdout', false),
    AttachStderr: value('AttachStderr', false),
    ...optional('ExposedPorts'),
    Tty: value('Tty', false),
    OpenStdin: value('OpenStdin', false),
    StdinOnce: value('StdinOnce', false),
    Env: value('Env', null),
    Cmd: value('Cmd', null),
    ...optional('Healthcheck'),
    ...optional('ArgsEscaped'),
    Image: value('Image', ''),
    Volumes: value('Volumes', null),
    WorkingDir: value('WorkingDir', ''),
    Entrypoint: value('Entrypoint', null),
    ...optional('NetworkDisabled'),
    ...optional('MacAddress'),
    OnBuild: value('OnBuild', null),
    Labels: value('Labels', null),
    ...optional('StopSignal'),
    ...optional('StopTimeout'),
    ...optional('Shell'),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A timestamp as Go's RFC3339Nano prints it, which is how Docker prints Created: the
 * fraction without trailing zeros, and none at all when it is zero (`…:20.000Z` → `…:20Z`).
 */
export function goTimeText(rfc3339: string): string {
  return rfc3339.replace(/\.(\d*?)0+(?=Z|[+-]\d\d:\d\d$)/, (_m, digits: string) => (digits === '' ? '' : `.${digits}`));
}

/** `overlay2` when the store's directories are what the kernel's overlayfs reads, as Docker's are. */
export function graphDriverName(store: Store): string {
  return store.whiteoutFormat === 'overlay' ? 'overlay2' : 'strata-oci';
}

function lastComment(config: ImageConfig): string {
  const history = config.history ?? [];
  return history.length > 0 ? (history[history.length - 1]!.comment ?? '') : '';
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
  const history =
    config.history && config.history.length > 0 ? config.history : image.layers.map((): HistoryEntry => ({ created: image.created }));
  let layer = 0;
  const rows = history
    .map((entry) => {
      const made = entry.empty_layer ? undefined : image.layers[layer++];
      return {
        id: '<missing>',
        created: entry.created ?? '',
        createdBy: entry.created_by ?? '',
        size: made?.size ?? 0,
        comment: entry.comment ?? '',
        layer: made?.diffId ?? null,
      };
    })
    .reverse();
  if (rows.length > 0) rows[0]!.id = image.id;
  return rows;
}
