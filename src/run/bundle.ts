import fs from 'node:fs/promises';
import path from 'node:path';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { layerStackOptions } from '../image/view.js';
import { Resolver } from '../resolver/resolver.js';
import { containerDirs, type ContainerRecord } from '../container/record.js';
import { volumeDataDir } from '../volume/volume.js';
import { parseTmpfsOptions } from '../container/tmpfs-options.js';
import { resolveProcessUser, type ProcessUser } from './user.js';
import { DEFAULT_PATH, ETC_FILES, SYSTEM_MOUNT_POINTS, runtimeSpec } from './runtime-spec.js';
import type { MountPoint } from './init-points.js';

/**
 * containers/<id>/bundle/: the OCI bundle runc runs (config.json) and the files
 * bind-mounted over the container's /etc/hostname, /etc/hosts and /etc/resolv.conf.
 * Written again at every start, so a changed host resolv.conf reaches the next run.
 */
export interface BundlePaths {
  dir: string;
  config: string;
  /** init-points.json: the mount points made in the upper for this run (src/run/init-points.ts). */
  initPoints: string;
  /** The runtime's own log (JSON lines), read to tell a failed start from a failed command. */
  runtimeLog: string;
  /** stdout and stderr of a detached container (`strata logs`). */
  containerLog: string;
  etc: Record<(typeof ETC_FILES)[number], string>;
}

export function bundlePaths(store: Store, id: string): BundlePaths {
  const dir = path.join(store.paths.containerDir(id), 'bundle');
  return {
    dir,
    config: path.join(dir, 'config.json'),
    initPoints: path.join(dir, 'init-points.json'),
    runtimeLog: path.join(dir, 'runtime.log'),
    containerLog: path.join(store.paths.containerDir(id), 'container.log'),
    etc: {
      '/etc/hostname': path.join(dir, 'hostname'),
      '/etc/hosts': path.join(dir, 'hosts'),
      '/etc/resolv.conf': path.join(dir, 'resolv.conf'),
    },
  };
}

/** The container's root as the image and the upper make it, read by strata's own resolver (no mount needed). */
export async function rootView(store: Store, record: ContainerRecord): Promise<Resolver> {
  const { upper, work } = containerDirs(store, record.id);
  return new Resolver({ ...(await layerStackOptions(store, record.layers)), upperDir: upper, workDir: work, readOnly: true, mounts: [] });
}

export async function resolveUser(view: Resolver, spec: string): Promise<ProcessUser> {
  return resolveProcessUser(spec, (file) => view.readFile(file, 'utf8').catch(() => null));
}

/** What must exist in the root for the runtime's mounts: strata makes the missing ones outside the image's view. */
export async function mountPointsOf(record: ContainerRecord): Promise<MountPoint[]> {
  const points: MountPoint[] = [...SYSTEM_MOUNT_POINTS.map((p) => ({ path: p, kind: 'dir' as const }))];
  points.push(...ETC_FILES.map((p) => ({ path: p, kind: 'file' as const })));
  for (const mount of record.mounts) {
    const isFile = mount.type === 'bind' && (await fs.stat(mount.source).catch(() => null))?.isFile() === true;
    const mode = mount.type === 'tmpfs' ? { mode: parseTmpfsOptions(mount.options ?? '').mode } : {};
    points.push({ path: mount.destination, kind: isFile ? 'file' : 'dir', ...mode });
  }
  return points;
}

/**
 * Docker's checks before a start, done here so the exit code is Docker's: a command
 * that is not found is 127, one that cannot be executed is 126 (docker/cli
 * runStartContainerErr). Looked up through the image's own PATH in strata's resolver.
 */
export async function checkExecutable(view: Resolver, args: string[], env: string[], cwd: string): Promise<void> {
  const command = args[0];
  if (command === undefined) throw new StrataError('EUSAGE', 'No command specified');
  const candidates = command.includes('/')
    ? [path.posix.resolve(cwd, command)]
    : (env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH)
        .split(':')
        .filter((d) => d !== '')
        .map((dir) => path.posix.join(path.posix.resolve(cwd, dir), command));
  for (const candidate of candidates) {
    const st = await view.stat(candidate).catch(() => null);
    if (st === null) continue;
    if (st.type === 'dir') {
      if (command.includes('/')) throw notExecutable(command, 'is a directory');
      continue;
    }
    if ((st.mode & 0o111) === 0) {
      if (command.includes('/')) throw notExecutable(command, 'permission denied');
      continue;
    }
    return;
  }
  const where = command.includes('/') ? 'no such file or directory' : 'executable file not found in $PATH';
  throw new StrataError('ECOMMAND', `failed to create task for container: exec: "${command}": ${where}`, { path: command, found: 127 });
}

function notExecutable(command: string, reason: string): StrataError {
  return new StrataError('ECOMMAND', `failed to create task for container: exec: "${command}": ${reason}`, { path: command, found: 126 });
}

export interface WriteBundleOptions {
  record: ContainerRecord;
  user: ProcessUser;
  rootfs: string;
  terminal: boolean;
}

/** Writes the /etc files and config.json; returns the bundle's paths. */
export async function writeBundle(store: Store, options: WriteBundleOptions): Promise<BundlePaths> {
  const { record } = options;
  const paths = bundlePaths(store, record.id);
  await fs.mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const host = record.network === 'host';
  const hostname = record.config?.hostname ?? record.id.slice(0, 12);
  await fs.writeFile(paths.etc['/etc/hostname'], `${host ? (await hostFile('/etc/hostname')).trim() : hostname}\n`);
  await fs.writeFile(paths.etc['/etc/hosts'], host ? await hostFile('/etc/hosts') : LOOPBACK_HOSTS);
  await fs.writeFile(paths.etc['/etc/resolv.conf'], resolvConf(await hostFile('/etc/resolv.conf'), host));
  const spec = runtimeSpec({
    record,
    user: options.user,
    rootfs: options.rootfs,
    // create stored Entrypoint + Cmd (or what was given after IMAGE) as the command.
    args: record.command,
    terminal: options.terminal,
    etcFiles: paths.etc,
    mountSource: (mount) => (mount.type === 'volume' ? volumeDataDir(store, mount.name) : mount.source),
  });
  // A plain write, as the /etc files above: the bundle is made again before every
  // start and read only by the runc started next, after this write; a crash leaves
  // a file nobody reads until it is rewritten, so it needs neither fsync nor rename.
  await fs.writeFile(paths.config, JSON.stringify(spec));
  return paths;
}

/** Docker's /etc/hosts of a container with no network of its own to name. */
const LOOPBACK_HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
  '',
].join('\n');

/**
 * The host's resolv.conf as Docker passes it on: with the host's network as it is;
 * otherwise without loopback name servers (unreachable from another namespace),
 * and Google's two when none is left (moby libnetwork/resolvconf).
 */
function resolvConf(hostText: string, hostNetwork: boolean): string {
  if (hostNetwork) return hostText;
  const lines = hostText.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l));
  if (!lines.some((l) => /^\s*nameserver\s/.test(l))) lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return `${lines.filter((l, i) => l !== '' || i < lines.length - 1).join('\n')}\n`;
}

async function hostFile(file: string): Promise<string> {
  return fs.readFile(file, 'utf8').catch(() => '');
}
