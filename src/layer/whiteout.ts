import fs from 'node:fs/promises';
import path from 'node:path';
import { lstatSync, type Stats } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { xattr } from '../xattr.js';
import { StrataError } from '../errors.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';

const run = promisify(execFile);

/**
 * The one module that knows both whiteout encodings (DESIGN.md "Whiteouts").
 * On the wire (layer tars) whiteouts are always OCI-encoded; on disk a store uses
 * either the kernel's encoding (`overlay`) or the OCI one (`oci`). Unpack, resolver,
 * diff and du all ask here instead of testing names or device numbers themselves.
 */
export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

export type WireWhiteout = { kind: 'opaque' } | { kind: 'whiteout'; target: string };

/**
 * Classifies the last component of a layer-tar entry name. Returns null for an
 * ordinary name. `.wh.`, `.wh..`, `.wh...` and targets that are not a plain name
 * would hide the directory itself, its parent or something elsewhere: they are
 * invalid archives, never no-ops.
 */
export function parseWireWhiteout(base: string, entryName: string): WireWhiteout | null {
  if (base === OPAQUE_MARKER) return { kind: 'opaque' };
  if (!base.startsWith(WHITEOUT_PREFIX)) return null;
  const target = base.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..' || target.includes('/')) {
    throw new StrataError('EINVALIDARCHIVE', `whiteout entry ${JSON.stringify(entryName)} does not name a file`, { path: entryName });
  }
  return { kind: 'whiteout', target };
}

/** Records in `dir` that `name` was deleted from the layers below. */
export async function writeWhiteout(dir: string, name: string, format: WhiteoutFormat): Promise<void> {
  if (format === 'overlay') {
    // The kernel's whiteout: a character device 0/0, mode 0000 as Docker leaves it.
    await run('mknod', ['-m', '000', path.join(dir, name), 'c', '0', '0']);
  } else {
    const handle = await fs.open(path.join(dir, WHITEOUT_PREFIX + name), 'wx', 0o600);
    await handle.close();
  }
}

/** Marks `dir` opaque: nothing of the same path in lower layers shows through. */
export async function markOpaque(dir: string, format: WhiteoutFormat): Promise<void> {
  if (format === 'overlay') {
    await xattr().setAttribute(dir, OPAQUE_XATTR, 'y');
  } else {
    const handle = await fs.open(path.join(dir, OPAQUE_MARKER), 'w', 0o600);
    await handle.close();
  }
}

/**
 * Whether `dir` is marked opaque. Synchronous: it is asked on lookup and walk paths
 * where nearly every answer is "no", and one syscall beats a thread-pool round trip.
 */
export function isOpaqueDir(dir: string, format: WhiteoutFormat): boolean {
  if (format === 'overlay') {
    let value: Buffer | null;
    try {
      value = xattr().getAttributeSync(dir, OPAQUE_XATTR);
    } catch {
      return false;
    }
    return value !== null && value.toString() === 'y';
  }
  try {
    return lstatSync(path.join(dir, OPAQUE_MARKER), { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/**
 * If the directory entry `name` (with its lstat) is a whiteout, returns the name it
 * hides; otherwise null. In the oci format the opaque marker is neither a whiteout
 * nor a visible file: see isEncodingArtifact.
 *
 * A 0/0 character device is a whiteout in the oci format too: fuse-overlayfs, which
 * mounts stores of that encoding, reads it so and makes one for every deletion
 * (Linux lets anyone make a 0/0 device), so the resolver must read what it wrote. A
 * `.wh.`-named one is fuse-overlayfs' own bookkeeping beside an opaque marker: an
 * encoding artifact, like the marker.
 */
export function whiteoutTarget(name: string, st: Stats, format: WhiteoutFormat): string | null {
  const device = isWhiteoutDevice(st);
  if (format === 'overlay') return device ? name : null;
  if (name.startsWith(WHITEOUT_PREFIX)) return name === OPAQUE_MARKER || device ? null : name.slice(WHITEOUT_PREFIX.length);
  return device ? name : null;
}

/** The kernel's whiteout: a character device 0/0. */
export function isWhiteoutDevice(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Names that are part of the on-disk encoding and never shown in a merged view. */
export function isEncodingArtifact(name: string, format: WhiteoutFormat): boolean {
  return format === 'oci' && name.startsWith(WHITEOUT_PREFIX);
}

/**
 * True for any `.wh.`-prefixed name. On the wire such a name is always a whiteout or
 * an opaque marker, so it may never be used as a directory (`.wh.etc/file`): in the
 * oci format that directory could not be told apart from a whiteout of `etc`.
 */
export function isWhiteoutName(name: string): boolean {
  return name.startsWith(WHITEOUT_PREFIX);
}

/**
 * The directory entry that holds the whiteout of `name` on disk: the name itself in
 * the overlay format (a 0/0 device), `.wh.name` in the oci format. Unpack uses it to
 * let a later entry for `name` replace an earlier whiteout of it.
 */
export function whiteoutEntryName(name: string, format: WhiteoutFormat): string {
  return format === 'overlay' ? name : WHITEOUT_PREFIX + name;
}
