import fs from 'node:fs';
import { StrataError } from '../errors.js';
import { runTool } from './tool.js';
import { assertNameable, assertStackable, MOUNT_DATA_LIMIT, optionsTooLong, overlayData, type OverlayDirs } from './overlay-options.js';

/**
 * The two ways strata mounts a merged view:
 * - `kernel`: overlayfs, for root on a store in the kernel's encoding (0/0 devices,
 *   trusted.overlay.opaque), which is what overlayfs reads;
 * - `fuse`: fuse-overlayfs, for a store in the `.wh.` encoding (which the kernel does
 *   not read) or a user without root (the kernel mount would only exist inside a
 *   user namespace; fusermount3 mounts where the user's shell sees it).
 */
export type MountEngine = 'kernel' | 'fuse';

/** `volatile`: no syncs of the upper, at umount included (see MountOptions.discardedAfter in mount.ts). */
export async function mountKernelOverlay(dirs: OverlayDirs, target: string, options: { volatile?: boolean } = {}): Promise<void> {
  assertStackable(dirs.lowers.length);
  assertNameable([...dirs.lowers, dirs.upper, dirs.work]);
  const extra = options.volatile ? ',volatile' : '';
  const byPath = overlayData(dirs) + extra;
  if (Buffer.byteLength(byPath) <= MOUNT_DATA_LIMIT) {
    await mountOverlay(byPath, target, {});
    return;
  }
  // Past one page, name each lower by an fd the mount binary inherits, resolved from
  // /proc/self/fd as its cwd (containers/storage does this after a re-exec): `3:4:…`
  // instead of ~90 bytes a layer reaches the kernel's 500. upper and work stay absolute,
  // so mountinfo still names the upper dir (src/usage/overlay-mounts.ts reads it).
  const fds: number[] = [];
  try {
    for (const lower of dirs.lowers) fds.push(fs.openSync(lower, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY));
    const byFd = overlayData({ ...dirs, lowers: fds.map((_, i) => String(3 + i)) }) + extra;
    if (Buffer.byteLength(byFd) > MOUNT_DATA_LIMIT) throw optionsTooLong(dirs.lowers.length, Buffer.byteLength(byFd));
    await mountOverlay(byFd, target, { cwd: '/proc/self/fd', fds });
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

async function mountOverlay(data: string, target: string, how: { cwd?: string; fds?: number[] }): Promise<void> {
  // `private` is a propagation flag mount(8) applies in a second call, not fs data:
  // the merged view never propagates into namespaces made later (moby#22260).
  const result = await runTool('mount', ['-t', 'overlay', 'overlay', '-o', `${data},private`, target], how);
  if (result.code !== 0) throw toolFailed('mount -t overlay', target, result.stderr);
}

/** fuse-overlayfs reads both whiteout encodings; it forks a daemon and returns once mounted. */
export async function mountFuseOverlay(dirs: OverlayDirs, target: string): Promise<void> {
  assertNameable([...dirs.lowers, dirs.upper, dirs.work]);
  const options = [`lowerdir=${dirs.lowers.join(':')}`, `upperdir=${dirs.upper}`, `workdir=${dirs.work}`].join(',');
  const result = await runTool('fuse-overlayfs', ['-o', options, target]).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') {
      throw new StrataError(
        'EUSAGE',
        `${target}: mounting needs fuse-overlayfs here (a store in the .wh. encoding, or no root); install it`,
        {
          path: target,
        },
      );
    }
    throw err;
  });
  if (result.code !== 0) throw toolFailed('fuse-overlayfs', target, result.stderr);
}

/**
 * Unmounts `target`. Lazy detaches it at once even while a process still uses it
 * (moby#33638); otherwise a busy mount is an error. A fuse mount made without root
 * can only be undone by fusermount.
 */
export async function unmountPoint(target: string, fsType: string, options: { lazy: boolean; privileged: boolean }): Promise<void> {
  const fuse = fsType.startsWith('fuse');
  const [command, args] =
    fuse && !options.privileged
      ? [await fusermount(), ['-u', ...(options.lazy ? ['-z'] : []), target]]
      : ['umount', [...(options.lazy ? ['-l'] : []), target]];
  const result = await runTool(command, args);
  if (result.code === 0) return;
  if (/busy/i.test(result.stderr)) {
    throw new StrataError('ECONFLICT', `${target}: still in use by a process; umount -f detaches it anyway`, { path: target });
  }
  throw toolFailed(command, target, result.stderr);
}

async function fusermount(): Promise<string> {
  const found = await runTool('fusermount3', ['-V']).then(
    (r) => r.code === 0,
    () => false,
  );
  return found ? 'fusermount3' : 'fusermount';
}

function toolFailed(tool: string, target: string, stderr: string): StrataError {
  const line = stderr.split('\n').find((l) => l.trim() !== '') ?? 'failed';
  return new StrataError('ESTORE', `${target}: ${tool}: ${line.replace(/^[a-z0-9-]+: /i, '')}`, { path: target });
}
