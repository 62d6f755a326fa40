import path from 'node:path';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { writeJsonAtomic } from '../store/atomic.js';
import { readJsonRecord, readJsonRecordSync } from '../store/records.js';
import { isLeftoverName } from '../store/paths.js';
import { listStoreDir } from '../store/record-dir.js';
import type { HostConfigMount } from './mount-flag.js';
import type { ProcessIdentity } from '../store/process-identity.js';
import type { RuntimeName } from '../run/runtime-choice.js';

/**
 * A --tmpfs or -v mount, resolved before the layers at `destination`. `options` and
 * `mode` are what was typed after the path (inspect shows them as Docker does);
 * `noCopy` is `-v name:/dst:nocopy`, which leaves an empty volume empty.
 */
export type MountSpec =
  | { type: 'tmpfs'; destination: string; options?: string }
  | { type: 'volume'; name: string; destination: string; readOnly: boolean; anonymous: boolean; mode?: string; noCopy?: boolean }
  | { type: 'bind'; source: string; destination: string; readOnly: boolean; mode?: string };

export type ContainerStatus = 'created' | 'running' | 'exited';

/**
 * containers/<id>/config.json. The container directory appears by rename with this
 * file already inside, so a directory without it is a half-made container, never a
 * live one. State changes rewrite it atomically under the store lock.
 */
export interface ContainerRecord {
  id: string;
  name: string;
  /** Image ID (config digest) the container was created from. */
  image: string;
  /** What the user typed for the image; `ps` shows it, as Docker does. */
  imageRef: string;
  /** chainIDs of the image's layers, bottom first: the container keeps them alive. */
  layers: string[];
  created: string;
  readOnly: boolean;
  mounts: MountSpec[];
  /** The image's entrypoint + cmd, or what was given after IMAGE; shown as COMMAND. */
  command: string[];
  /** `supervisor`: while running, the strata process that supervises the runtime (a foreground run or the -d monitor). */
  state: { status: ContainerStatus; startedAt: string | null; finishedAt: string | null; exitCode: number; supervisor?: ProcessIdentity };
  /**
   * Docker's Config of the container: the image's merged with create's flags. Records
   * made before these flags existed lack it; inspect then shows what `command` implies.
   */
  config?: ContainerConfig;
  /** Config.Labels: the image's labels with -l/--label-file over them. */
  labels?: Record<string, string>;
  /** `--rm`: strata runs no process, so the container goes at `stop`, where Docker removes it when it exits. */
  autoRemove?: boolean;
  /** `--network`: none (a namespace of its own with loopback only; the default) or host. */
  network?: 'none' | 'host';
  /** The --mount flags as given, in Docker's HostConfig.Mounts shape; `mounts` holds what they resolved to. */
  hostMounts?: HostConfigMount[];
  /** `--runtime`: the OCI runtime that runs its process (HostConfig.Runtime); left out, runc. */
  runtime?: RuntimeName;
}

/** The parts of Docker's container Config that `create` sets. */
export interface ContainerConfig {
  hostname: string;
  user: string;
  env: string[];
  cmd: string[] | null;
  entrypoint: string[] | null;
  workingDir: string;
  /** Anonymous `-v /path` volumes, as Docker's Config.Volumes lists them (null when none). */
  volumes: Record<string, object> | null;
  /** Carried from the image as Docker carries them (left out when the image has none). */
  exposedPorts?: Record<string, object>;
  stopSignal?: string;
  /** `-t`: the process gets a terminal at every start (Docker's Config.Tty). */
  tty?: boolean;
}

export function containerFile(store: Store, id: string): string {
  return store.paths.container(id).config;
}

export async function readContainerRecord(store: Store, id: string): Promise<ContainerRecord> {
  const file = containerFile(store, id);
  return asContainerRecord(file, id, await readJsonRecord(file, { optional: true }));
}

function asContainerRecord(file: string, id: string, raw: unknown): ContainerRecord {
  if (raw === null) throw new StrataError('ENOTFOUND', `No such container: ${id}`, { path: id });
  const record = raw as ContainerRecord;
  if (typeof record.id !== 'string' || !Array.isArray(record.layers) || typeof record.state !== 'object') {
    throw new StrataError('EBADRECORD', `${file}: not a container record`, { path: file });
  }
  return record;
}

export async function writeContainerRecord(store: Store, record: ContainerRecord): Promise<void> {
  await writeJsonAtomic(containerFile(store, record.id), record);
}

export async function listContainerRecords(store: Store): Promise<ContainerRecord[]> {
  const names = await listStoreDir(store.paths.containersDir);
  const records: ContainerRecord[] = [];
  for (const name of names) {
    if (isLeftoverName(name)) continue;
    try {
      // Synchronous: df and ps read every record, and each async read is several thread-pool round trips.
      const file = containerFile(store, name);
      records.push(asContainerRecord(file, name, readJsonRecordSync(file, { optional: true })));
    } catch (err) {
      // Removed between readdir and read: simply gone.
      if ((err as StrataError).code !== 'ENOTFOUND') throw err;
    }
  }
  return records;
}

/** The directories a container owns, all under containers/<id>/. */
export function containerDirs(store: Store, id: string): { upper: string; work: string; merged: string; tmpfs: string } {
  const { upper, work, merged, tmpfs } = store.paths.container(id);
  return { upper, work, merged, tmpfs };
}

/**
 * The cache of the upper dir's measured usage (usage.json) and the token every change
 * strata makes to the upper rewrites (usage.token); see src/usage/usage-cache.ts.
 * Both are plain files beside config.json, removed with the container.
 */
export function containerUsageFiles(store: Store, id: string): { cache: string; token: string } {
  const { usageCache, usageToken } = store.paths.container(id);
  return { cache: usageCache, token: usageToken };
}

/** Where a --tmpfs mount keeps its files: one directory per mount under tmpfs/. */
export function tmpfsBacking(store: Store, id: string, destination: string): string {
  return path.join(containerDirs(store, id).tmpfs, Buffer.from(destination).toString('hex'));
}
