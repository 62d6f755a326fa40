import os from 'node:os';
import { fsError } from '../errors.js';
import { xattr } from '../xattr.js';

/** strata's own bookkeeping namespace: resolver/upper-meta.ts keeps a rootless owner in `user.strata.meta`. */
const STRATA_XATTRS = 'user.strata.';

/**
 * The extended attributes of a file of a container's view that belong to the image
 * and go into archives (export, `cp … -`): the namespaces unpack applies
 * (`security.*`, `trusted.*`, `user.*`), as raw bytes. Left out:
 * - overlayfs' own (`trusted.overlay.*`, and `user.overlay.*` of userxattr mounts):
 *   an opaque or redirect marker belongs to the on-disk encoding, not to the file;
 * - strata's own (`user.strata.*`: the record of a rootless owner);
 * - `security.selinux`: the label the host's policy gave the file here, which Docker
 *   and containerd leave out of archives too;
 * - `system.*`: POSIX ACLs, which tar carries in records of their own.
 */
export async function archivedXattrs(hostPath: string, viewPath: string): Promise<Array<[string, Buffer]>> {
  const names = await xattr()
    .listAttributes(hostPath)
    .catch((err: unknown) => unsupportedIsNone(err, 'listxattr', viewPath));
  const kept: Array<[string, Buffer]> = [];
  for (const name of names.filter(isArchived).sort()) {
    const value = await xattr()
      .getAttribute(hostPath, name)
      .catch((err: unknown) => unsupportedIsNone(err, 'getxattr', viewPath));
    if (Array.isArray(value)) continue;
    if (value === null) {
      // The addon answers null both for a name removed since the list (not there) and for
      // a value it was refused (a user.* value of a 0000 file): still listed is a refusal,
      // which the caller may retry as the owner (Resolver.readHost), never a silent gap.
      const still = await xattr()
        .listAttributes(hostPath)
        .catch(() => [] as string[]);
      if (still.includes(name)) throw fsError('EACCES', 'getxattr', viewPath);
      continue;
    }
    kept.push([name, value]);
  }
  return kept;
}

/**
 * The xattrs on disk with those a rootless unpack could only record in layer.json
 * (recorded-xattrs.ts: security.capability and the like, which an unprivileged user
 * cannot set): an archive of a rootless store carries the image's values, as one of
 * a root store does. A name kept without its value (null) cannot be written back.
 */
export function withRecordedXattrs(onDisk: Array<[string, Buffer]>, recorded: Map<string, Buffer | null>): Array<[string, Buffer]> {
  const kept = new Map(onDisk);
  for (const [name, value] of recorded) if (value !== null && isArchived(name) && !kept.has(name)) kept.set(name, value);
  return [...kept].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function isArchived(name: string): boolean {
  if (!/^(security|trusted|user)\./.test(name)) return false;
  if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) return false;
  return !name.startsWith(STRATA_XATTRS) && name !== 'security.selinux';
}

/**
 * A filesystem without xattrs (EOPNOTSUPP) or an attribute gone since the list
 * (ENODATA) is no attribute. Anything else is an fs error naming the view's path
 * (host paths stay out of messages); the addon reports only "(os error N)".
 */
function unsupportedIsNone(err: unknown, syscall: string, viewPath: string): never[] {
  const errno = Number(/\(os error (\d+)\)/.exec(String((err as Error).message))?.[1]);
  if (errno === os.constants.errno.EOPNOTSUPP || errno === os.constants.errno.ENODATA) return [];
  const code = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? 'EIO';
  throw fsError(code, syscall, viewPath);
}
