import type { Store } from '../store/root.js';
import { goTimeText, graphDriverName } from '../image/inspect.js';
import { volumeDataDir } from '../volume/volume.js';
import { mountDestination } from './mount-flag.js';
import { containerDirs, type ContainerRecord } from './record.js';

/**
 * The `docker inspect` shape for a container. GraphDriver.Data names real
 * directories: LowerDir is the image's layer diffs top-first, colon-joined (strata
 * has no init layer, so it starts at the image's top layer), UpperDir receives every
 * write, and the four can be given to `mount -t overlay` as they are.
 */
export interface InspectSize {
  /** Bytes in the upper dir (what `ps -s` shows first). */
  sizeRw: number;
  /** The image's size plus SizeRw. */
  sizeRootFs: number;
}

/** `pid`: the running process's host PID (State.Pid), 0 for a container that is not running. */
export function inspectContainer(store: Store, record: ContainerRecord, size?: InspectSize, pid = 0): Record<string, unknown> {
  const dirs = containerDirs(store, record.id);
  const lower = [...record.layers].reverse().map((chainId) => store.paths.layerDiff(chainId));
  const [path, ...args] = record.command;
  const running = record.state.status === 'running';
  // A --mount is listed in HostConfig.Mounts, not among -v's Binds or --tmpfs's Tmpfs.
  const byMountFlag = new Set((record.hostMounts ?? []).map(mountDestination));
  const flagMounts = record.mounts.filter((m) => !byMountFlag.has(m.destination));
  // As typed: `-v NAME:/dst:ro,nocopy` keeps its options (older records only knew ro).
  const binds = flagMounts.flatMap((m) =>
    m.type === 'bind'
      ? [`${m.source}:${m.destination}${typedMode(m)}`]
      : m.type === 'volume' && !m.anonymous
        ? [`${m.name}:${m.destination}${typedMode(m)}`]
        : [],
  );
  return {
    Id: record.id,
    Created: goTimeText(record.created),
    Path: path ?? '',
    Args: args,
    State: {
      Status: record.state.status,
      Running: running,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: running ? pid : 0,
      ExitCode: record.state.exitCode,
      Error: '',
      StartedAt: record.state.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: record.state.finishedAt ?? '0001-01-01T00:00:00Z',
    },
    Image: record.image,
    Name: `/${record.name}`,
    Driver: graphDriverName(store),
    HostConfig: {
      Binds: binds.length > 0 ? binds : null,
      AutoRemove: record.autoRemove === true,
      ReadonlyRootfs: record.readOnly,
      // Docker's map of path → the options typed after `--tmpfs PATH:`, '' for none.
      Tmpfs: Object.fromEntries(flagMounts.flatMap((m) => (m.type === 'tmpfs' ? [[m.destination, m.options ?? '']] : []))),
      // Where Docker's HostConfig has it: after Tmpfs, before Mounts.
      Runtime: record.runtime ?? 'runc',
      ...(record.hostMounts && record.hostMounts.length > 0 ? { Mounts: record.hostMounts } : {}),
    },
    GraphDriver: {
      Name: graphDriverName(store),
      Data: { LowerDir: lower.join(':'), MergedDir: dirs.merged, UpperDir: dirs.upper, WorkDir: dirs.work },
    },
    ...(size ? { SizeRw: size.sizeRw, SizeRootFs: size.sizeRootFs } : {}),
    Mounts: record.mounts
      .filter((m) => m.type !== 'tmpfs' || byMountFlag.has(m.destination))
      .map((m) => {
        // -v NAME:/path shows Mode "z"; an anonymous -v and every --mount show "".
        const fromFlag = byMountFlag.has(m.destination);
        if (m.type === 'tmpfs')
          return {
            Type: 'tmpfs',
            Source: '',
            Destination: m.destination,
            Mode: '',
            RW: !/(^|,)ro(,|$)/.test(m.options ?? ''),
            Propagation: '',
          };
        if (m.type === 'bind') {
          const propagation = record.hostMounts?.find((h) => mountDestination(h) === m.destination)?.BindOptions?.Propagation || 'rprivate';
          return {
            Type: 'bind',
            Source: m.source,
            Destination: m.destination,
            Mode: fromFlag ? '' : (m.mode ?? (m.readOnly ? 'ro' : '')),
            RW: !m.readOnly,
            Propagation: propagation,
          };
        }
        const mode = fromFlag ? '' : (m.mode ?? (m.readOnly ? 'ro' : m.anonymous ? '' : 'z'));
        return {
          Type: 'volume',
          Name: m.name,
          Source: volumeDataDir(store, m.name),
          Destination: m.destination,
          Driver: 'local',
          Mode: mode,
          RW: !m.readOnly,
          Propagation: '',
        };
      }),
    Config: containerConfigView(record),
  };
}

/**
 * Docker's container Config, its fields in Docker's order. `create` attaches stdout and
 * stderr unless told otherwise, so those two are true. Records made before strata
 * kept a config show the command as Cmd and Docker's empty values elsewhere.
 */
function containerConfigView(record: ContainerRecord): Record<string, unknown> {
  const config = record.config ?? {
    hostname: record.id.slice(0, 12),
    user: '',
    env: [],
    cmd: record.command,
    entrypoint: null,
    workingDir: '',
    volumes: null,
  };
  return {
    Hostname: config.hostname,
    Domainname: '',
    User: config.user,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    ...(config.exposedPorts ? { ExposedPorts: config.exposedPorts } : {}),
    Tty: config.tty === true,
    OpenStdin: false,
    StdinOnce: false,
    Env: config.env.length > 0 ? config.env : null,
    Cmd: config.cmd,
    Image: record.imageRef,
    Volumes: config.volumes,
    WorkingDir: config.workingDir,
    Entrypoint: config.entrypoint,
    OnBuild: null,
    Labels: record.labels ?? {},
    ...(config.stopSignal ? { StopSignal: config.stopSignal } : {}),
  };
}

function typedMode(m: { readOnly: boolean; mode?: string }): string {
  if (m.mode !== undefined) return `:${m.mode}`;
  return m.readOnly ? ':ro' : '';
}
