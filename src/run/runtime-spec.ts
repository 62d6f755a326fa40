import type { ContainerRecord, MountSpec } from '../container/record.js';
import { parseTmpfsOptions } from '../container/tmpfs-options.js';
import type { ProcessUser } from './user.js';

/**
 * The OCI runtime config (config.json of a bundle) for one container, with Docker's
 * defaults (moby oci/defaults.go and daemon/oci_linux.go): its capabilities, masked
 * and read-only /proc and /sys paths, /dev, /dev/shm and /dev/pts as Docker mounts
 * them, and a namespace each for mounts, pids, IPC, UTS and network. Pure: what
 * goes in is the container record and what was resolved for it (user, paths).
 */

export type NetworkMode = 'none' | 'host';

/** Docker's default PATH when the image sets none (moby oci.DefaultPathEnv). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** moby oci/caps DefaultCapabilities. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** The mounts every container gets, before its own (moby oci.DefaultLinuxSpec). */
const SYSTEM_MOUNTS: OciMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  {
    destination: '/dev/pts',
    type: 'devpts',
    source: 'devpts',
    options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
  },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] },
];

/** The top-level paths the system mounts need in the root: strata keeps them out of the upper (src/run/init-points.ts). */
export const SYSTEM_MOUNT_POINTS = ['/proc', '/dev', '/sys'];

/** Files of the container directory bind-mounted over the root's, as Docker does (never written into the upper). */
export const ETC_FILES = ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf'] as const;

export interface RuntimeSpecInput {
  record: ContainerRecord;
  user: ProcessUser;
  /** The mounted merged view. */
  rootfs: string;
  /** The process's argv: Entrypoint + Cmd, or what `exec` runs. */
  args: string[];
  terminal: boolean;
  /** Host files for ETC_FILES, by container path. */
  etcFiles: Record<(typeof ETC_FILES)[number], string>;
  /** Host path serving each -v/--mount source and --tmpfs backing is not needed: tmpfs is a real tmpfs here. */
  mountSource: (mount: Exclude<MountSpec, { type: 'tmpfs' }>) => string;
}

export function runtimeSpec(input: RuntimeSpecInput): Record<string, unknown> {
  const { record, user } = input;
  const network: NetworkMode = record.network ?? 'none';
  const root = user.uid === 0;
  const capabilities = {
    bounding: DEFAULT_CAPABILITIES,
    // Since Docker 20.10 a non-root user starts with no effective or permitted capabilities (moby#41867).
    effective: root ? DEFAULT_CAPABILITIES : [],
    permitted: root ? DEFAULT_CAPABILITIES : [],
  };
  const namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'mount' }];
  // --network host shares the host's network and host name, as Docker's host mode.
  if (network === 'none') namespaces.push({ type: 'network' }, { type: 'uts' });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: input.terminal,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args: input.args,
      env: processEnv(record, user, input.terminal),
      cwd: record.config?.workingDir || '/',
      capabilities,
      noNewPrivileges: false,
    },
    root: { path: input.rootfs, readonly: record.readOnly },
    ...(network === 'none' ? { hostname: record.config?.hostname ?? record.id.slice(0, 12) } : {}),
    mounts: [...SYSTEM_MOUNTS, ...etcMounts(input), ...containerMounts(input)],
    linux: {
      namespaces,
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      // Deny every device but the ones runc always allows (null, zero, full, tty, random, urandom, pts).
      resources: { devices: [{ allow: false, access: 'rwm' }] },
    },
  };
}

/**
 * Docker's environment (container.CreateDaemonEnvironment): PATH (the default
 * unless the config sets one, in place), HOSTNAME, TERM with -t, then the config's
 * other entries; HOME from /etc/passwd when missing, as runc would add it at exec.
 */
export function processEnv(record: ContainerRecord, user: ProcessUser, terminal: boolean): string[] {
  const base = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${record.config?.hostname ?? record.id.slice(0, 12)}`];
  if (terminal) base.push('TERM=xterm');
  const env = replaceOrAppend(
    base,
    (record.config?.env ?? []).filter((e) => e.includes('=')),
  );
  return env.some((e) => e.startsWith('HOME=')) ? env : [...env, `HOME=${user.home}`];
}

function replaceOrAppend(base: string[], entries: string[]): string[] {
  const result = [...base];
  for (const entry of entries) {
    const key = entry.slice(0, entry.indexOf('='));
    const at = result.findIndex((e) => e.slice(0, e.indexOf('=')) === key);
    if (at >= 0) result[at] = entry;
    else result.push(entry);
  }
  return result;
}

function etcMounts(input: RuntimeSpecInput): OciMount[] {
  return ETC_FILES.map((destination) => ({
    destination,
    type: 'bind',
    source: input.etcFiles[destination],
    options: ['rbind', 'rprivate'],
  }));
}

/** --tmpfs as a real tmpfs (Docker's defaults noexec,nosuid,nodev, then what was typed); -v and --mount as binds. */
function containerMounts(input: RuntimeSpecInput): OciMount[] {
  return input.record.mounts.map((mount): OciMount => {
    if (mount.type === 'tmpfs') {
      const typed = (mount.options ?? '').split(',').filter((o) => o !== '');
      const { mode } = parseTmpfsOptions(mount.options ?? '');
      // runc gives a tmpfs its mount point's mode unless told: say strata's default (1777, as the view has it) outright.
      const withMode = typed.some((o) => o.startsWith('mode=')) ? typed : [...typed, `mode=${mode.toString(8)}`];
      return { destination: mount.destination, type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', ...withMode] };
    }
    const options = ['rbind', 'rprivate', ...(mount.readOnly ? ['ro'] : [])];
    return { destination: mount.destination, type: 'bind', source: input.mountSource(mount), options };
  });
}
