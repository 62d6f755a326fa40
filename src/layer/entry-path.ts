import type { Header } from 'tar-stream';
import { StrataError } from '../errors.js';
import { NAME_LIMITS } from './limits.js';
import { isWhiteoutName } from './whiteout.js';

/**
 * Stage one of the unpack safety pipeline: the rule for entry names and hardlink
 * targets, their length and depth (NAME_LIMITS in limits.ts, measured first, so a
 * hostile name costs no more than its measurement), and the checks on header types
 * and numbers — all before any file-system call. Everything that turns a tar name into a place on disk goes through here.
 *
 * The result is the list of path components below the layer root ([] is the root).
 * It holds no `.`, `..` or empty components, so later stages never see them.
 */
export type LayerPath = string[];

/** Names the layer and the entry in every error, as DESIGN.md asks. */
export interface EntryContext {
  source: string;
  entry: string;
}

export function invalidEntry(ctx: EntryContext, reason: string): StrataError {
  return new StrataError('EINVALIDARCHIVE', `${ctx.source}: entry ${quoteName(ctx.entry)}: ${reason}`, { path: ctx.entry });
}

/** A name or path past one of NAME_LIMITS (limits.ts): `expected` is the limit, `found` what the entry has. */
export function nameLimitExceeded(ctx: EntryContext, reason: string, limit: number, found: number): StrataError {
  return new StrataError('ELIMIT', `${ctx.source}: entry ${quoteName(ctx.entry)}: ${reason}, the limit is ${limit}`, {
    path: ctx.entry,
    expected: limit,
    found,
  });
}

const QUOTE_HEAD = 48;
const QUOTE_TAIL = 16;

/**
 * A name as messages show it: quoted, and cut in the middle when long, so that a
 * hostile 4 MiB name still makes a one-line error ("a/a/a/…/a/a").
 */
export function quoteName(name: string): string {
  if (name.length <= QUOTE_HEAD + QUOTE_TAIL + 1) return JSON.stringify(name);
  return JSON.stringify(`${name.slice(0, QUOTE_HEAD)}…${name.slice(-QUOTE_TAIL)}`);
}

/**
 * The UTF-8 bytes of `text` when they are more than `limit`, else null. A UTF-16 unit
 * never takes more than 3 bytes, so a short string is known to fit without encoding it.
 */
function bytesOver(text: string, limit: number): number | null {
  if (text.length * 3 <= limit) return null;
  const bytes = Buffer.byteLength(text);
  return bytes > limit ? bytes : null;
}

/**
 * The length check that comes before any other work on a name, so that a name of
 * megabytes costs one measurement and nothing else (NAME_LIMITS.maxPathBytes).
 */
export function checkPathBytes(text: string, ctx: EntryContext, what: string): void {
  const bytes = bytesOver(text, NAME_LIMITS.maxPathBytes);
  if (bytes !== null) throw nameLimitExceeded(ctx, `${what} is ${bytes} bytes`, NAME_LIMITS.maxPathBytes, bytes);
}

/** One component against NAME_MAX; `where` says whose component it is. */
export function checkComponentBytes(part: string, ctx: EntryContext, where: string): void {
  const bytes = bytesOver(part, NAME_LIMITS.maxComponentBytes);
  if (bytes !== null) throw nameLimitExceeded(ctx, `${where} has a component of ${bytes} bytes`, NAME_LIMITS.maxComponentBytes, bytes);
}

/**
 * A leading `/` or `./` is root-relative: real images carry both. `a/../b` is cleaned
 * lexically to `b`, as Docker and containerd do, but a `..` that climbs above the
 * layer root is refused, never clamped: a tar that names `../x` was made to escape
 * and nothing good comes from guessing what it meant (moby's breakout policy).
 */
export function cleanPath(name: string, ctx: EntryContext, what: string): LayerPath {
  checkPathBytes(name, ctx, what);
  // A NUL cannot be part of a Linux file name; the kernel would cut the name short
  // and we would write somewhere other than the name says.
  if (name.includes('\0')) throw invalidEntry(ctx, `${what} contains a NUL byte`);
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw invalidEntry(ctx, `${what} ${quoteName(name)} climbs above the layer root`);
      out.pop();
      continue;
    }
    checkComponentBytes(part, ctx, what);
    out.push(part);
  }
  // Depth of what lands on disk: `a/../b` is one level, however many it spells.
  if (out.length > NAME_LIMITS.maxDepth) {
    throw nameLimitExceeded(ctx, `${what} is ${out.length} levels deep`, NAME_LIMITS.maxDepth, out.length);
  }
  return out;
}

/**
 * The path of an entry. Its last component may be a whiteout (the caller asks
 * whiteout.ts); any other component may not: `.wh.etc/file` would be a directory
 * called `.wh.etc` in the overlay format but a whiteout of `etc` in the oci format,
 * so it cannot mean the same thing in both and is refused (containerd writes it
 * literally; we prefer one meaning everywhere).
 */
export function entryPath(name: string, ctx: EntryContext): LayerPath {
  const parts = cleanPath(name, ctx, 'name');
  for (const part of parts.slice(0, -1)) {
    if (isWhiteoutName(part)) throw invalidEntry(ctx, `whiteout name ${quoteName(part)} used as a directory`);
  }
  return parts;
}

/**
 * The target of a hardlink: root-relative like a name (kaniko writes absolute ones),
 * never above the root, and never a whiteout, which is not a file of this layer.
 */
export function hardlinkTargetPath(linkname: string, ctx: EntryContext): LayerPath {
  const parts = cleanPath(linkname, ctx, 'hardlink target');
  if (parts.length === 0) throw invalidEntry(ctx, 'hardlink target is the layer root');
  for (const part of parts) {
    if (isWhiteoutName(part)) throw invalidEntry(ctx, `hardlink target ${quoteName(linkname)} goes through a whiteout`);
  }
  return parts;
}

/** `/a/b` — the layer-relative form used in layer.json and in messages. */
export function layerRelative(parts: LayerPath): string {
  return `/${parts.join('/')}`;
}

/*
 * The header's type and numbers, checked like the names: before any file-system call.
 * What comes out is plain data the appliers can trust.
 */
export type EntryKind = 'file' | 'directory' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';

export interface EntryMeta {
  /** Permission bits with setuid/setgid/sticky; Docker's headers also carry type bits (040755). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, with the pax fraction when there is one. */
  mtime: number;
  /** From pax `SCHILY.xattr.<name>` records, in header order. */
  xattrs: Array<[string, string]>;
}

const KINDS: Record<string, EntryKind> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'hardlink',
  fifo: 'fifo',
  'character-device': 'char',
  'block-device': 'block',
};

/** Linux ids are 32-bit and (uid_t)-1 means "leave unchanged" to chown. */
const MAX_ID = 0xfffffffe;
/** Device numbers are unsigned 32-bit in tar (and in Go's archive/tar, which made most layers). */
const MAX_DEVICE_NUMBER = 0xffffffff;
const XATTR_PAX_PREFIX = 'SCHILY.xattr.';

/**
 * Unknown types (GNU sparse 'S', volume labels, multi-volume continuations…) are
 * refused rather than skipped, as containerd and moby do: skipping would make our
 * layer differ silently from what every other runtime unpacks.
 */
export function entryKind(header: Header, ctx: EntryContext): EntryKind {
  const kind = header.type ? KINDS[header.type] : undefined;
  if (kind === undefined) throw invalidEntry(ctx, `unsupported entry type ${JSON.stringify(header.type ?? 'unknown')}`);
  return kind;
}

export function entryMeta(header: Header, ctx: EntryContext): EntryMeta {
  const mode = header.mode ?? 0;
  if (!Number.isInteger(mode) || mode < 0) throw invalidEntry(ctx, `invalid mode ${String(header.mode)}`);
  // tar-stream applies pax path, linkpath and size; the other pax numbers (large
  // ids, sub-second mtimes, as Go's archive/tar writes them) are applied here.
  const pax = (header as { pax?: Record<string, string> | null }).pax ?? {};
  const uid = checkId(pax.uid ? Number(pax.uid) : (header.uid ?? 0), 'uid', ctx);
  const gid = checkId(pax.gid ? Number(pax.gid) : (header.gid ?? 0), 'gid', ctx);
  const mtime = pax.mtime ? Number(pax.mtime) : header.mtime ? header.mtime.getTime() / 1000 : 0;
  if (!Number.isFinite(mtime)) throw invalidEntry(ctx, 'invalid mtime');
  const xattrs: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(pax)) {
    if (key.startsWith(XATTR_PAX_PREFIX)) xattrs.push([key.slice(XATTR_PAX_PREFIX.length), value]);
  }
  return { mode: mode & 0o7777, uid, gid, mtime, xattrs };
}

/** Out-of-range major/minor numbers would wrap inside mknod and name another device. */
export function deviceNumbers(header: Header, ctx: EntryContext): { major: number; minor: number } {
  const major = header.devmajor ?? 0;
  const minor = header.devminor ?? 0;
  for (const [what, n] of [
    ['major', major],
    ['minor', minor],
  ] as const) {
    if (!Number.isInteger(n) || n < 0 || n > MAX_DEVICE_NUMBER) throw invalidEntry(ctx, `device ${what} number ${n} is out of range`);
  }
  return { major, minor };
}

export function symlinkTarget(header: Header, ctx: EntryContext): string {
  const target = header.linkname ?? '';
  if (target === '') throw invalidEntry(ctx, 'symlink has an empty target');
  // Only the length: a target is data, and where it leads is bounded when it is
  // followed (resolve-in-root.ts), as the kernel bounds it at lookup, not at symlink(2).
  checkPathBytes(target, ctx, 'symlink target');
  if (target.includes('\0')) throw invalidEntry(ctx, 'symlink target contains a NUL byte');
  return target;
}

function checkId(id: number, what: string, ctx: EntryContext): number {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw invalidEntry(ctx, `${what} ${id} is out of range`);
  return id;
}
