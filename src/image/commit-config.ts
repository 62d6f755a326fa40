import type { HistoryEntry, ImageConfig } from './config.js';
import { applyInstructions, type ContainerConfig } from './commit-instructions.js';

/** What a container runs with (its Docker Config), as commit carries it into the image. */
export interface ContainerRunConfig {
  user: string;
  env: string[];
  cmd: string[] | null;
  entrypoint: string[] | null;
  workingDir: string;
  labels: Record<string, string>;
  exposedPorts?: Record<string, object>;
  volumes: Record<string, object> | null;
  stopSignal?: string;
}

export interface CommitConfigInput {
  /** The image the container was created from. */
  parent: ImageConfig;
  /** The container's Config; absent for containers recorded before create kept one (the image's config then stands). */
  container?: ContainerRunConfig;
  /** `-c` instructions, applied last. */
  changes: string[];
  author?: string;
  message?: string;
  /** RFC 3339: the image's and the history entry's time. */
  created: string;
  /** The new layer's diffID; null when the container changed nothing (an empty layer). */
  diffId: string | null;
}

/**
 * The config of a committed image, as `docker commit` writes it: the parent's config
 * with the container's Config over it (Docker's `merge`: the container's Env, Cmd,
 * Entrypoint, WorkingDir, User, Labels, ExposedPorts, Volumes and StopSignal, which
 * already hold the image's where create set nothing), then the `-c` instructions; a
 * history entry appended (`created_by` the container's Cmd joined by spaces, as
 * Docker writes it) and the diffID appended — or, for an unchanged container, the
 * diff_ids left as they were and the entry marked `empty_layer`.
 *
 * Docker's own `container`, `container_config` and `docker_version` fields are not
 * written (Docker ≥ 25 with the containerd store writes none either): they would make
 * two commits of identical changes differ by the container's ID.
 */
export function committedConfig(input: CommitConfigInput): ImageConfig {
  const { parent, created } = input;
  const { container: _id, container_config: _config, docker_version: _version, ...kept } = parent;
  const runConfig = runConfigOf(parent.config, input.container);
  applyInstructions(runConfig as ContainerConfig, input.changes, { commit: true });
  const history: HistoryEntry = { created };
  if (input.author) history.author = input.author;
  const createdBy = input.container?.cmd?.join(' ') ?? '';
  if (createdBy !== '') history.created_by = createdBy;
  if (input.message) history.comment = input.message;
  if (input.diffId === null) history.empty_layer = true;
  const config: ImageConfig = {
    ...kept,
    config: runConfig,
    created,
    history: [...(parent.history ?? []), history],
    rootfs: { type: 'layers', diff_ids: [...parent.rootfs.diff_ids, ...(input.diffId === null ? [] : [input.diffId])] },
  };
  if (input.author) config.author = input.author;
  else delete config.author;
  if (input.message) config.comment = input.message;
  else delete config.comment;
  return config;
}

/** The image's `config` with the container's values over it; keys the image has that Docker's Config lacks are kept. */
function runConfigOf(image: Record<string, unknown> | undefined, container: ContainerRunConfig | undefined): Record<string, unknown> {
  const config: Record<string, unknown> = { ...(image ?? {}) };
  if (container === undefined) return config;
  const set = (key: string, value: unknown, present: boolean) => {
    if (present) config[key] = value;
    else delete config[key];
  };
  set('User', container.user, container.user !== '');
  set('ExposedPorts', container.exposedPorts, container.exposedPorts !== undefined && Object.keys(container.exposedPorts).length > 0);
  set('Env', container.env, container.env.length > 0);
  set('Cmd', container.cmd, container.cmd !== null);
  set('WorkingDir', container.workingDir, container.workingDir !== '');
  set('Entrypoint', container.entrypoint, container.entrypoint !== null);
  set('Volumes', container.volumes, container.volumes !== null && Object.keys(container.volumes).length > 0);
  set('Labels', container.labels, Object.keys(container.labels).length > 0);
  set('StopSignal', container.stopSignal, container.stopSignal !== undefined && container.stopSignal !== '');
  return config;
}
