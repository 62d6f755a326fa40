import fs from 'node:fs/promises';
import type { ResolverStats } from '../resolver/options.js';
import { xattr } from '../xattr.js';

const CAPABILITY_XATTR = 'security.capability';

/**
 * Whether an entry of the container differs from the image's entry at the same path,
 * by the rule of moby's naive diff (pkg/archive changes_unix.go statDifferent, plus its
 * security.capability comparison): type and mode, owner, device number, and for all
 * but directories size and mtime. Not ctime, inode or link count — copy-up changes
 * those without changing the file — and not a directory's size or mtime, which change
 * whenever an entry inside does (moby#9874).
 */
export async function statChanged(image: ResolverStats, container: ResolverStats): Promise<boolean> {
  if (image.type !== container.type || image.mode !== container.mode) return true;
  if (image.uid !== container.uid || image.gid !== container.gid || image.rdev !== container.rdev) return true;
  if (container.type === 'dir') return false;
  if (image.size !== container.size) return true;
  if (!sameMtime(await mtimeNs(image), await mtimeNs(container))) return true;
  if (container.type === 'symlink') return false;
  return !sameBytes(await capability(image.hostPath), await capability(container.hostPath));
}

/**
 * moby's sameFsTimeSpec: equal seconds, and equal nanoseconds unless either side has
 * none (a tar header or a filesystem without sub-second times).
 */
function sameMtime(a: bigint | null, b: bigint | null): boolean {
  if (a === null || b === null) return a === b;
  const second = 1_000_000_000n;
  if (a / second !== b / second) return false;
  const na = a % second;
  const nb = b % second;
  return na === nb || na === 0n || nb === 0n;
}

async function mtimeNs(stats: ResolverStats): Promise<bigint | null> {
  if (stats.hostPath === null) return null;
  return (await fs.lstat(stats.hostPath, { bigint: true })).mtimeNs;
}

async function capability(hostPath: string | null): Promise<Buffer | null> {
  if (hostPath === null) return null;
  return (
    (await xattr()
      .getAttribute(hostPath, CAPABILITY_XATTR)
      .catch(() => null)) ?? null
  );
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}
