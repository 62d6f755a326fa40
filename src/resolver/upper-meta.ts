import { xattr } from '../xattr.js';
import { fsError } from '../errors.js';

/**
 * Rootless containers cannot chown or mknod in their upper dir, so what the container
 * believes (a file owned by 1000:1000, a device copied up from a layer that recorded
 * one) is kept in one user.* xattr on the upper entry — the upper-dir counterpart of
 * layer.json's `unapplied`. Only read and written when the resolver is rootless.
 */
export const UPPER_META_XATTR = 'user.strata.meta';

export interface UpperMeta {
  uid: number;
  gid: number;
  device?: { type: 'char' | 'block'; major: number; minor: number };
}

/**
 * The recorded owner (and device) of an upper entry, null when none is recorded.
 * `throwDenied`: a refusal for permissions (a user.* xattr needs read access, which
 * a 0000 file denies even its owner) is thrown rather than read as "none", so the
 * caller can retry with the owner bits opened (owner-fallback.ts).
 */
export async function readUpperMeta(hostPath: string, options: { throwDenied?: boolean } = {}): Promise<UpperMeta | null> {
  const raw = await xattr()
    .getAttribute(hostPath, UPPER_META_XATTR)
    .catch((err: unknown) => {
      if (options.throwDenied && /\(os error 13\)/.test(String((err as Error).message))) throw err;
      return null;
    });
  // The addon answers null for a value it was refused: listed (listxattr needs no
  // access to the file itself) yet unreadable is a refusal, not an absence; a list
  // refused too (a 0000 directory above) is thrown as it is.
  if (raw === null && options.throwDenied) {
    const names = await xattr()
      .listAttributes(hostPath)
      .catch((err: unknown) => {
        if (/\(os error 13\)/.test(String((err as Error).message))) throw err;
        return [] as string[];
      });
    if (names.includes(UPPER_META_XATTR)) throw fsError('EACCES', 'getxattr', UPPER_META_XATTR);
  }
  if (raw === null) return null;
  try {
    const value = JSON.parse(raw.toString()) as UpperMeta;
    return typeof value.uid === 'number' && typeof value.gid === 'number' ? value : null;
  } catch {
    return null;
  }
}

export async function writeUpperMeta(hostPath: string, meta: UpperMeta): Promise<void> {
  await xattr().setAttribute(hostPath, UPPER_META_XATTR, JSON.stringify(meta));
}

/** Linux's makedev(3): the st_rdev a recorded device would have had. */
export function makeDev(major: number, minor: number): number {
  const majorLow = major % 0x1000;
  const minorLow = minor % 0x100;
  return majorLow * 0x100 + minorLow + (minor - minorLow) * 0x1000 + (major - majorLow) * 2 ** 32;
}

/** Linux's major(3) and minor(3) of an st_rdev. */
export function devMajor(rdev: number): number {
  const high = Math.floor(rdev / 2 ** 32);
  return (Math.floor(rdev / 0x100) % 0x1000) + (high - (high % 0x1000));
}

export function devMinor(rdev: number): number {
  const middle = Math.floor(rdev / 0x1000) % 2 ** 32;
  return (rdev % 0x100) + (middle - (middle % 0x100));
}
