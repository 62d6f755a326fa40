import fs from 'node:fs/promises';
import { randomHex } from '../store/random.js';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { writeJsonAtomic } from '../store/atomic.js';
import { createDirByRename } from '../store/dir-by-rename.js';
import { findImage } from '../image/lookup.js';
import { readImageConfig } from '../image/inspect.js';
import { ensureVolume, readVolume } from '../volume/volume.js';
import { removeVolume } from './volume-use.js';
import { populateVolume } from '../volume/populate.js';
import { imageView } from '../image/view.js';
import { generateName, isValidContainerName } from './names.js';
import { listContainerRecords, type ContainerRecord, type MountSpec } from './record.js';
import { containerParts } from '../store/paths.js';
import { mountSpecOf, type HostConfigMount } from './mount-flag.js';
import { checkWorkingDir, entrypointAndCmd, mergeLabels, mergeRunConfig, type ImageRunConfig } from './run-config.js';
import { faultPoint } from '../store/fault-points.js';
import { parseRuntimeName, type RuntimeName } from '../run/runtime-choice.js';

export interface CreateOptions {
  name?: string;
  readOnly?: boolean;
  mounts?: MountSpec[];
  /** Overrides the image's Cmd, like arguments after IMAGE in `docker create`. */
  command?: string[];
  /** `-e`/`--env-file` entries as KEY=VALUE, in order; image entries with other keys follow them. */
  env?: string[];
  /** `--entrypoint`: replaces the image's Entrypoint and drops its Cmd; '' clears it. */
  entrypoint?: string;
  /** `-w`: an absolute path; default the image's WorkingDir. */
  workingDir?: string;
  /** `-u`: default the image's User. */
  user?: string;
  /** `-l`/`--label-file`, over the image's labels. */
  labels?: Record<string, string>;
  /** `-h`: default the first 12 hex digits of the container ID, as Docker's. */
  hostname?: string;
  /** `--rm`: the container is removed when it stops. */
  autoRemove?: boolean;
  /** `--network`: none (default) or host. */
  network?: 'none' | 'host';
  /** `-t`: the process runs on a terminal of its own. */
  tty?: boolean;
  /** `--mount` flags, parsed (src/container/mount-flag.ts); checked and resolved here. */
  hostMounts?: HostConfigMount[];
  /** `--runtime`: runc (the default) or crun; every later start, stop, exec and kill uses it. */
  runtime?: RuntimeName;
}

/**
 * `docker create`: a container directory with upper/, work/, merged/ and tmpfs/ is
 * built under a temp name with config.json inside, then renamed into place — the
 * rename is the commit, so no half-made container is ever listed.
 */
export async function createContainer(store: Store, imageName: string, options: CreateOptions = {}): Promise<ContainerRecord> {
  const image = await findImage(store, imageName);
  const config = await readImageConfig(store, image);
  const runConfig = (config.config ?? {}) as ImageRunConfig;
  const { entrypoint, cmd } = entrypointAndCmd(runConfig, options.entrypoint, options.command ?? []);
  const command = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (options.workingDir !== undefined) checkWorkingDir(options.workingDir);
  const hostMounts = options.hostMounts ?? [];
  const mounts = [...(options.mounts ?? []), ...hostMounts.map(mountSpecOf)];
  checkMountTargets(mounts);
  // A JS caller's name is checked as the CLI's is, before anything is made.
  const runtime = parseRuntimeName(options.runtime ?? 'runc');

  return withStoreLock(store, async () => {
    const existing = await listContainerRecords(store);
    const taken = new Set(existing.map((c) => c.name));
    let name = options.name;
    if (name !== undefined) {
      if (!isValidContainerName(name)) {
        throw new StrataError('EUSAGE', `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      }
      name = name.replace(/^\//, '');
      const owner = existing.find((c) => c.name === name);
      if (owner) {
        throw new StrataError(
          'ECONFLICT',
          `Conflict. The container name "/${name}" is already in use by container "${owner.id}". You have to remove (or rename) that container to be able to reuse that name.`,
          { path: name },
        );
      }
    }
    // Volumes this create makes go again if it fails: a failed create leaves no trace.
    const newVolumes: string[] = [];
    try {
      for (const mount of mounts) {
        if (mount.type === 'volume' && !(await volumeExists(store, mount.name))) newVolumes.push(mount.name);
        if (mount.type === 'volume') await ensureVolume(store, mount.name, { anonymous: mount.anonymous });
        if (mount.type === 'bind') await fs.mkdir(mount.source, { recursive: true });
      }
      // Re-check the image under the lock: an rmi that raced us must not leave a container on nothing.
      await findImage(store, image.id);
      await populateVolumes(
        store,
        image.layers.map((l) => l.chainId),
        mounts,
      );
    } catch (err) {
      for (const name of newVolumes) await removeVolume(store, name, { force: true }).catch(() => undefined);
      throw err;
    }
    const id = randomHex(32);
    const record: ContainerRecord = {
      id,
      name: name ?? generateName(taken),
      image: image.id,
      imageRef: imageName,
      layers: image.layers.map((l) => l.chainId),
      created: new Date().toISOString(),
      readOnly: options.readOnly ?? false,
      mounts,
      command,
      state: { status: 'created', startedAt: null, finishedAt: null, exitCode: 0 },
      config: mergeRunConfig(runConfig, options, {
        entrypoint,
        cmd,
        hostname: options.hostname || id.slice(0, 12),
        mounts: options.mounts ?? [],
      }),
      labels: mergeLabels(options.labels ?? {}, runConfig.Labels),
      autoRemove: options.autoRemove === true,
      ...(options.network === 'host' ? { network: 'host' as const } : {}),
      ...(hostMounts.length > 0 ? { hostMounts } : {}),
      runtime,
    };
    let created: boolean;
    try {
      created = await createDirByRename(store.paths.containerDir(record.id), async (tmp) => {
        const parts = containerParts(tmp);
        // One level at a time, not `recursive`: on a full disk that reports ENOENT (nodejs/node#42808).
        for (const dir of [parts.upper, parts.work, parts.merged, parts.tmpfs]) await fs.mkdir(dir, { mode: 0o755 });
        await writeJsonAtomic(parts.config, record);
        faultPoint('create.commit');
      });
    } catch (err) {
      for (const name of newVolumes) await removeVolume(store, name, { force: true }).catch(() => undefined);
      throw err;
    }
    // 256 random bits: a clash means the random source is broken, not bad luck.
    if (!created) throw new StrataError('ECONFLICT', `container ${record.id} exists already`, { path: record.id });
    return record;
  });
}

async function volumeExists(store: Store, name: string): Promise<boolean> {
  return readVolume(store, name).then(
    () => true,
    () => false,
  );
}

/** An empty volume gets the image's content at its mount point, as with Docker, unless `nocopy`; binds never do. */
async function populateVolumes(store: Store, chain: string[], mounts: MountSpec[]): Promise<void> {
  const copying = mounts.filter((m): m is Extract<MountSpec, { type: 'volume' }> => m.type === 'volume' && !m.noCopy);
  if (copying.length === 0) return;
  const image = await imageView(store, chain);
  for (const mount of copying) await populateVolume(store, image, mount.name, mount.destination);
}

function checkMountTargets(mounts: MountSpec[]): void {
  const seen = new Set<string>();
  for (const mount of mounts) {
    if (seen.has(mount.destination)) throw new StrataError('EUSAGE', `Duplicate mount point: ${mount.destination}`);
    seen.add(mount.destination);
  }
}
