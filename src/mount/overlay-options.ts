import { StrataError } from '../errors.js';

/** What mount(2) takes as fs options: one page, less its terminating NUL. */
export const MOUNT_DATA_LIMIT = 4095;
/** The kernel's overlayfs stacks at most this many lower directories (OVL_MAX_STACK). */
export const MAX_LOWER_DIRS = 500;

/**
 * Options that pin the on-disk encoding to the one the resolver, diff and commit
 * read: no inode index (a reused upper or a lower that is another mount's upper
 * would fail with EBUSY, and copy-up would tie files to it), no metacopy and no
 * redirect_dir (both write xattrs meaning "the data is elsewhere", which a plain
 * walk of upper/ cannot follow; a renamed lower directory fails with EXDEV instead).
 */
const PINNED = ['index=off', 'redirect_dir=off', 'metacopy=off'];

export interface OverlayDirs {
  /** Top first, as lowerdir= lists them. */
  lowers: string[];
  upper: string;
  work: string;
}

/** The fs options of a kernel overlay mount, with lowers as given (paths or fd numbers). */
export function overlayData(dirs: OverlayDirs): string {
  return [`lowerdir=${dirs.lowers.join(':')}`, `upperdir=${dirs.upper}`, `workdir=${dirs.work}`, ...PINNED].join(',');
}

/**
 * overlayfs splits its options at `,` and lowerdir at `:`, and reads `\` as an
 * escape: a store path holding one cannot be named in them.
 */
export function assertNameable(dirs: string[]): void {
  for (const dir of dirs) {
    const bad = /[,:\\]/.exec(dir);
    if (bad) {
      throw new StrataError('EUSAGE', `${dir}: overlayfs options cannot name a path containing ${JSON.stringify(bad[0])}; move the store`, {
        path: dir,
      });
    }
  }
}

/** More lowers than the kernel stacks: said in those words, not the kernel's. */
export function assertStackable(layerCount: number): void {
  if (layerCount > MAX_LOWER_DIRS) {
    throw new StrataError('ELIMIT', `${layerCount} layers: the kernel's overlayfs stacks at most ${MAX_LOWER_DIRS} lower directories`, {
      expected: MAX_LOWER_DIRS,
      found: layerCount,
    });
  }
}

/** Options past the page: the real cause, where the kernel would cut them and complain about something else. */
export function optionsTooLong(layerCount: number, bytes: number): StrataError {
  return new StrataError('ELIMIT', `${layerCount} layers need ${bytes} bytes of mount options; the kernel takes ${MOUNT_DATA_LIMIT}`, {
    expected: MOUNT_DATA_LIMIT,
    found: bytes,
  });
}
