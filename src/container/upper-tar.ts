import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { PackEntry } from '../archive/pack-entry.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';
import { withOwnerAccess, type AccessNeed } from '../store/owner-access.js';
import { isAccessDenied } from '../resolver/owner-fallback.js';
import { devMajor, devMinor, readUpperMeta, type UpperMeta } from '../resolver/upper-meta.js';
import { archivedXattrs } from './entry-xattrs.js';
import { xattr } from '../xattr.js';
import type { SkippedEntry } from './tree-tar.js';
import { listUpperDir } from './upper-names.js';

/*
 * A container's upper directory as the entries of an OCI layer tar: what `commit`
 * stores. Only the upper is read — it holds every path the container changed, in
 * either whiteout encoding — so the work is proportional to the changes, not the image.
 */

export interface UpperTarOptions {
  upperDir: string;
  format: WhiteoutFormat;
  /** A store made without root: owners and devices are recorded in user.strata.meta, and 0000 entries are opened as their owner. */
  rootless: boolean;
  /** Container paths (`/data`) of the container's volumes, tmpfs and bind mounts. */
  mountTargets: string[];
  /** Whether the image below the container has this container path; asked only for mount targets and their ancestors. */
  imageHas: (containerPath: string) => Promise<boolean>;
  /** Seconds since 1970: later mtimes are clamped to it. */
  sourceDateEpoch?: number;
  /** Called for each entry a tar cannot hold (sockets), which is left out. */
  onSkipped?: (entry: SkippedEntry) => void;
  signal?: AbortSignal;
}

/**
 * Files up to this size are read whole and synchronously as they are reached: one
 * open and read instead of a stream's thread-pool round trips, which dominate for the
 * many small files of a typical change. Only one such file is held at a time.
 */
const SMALL_FILE = 256 * 1024;

interface Walk {
  options: UpperTarOptions;
  /** dev:ino of files already written → their archive name: later names become hardlink entries. */
  inodes: Map<string, string>;
  /** Directories (and their opaque markers) held back until something is written below them. */
  pending: PackEntry[];
}

/**
 * The layer's entries: every upper directory (its own metadata) before its children,
 * names in byte order within a directory (Go's WalkDir, which Docker's commit uses),
 * whiteouts as `.wh.NAME` at NAME's place, an opaque directory's `.wh..wh..opq` right
 * after it, files sharing an inode as one file and hardlink entries to it.
 *
 * Whiteouts are recognised before inodes are grouped: the kernel makes every whiteout
 * of an upper one shared 0/0 device (Docker then writes whiteouts whose link name
 * points at another whiteout), and a whiteout is never a link.
 *
 * Left out: the root, sockets (reported), overlay's and strata's own xattrs, whatever
 * lies below a mount target, and a mount target (with the parents made for it) that
 * the image lacks and that holds nothing else: the runtime made those for the mount.
 * A name the container created that starts with `.wh.` is refused: in the layer it
 * would delete files of the image below.
 */
export async function* upperTarEntries(options: UpperTarOptions): AsyncGenerator<PackEntry> {
  const walk: Walk = { options, inodes: new Map(), pending: [] };
  yield* walkDir(walk, options.upperDir, '', null);
}

/** One upper directory: its entry (null for the root, which no layer carries), its opaque marker, then what it holds. */
async function* walkDir(walk: Walk, hostDir: string, rel: string, dir: PackEntry | null): AsyncGenerator<PackEntry> {
  const { options } = walk;
  // Below a mount target lies only what the mount hid: not even its names are looked at.
  const listing = options.mountTargets.includes(`/${rel}`)
    ? { names: [], opaque: false }
    : await asOwner(walk, hostDir, 0o500, async () => listUpperDir(hostDir, rel, options.format));
  const heldBack = walk.pending.length;
  if (dir !== null) {
    const marker: PackEntry | null = listing.opaque ? opaqueMarker(dir) : null;
    const held = [dir, ...(marker ? [marker] : [])];
    if (await madeForMount(walk, `/${rel}`)) walk.pending.push(...held);
    else for (const entry of held) yield* emit(walk, entry);
  }
  for (const item of listing.names) {
    throwIfAborted(options.signal);
    const entryRel = rel === '' ? item.name : `${rel}/${item.name}`;
    const containerPath = `/${entryRel}`;
    const host = path.join(hostDir, item.onDisk);
    if (item.whiteout) {
      yield* emit(walk, whiteoutEntry(entryRel));
      continue;
    }
    const st = item.st;
    if (st.isSocket()) {
      options.onSkipped?.({ path: containerPath, type: 'socket', reason: 'a tar archive cannot hold a socket' });
      continue;
    }
    // A file mount point (a bind-mounted file) the image lacks was made for the mount.
    if (!st.isDirectory() && options.mountTargets.includes(containerPath) && (await madeForMount(walk, containerPath))) continue;
    const entry = await describe(walk, host, entryRel, st);
    if (st.isDirectory()) yield* walkDir(walk, host, entryRel, entry);
    else yield* emit(walk, entry);
  }
  // Nothing was written below a held-back directory: it was made for a mount only.
  walk.pending.length = Math.min(walk.pending.length, heldBack);
}

/** Writes the held-back parents first, then `entry`. */
function* emit(walk: Walk, entry: PackEntry): Generator<PackEntry> {
  yield* walk.pending;
  walk.pending.length = 0;
  yield entry;
}

/** A mount target, or a parent of one, that the image does not have. */
async function madeForMount(walk: Walk, containerPath: string): Promise<boolean> {
  const { mountTargets, imageHas } = walk.options;
  if (!mountTargets.some((m) => m === containerPath || m.startsWith(`${containerPath}/`))) return false;
  return !(await imageHas(containerPath));
}

/**
 * Whiteouts carry nothing of the device or file that encodes them: mode 0600, owner
 * root, mtime 0 (containerd's rule), so both encodings and every commit of the same
 * change write the same bytes.
 */
function whiteoutEntry(rel: string): PackEntry {
  return { path: rel, kind: 'whiteout', mode: 0o600, uid: 0, gid: 0, mtime: 0 };
}

/** Docker's opaque marker: the directory's permission bits and owner, mtime 0, no xattrs. */
function opaqueMarker(dir: PackEntry): PackEntry {
  return { path: dir.path, kind: 'opaque', mode: dir.mode & 0o777, uid: dir.uid, gid: dir.gid, mtime: 0 };
}

/** One upper entry as a tar entry: its own mode, owner (recorded ones in a rootless store), device, mtime and xattrs. */
async function describe(walk: Walk, host: string, rel: string, st: fs.Stats): Promise<PackEntry> {
  const { options } = walk;
  const meta = options.rootless ? await asOwner(walk, host, 0o400, () => readUpperMeta(host, { throwDenied: true })) : null;
  const base = {
    path: rel,
    mode: st.mode & 0o7777,
    uid: meta ? meta.uid : options.rootless ? 0 : st.uid,
    gid: meta ? meta.gid : options.rootless ? 0 : st.gid,
    mtime: clampTime(Math.floor(st.mtimeMs / 1000), options.sourceDateEpoch),
  };
  const xattrs = await xattrsOf(walk, host, rel);
  const withXattrs = xattrs.length > 0 ? { ...base, xattrs } : base;
  if (st.isDirectory()) return { ...withXattrs, kind: 'dir' };
  // Any non-directory may have several names (a hardlinked symlink too, umoci's repack test).
  if (st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = walk.inodes.get(key);
    // One inode, one set of xattrs: the tar says them on the first name only.
    if (first !== undefined) return { ...base, kind: 'hardlink', linkTarget: first };
    walk.inodes.set(key, rel);
  }
  if (st.isSymbolicLink()) return { ...withXattrs, kind: 'symlink', linkTarget: await fsp.readlink(host) };
  const device = deviceOf(st, meta);
  if (device !== null) return { ...withXattrs, ...device };
  if (st.isFIFO()) return { ...withXattrs, kind: 'fifo' };
  if (st.size <= SMALL_FILE) return { ...withXattrs, kind: 'file', content: await asOwner(walk, host, 0o400, async () => readSmall(host)) };
  return { ...withXattrs, kind: 'file', size: st.size, open: () => openAsOwner(walk, host) };
}

/**
 * Most upper entries have no xattrs at all: one synchronous listxattr says so without
 * a thread-pool round trip; anything else (or any error) takes entry-xattrs.ts's path.
 */
async function xattrsOf(walk: Walk, host: string, rel: string): Promise<Array<[string, Buffer]>> {
  let names: string[] | null;
  try {
    names = xattr().listAttributesSync(host);
  } catch {
    names = null;
  }
  if (names !== null && names.length === 0) return [];
  const foreign = names?.find((name) => /^(trusted|user)\.overlay\.(metacopy|redirect)$/.test(name));
  if (foreign !== undefined) {
    // Docker falls back to comparing whole trees here; the upper alone would commit an empty file or lose a rename.
    throw new StrataError(
      'ECONFLICT',
      `/${rel}: written by an overlay mount with metacopy or redirect_dir (${foreign}), which a commit of the upper dir cannot express`,
      { path: `/${rel}` },
    );
  }
  return asOwner(walk, host, 0o400, () => archivedXattrs(host, `/${rel}`));
}

function readSmall(host: string): Buffer {
  const fd = fs.openSync(host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function deviceOf(st: fs.Stats, meta: UpperMeta | null): Pick<PackEntry, 'kind' | 'devMajor' | 'devMinor'> | null {
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    return { kind: st.isCharacterDevice() ? 'char' : 'block', devMajor: devMajor(st.rdev), devMinor: devMinor(st.rdev) };
  }
  // A rootless store cannot mknod: a device is an empty file with the device recorded beside it.
  if (st.isFile() && st.size === 0 && meta?.device !== undefined) {
    return { kind: meta.device.type, devMajor: meta.device.major, devMinor: meta.device.minor };
  }
  return null;
}

function clampTime(seconds: number, epoch: number | undefined): number {
  return epoch !== undefined && seconds > epoch ? epoch : seconds;
}

async function openAsOwner(walk: Walk, host: string): Promise<Readable> {
  // The descriptor keeps the access once opened, whatever the mode is put back to.
  const handle = await asOwner(walk, host, 0o400, () => fsp.open(host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW));
  return handle.createReadStream();
}

/**
 * Runs `fn`; in a rootless store, a refusal for permissions (a 0000 file or
 * directory of the image, which root in the container would still reach) is retried
 * with the owner bits opened for the moment, as the resolver does (owner-fallback.ts).
 */
async function asOwner<T>(walk: Walk, host: string, bits: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!walk.options.rootless || !isAccessDenied(err)) throw err;
    return withOwnerAccess(reachInUpper(walk.options.upperDir, host, bits), fn);
  }
}

/** Search on every directory from the upper's root down to `host`'s parent, and `bits` on `host`. */
function reachInUpper(upperDir: string, host: string, bits: number): AccessNeed[] {
  const needs: AccessNeed[] = [];
  let at = upperDir;
  for (const part of path.relative(upperDir, host).split(path.sep).slice(0, -1)) {
    needs.push({ path: at, bits: 0o100 });
    at = path.join(at, part);
  }
  if (host !== upperDir) needs.push({ path: at, bits: 0o100 });
  needs.push({ path: host, bits });
  return needs;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new StrataError('EINTERRUPTED', 'interrupted');
}
