import path from 'node:path';
import type { LayerRecord } from '../layer/record.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';
import { StrataError } from '../errors.js';
import { ResolverMemo } from './lower-cache.js';

/** What a rootless unpack could not apply to one layer (layer.json `unapplied`). */
export type LayerMetadata = LayerRecord['unapplied'];

/** A --tmpfs, -v or bind mount: a container path served by a plain host path. */
export interface ResolverMount {
  /** Absolute container path, e.g. `/data`. */
  path: string;
  /** Host directory (or file) that serves it; its content is never whiteout-decoded. */
  source: string;
  readOnly: boolean;
  /** Bytes of file data the mount holds at most, counted in pages like a tmpfs `size=`; writes past it fail with ENOSPC. */
  sizeLimit?: number;
}

export interface ResolverOptions {
  /** Read-only layer directories, TOP layer first, as overlayfs `lowerdir=`. */
  lowerDirs: string[];
  /** The writable layer; absent = a read-only view of the lowers (image view). */
  upperDir?: string;
  /**
   * Scratch space on the same filesystem as upperDir (overlayfs' workdir). Copy-ups,
   * whiteouts over existing entries and directory removals are prepared here and
   * renamed into place, so a crash never leaves a half-copied file in the upper.
   * Without it the scratch entries are made next to their target.
   */
  workDir?: string;
  /** The store's whiteout encoding; applies to upper and lowers alike. */
  format: WhiteoutFormat;
  /** Every change fails with EROFS (`docker run --read-only`). */
  readOnly?: boolean;
  /** Resolved before the layers; each obeys its own readOnly. */
  mounts?: ResolverMount[];
  /** Per lower dir, same order as lowerDirs: ownership and devices a rootless unpack recorded. */
  lowerMetadata?: (LayerMetadata | undefined)[];
  /** Ownership that was not recorded is reported as 0:0 (the container's root), as rootless Docker shows it. */
  rootless?: boolean;
  /**
   * The process runs as root (the caller says so; the resolver asks no uid): copy-up
   * keeps owners and may copy device nodes, as the kernel does. Default false.
   */
  privileged?: boolean;
  /** Applied to the mode of every created file and directory, as the kernel applies a process umask. Default 0o022. */
  umask?: number;
  /**
   * Awaited before and after every change (after also when the change failed), so
   * whoever caches facts about the upper dir (du's usage cache) can tell that it
   * moved. Before and after, because a reader may be walking the upper meanwhile:
   * its snapshot is stale whichever side of the change it read. A throw before the
   * change stops it; a throw after a failed change is dropped for the change's error.
   */
  onChange?: () => Promise<void>;
  /**
   * Wraps every change (and every `batch`): the caller's lock against other writers
   * of the same upper dir, e.g. another process. containerView passes the container's
   * lock. Taken before the change queues behind this view's earlier changes, so a
   * change made inside a `batch` never waits for one that waits for the batch.
   */
  exclusive?: Exclusive;
}

/** Runs `work` while holding whatever keeps other writers out; re-entrant within `work`. */
export type Exclusive = <T>(work: () => Promise<T>) => Promise<T>;

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

/** Which layer served an entry: the upper, a lower (index into lowerDirs), or a mount. */
export type LayerId = 'upper' | number | 'mount';

export interface ResolverStats {
  type: EntryType;
  /** Permission bits including setuid, setgid and sticky (st_mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  /** 1 for a directory merged from more than one layer, as overlayfs reports it. */
  nlink: number;
  rdev: number;
  ino: number;
  blocks: number;
  layer: LayerId;
  /** The host file that holds this entry (for du and export; never shown in errors). */
  hostPath: string | null;
}

export interface ResolverDirent {
  name: string;
  type: EntryType;
}

/** Resolver options after validation, with every default applied in one place. */
export interface Context {
  lowers: string[];
  upper: string | null;
  work: string | null;
  format: WhiteoutFormat;
  readOnly: boolean;
  mounts: ResolverMount[];
  lowerMetadata: (LayerMetadata | undefined)[];
  rootless: boolean;
  /** Ownership is copied on copy-up and chown is real: root and not rootless. */
  ownsFiles: boolean;
  /** The process may read and write any file (root): no owner-bit fallback is ever needed. */
  privileged: boolean;
  umask: number;
  onChange: (() => Promise<void>) | null;
  exclusive: Exclusive | null;
  memo: ResolverMemo;
}

export function makeContext(o: ResolverOptions): Context {
  for (const dir of [...o.lowerDirs, o.upperDir, o.workDir]) {
    if (dir !== undefined && !path.isAbsolute(dir))
      throw new StrataError('EUSAGE', `resolver: layer directories must be absolute paths: ${dir}`, { path: dir });
  }
  const mounts = (o.mounts ?? []).map((m) => ({ ...m, path: normalizeMountPath(m.path) }));
  const rootless = o.rootless ?? false;
  return {
    lowers: [...o.lowerDirs],
    upper: o.upperDir ?? null,
    work: o.workDir ?? null,
    format: o.format,
    readOnly: o.readOnly ?? false,
    mounts,
    lowerMetadata: o.lowerMetadata ?? [],
    rootless,
    ownsFiles: !rootless && (o.privileged ?? false),
    privileged: o.privileged ?? false,
    umask: o.umask ?? 0o022,
    onChange: o.onChange ?? null,
    exclusive: o.exclusive ?? null,
    memo: new ResolverMemo(),
  };
}

function normalizeMountPath(p: string): string {
  if (!p.startsWith('/')) throw new StrataError('EUSAGE', `resolver: mount paths must be absolute container paths: ${p}`, { path: p });
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}
