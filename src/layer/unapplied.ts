import fs from 'node:fs';
import { xattr } from '../xattr.js';
import type { LayerRecord } from './record.js';
import type { EntryMeta } from './entry-path.js';
import type { TarXattr } from './tar-header-check.js';

/*
 * Metadata that a process may not be allowed to apply. Ownership and xattrs are kept
 * as data when privileges allow; when they do not, the fact goes into layer.json
 * (DESIGN.md "Safety rules") for the resolver to report — a recorded fact, not an error.
 */
type Unapplied = LayerRecord['unapplied'];
type UnappliedKind = keyof Unapplied;
const UNAPPLIED_KINDS: UnappliedKind[] = ['owners', 'devices', 'xattrs'];

/** What could not be applied, by real layer path, for the paths that still exist at the end. */
export class UnappliedLog {
  private readonly maps = { owners: new Map(), devices: new Map(), xattrs: new Map() } as {
    [K in UnappliedKind]: Map<string, Unapplied[K][string]>;
  };
  /** When each path's records were last written, and when each removed directory went. */
  private readonly written = new Map<string, number>();
  private readonly removedDirs = new Map<string, number>();
  private clock = 0;

  /** Records (or, with null, clears) what `rel` is missing of one kind. */
  set<K extends UnappliedKind>(kind: K, rel: string, value: Unapplied[K][string] | null): void {
    if (value === null) {
      this.maps[kind].delete(rel);
      return;
    }
    this.maps[kind].set(rel, value);
    this.written.set(rel, ++this.clock);
  }

  /** `rel` was removed or is being made anew; a directory takes everything below it along. */
  forget(rel: string, subtree: boolean): void {
    for (const kind of UNAPPLIED_KINDS) this.maps[kind].delete(rel);
    // Deleting a subtree's records one by one would scan every record per removed
    // directory (quadratic for a hostile layer); a timestamp drops them in toRecord().
    if (subtree) this.removedDirs.set(rel, ++this.clock);
  }

  /** A hardlink shares the inode, so it shares what the inode is missing. */
  copy(from: string, to: string): void {
    for (const kind of UNAPPLIED_KINDS) this.set(kind, to, this.maps[kind].get(from) ?? null);
  }

  /** Keys as layer.json has them: `/`-rooted and sorted, so equal layers give equal records. */
  toRecord(): Unapplied {
    const live = (rel: string) => {
      const written = this.written.get(rel) ?? 0;
      for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1)) {
        if ((this.removedDirs.get(rel.slice(0, i)) ?? 0) > written) return false;
      }
      return true;
    };
    const out = {} as { [K in UnappliedKind]: Record<string, unknown> };
    for (const kind of UNAPPLIED_KINDS) {
      const map = this.maps[kind] as Map<string, unknown>;
      out[kind] = Object.fromEntries(
        [...map.keys()]
          .filter(live)
          .sort()
          .map((rel) => [`/${rel}`, map.get(rel)]),
      );
    }
    return out as Unapplied;
  }
}

/**
 * Files we create are ours: root's (0/0) when privileged, the user's when not. Root
 * changes the owner to the header's; a rootless unpack records every owner that is
 * not 0/0 (the resolver shows the rest as root-owned, as rootless Docker does).
 * A root in a user namespace may be refused ids outside its map: recorded too.
 */
export function applyOwner(
  target: string | number,
  rel: string,
  meta: Pick<EntryMeta, 'uid' | 'gid'>,
  privileged: boolean,
  log: UnappliedLog,
): void {
  const applied = (meta.uid === 0 && meta.gid === 0) || (privileged && changeOwner(target, meta));
  log.set('owners', rel, applied ? null : { uid: meta.uid, gid: meta.gid });
}

function changeOwner(target: string | number, meta: Pick<EntryMeta, 'uid' | 'gid'>): boolean {
  try {
    if (typeof target === 'number') fs.fchownSync(target, meta.uid, meta.gid);
    else fs.lchownSync(target, meta.uid, meta.gid);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EINVAL') return false;
    throw err;
  }
}

/** errnos that say the store is in trouble rather than "this xattr is not allowed here". */
const FATAL_XATTR_ERRNOS = new Set([5 /* EIO */, 28 /* ENOSPC */, 30 /* EROFS */, 122 /* EDQUOT */]);

/**
 * Never taken from a tar: overlayfs' own namespaces (`trusted.overlay.*`, and
 * `user.overlay.*` under the userxattr mount option), where an image could steer
 * the kernel (redirects, metacopy, opaque), and strata's own rootless metadata
 * (`user.strata.*`, resolver/upper-meta.ts), which copy-up would carry into an upper
 * dir. Only whiteout.ts and the resolver write these. Recorded by name, value null.
 */
const RESERVED_XATTR_PREFIXES = ['trusted.overlay.', 'user.overlay.', 'user.strata.'];
/**
 * What is set on the file. Other namespaces (`system.*` but ACLs, a file system's
 * own) are kept as metadata without trying: setting them means something to one file
 * system and nothing to an image.
 */
const APPLIED_XATTR_PREFIXES = ['security.', 'trusted.', 'user.', 'system.posix_acl_access', 'system.posix_acl_default'];

/**
 * Sets an entry's xattrs, byte-exact, on the link itself (@napi-rs/xattr calls
 * lsetxattr). What is not set stays the file's metadata in layer.json, name → the
 * value in base64, for a later export or commit to write back: rootless, security.*
 * and trusted.* (EPERM), and anything the file system refuses (EOPNOTSUPP, ERANGE).
 * Reserved names are recorded with a null value and never written back.
 */
export function applyXattrs(abs: string, rel: string, xattrs: readonly TarXattr[], log: UnappliedLog): void {
  if (xattrs.length === 0) return;
  const kept: Record<string, string | null> = {};
  for (const { name, value } of xattrs) {
    if (RESERVED_XATTR_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      kept[name] = null;
      continue;
    }
    if (APPLIED_XATTR_PREFIXES.some((prefix) => name.startsWith(prefix)) && setXattr(abs, name, value)) continue;
    kept[name] = value.toString('base64');
  }
  log.set('xattrs', rel, Object.keys(kept).length > 0 ? kept : null);
}

function setXattr(abs: string, name: string, value: Buffer): boolean {
  try {
    xattr().setAttributeSync(abs, name, value);
    return true;
  } catch (err) {
    const errno = Number(/\(os error (\d+)\)/.exec((err as Error).message)?.[1]);
    if (FATAL_XATTR_ERRNOS.has(errno)) throw err;
    return false;
  }
}
