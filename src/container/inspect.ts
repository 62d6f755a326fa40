import type { Store } from '../store/root.js';
import { graphDriverName } from '../image/inspect.js';
import { volumeDataDir } from '../volume/volume.js';
import { containerDirs, type ContainerRecord } from './record.js';

/**
 * The `docker inspect` shape for a container. GraphDriver.Data names real
 * directories: LowerDir is the image's layer diffs top-first, colon-joined (strata
 * has no init layer, so it starts at the image's top layer), UpperDir receives every
 * write, and the four can be given to `mount -t overlay` as they are.
 */
export function inspectContainer(store: Store, record: ContainerRecord): Record<string, unknown> {
  const dirs = containerDirs(store, record.id);
  const lower = [...record.layers].reverse().map((chainId) => store.paths.layerDiff(chainId));
  const [path, ...args] = record.command;
  const running = record.state.status === 'running';
  return {
    Id: record.id,
    Created: record.created,
    Path: path ?? '',
    Args: args,
    State: {
      Status: record.state.status,
      Running: running,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 0,
      ExitCode: record.state.exitCode,
      Error: '',
      StartedAt: record.state.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: record.state.finishedAt ?? '0001-01-01T00:00:00Z',
    },
    Image: record.image,
    Name: `/${record.name}`,
    Driver: graphDriverName(store),
    HostConfig: {
      // As typed: `-v NAME:/dst:ro,nocopy` keeps its options (older records only knew ro).
      Binds: record.mounts.flatMap((m) => (m.type === 'bind' ? [`${m.source}:${m.destination}${typedMode(m)}`] :
        m.type === 'volume' && !m.anonymous ? [`${m.name}:${m.destination}${typedMode(m)}`] : [])),
      ReadonlyRootfs: record.readOnly,
      // Docker's map of path → the options typed after `--tmpfs PATH:`, '' for none.
      Tmpfs: Object.fromEntries(record.mounts.flatMap((m) => (m.type === 'tmpfs' ? [[m.destination, m.options ?? '']] : []))),
    },
    GraphDriver: {
      Name: graphDriverName(store),
      Data: { LowerDir: lower.join(':'), MergedDir: dirs.merged, UpperDir: dirs.upper, WorkDir: dirs.work },
    },
    Mounts: record.mounts.filter((m) => m.type !== 'tmpfs').map((m) => (m.type === 'bind'
      ? { Type: 'bind', Source: m.source, Destination: m.destination, Mode: m.mode ?? (m.readOnly ? 'ro' : ''), RW: !m.readOnly, Propagation: 'rprivate' }
      : { Type: 'volume', Name: m.name, Source: volumeDataDir(store, m.name), Destination: m.destination, Driver: 'local', Mode: m.mode ?? (m.readOnly ? 'ro' : m.anonymous ? '' : 'z'), RW: !m.readOnly, Propagation: '' })),
    Config: { Image: record.imageRef, Cmd: record.command },
  };
}

function typedMode(m: { readOnly: boolean; mode?: string }): string {
  if (m.mode !== undefined) return `:${m.mode}`;
  return m.readOnly ? ':ro' : '';
}
