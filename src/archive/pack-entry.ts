import type { Readable } from 'node:stream';

/** What a tar entry is; `whiteout` and `opaque` are written in the OCI wire encoding. */
export type PackEntryKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'whiteout' | 'opaque';

/**
 * One entry for the tar writer, as plain data: whoever produces it (a container's
 * merged view, a layer being built, an image being saved) has already decided every
 * field, so the writer only encodes. `path` is the archive name without a trailing
 * `/`; a `whiteout` names the path it deletes and an `opaque` the directory it makes
 * opaque, and the writer turns them into `.wh.NAME` and `DIR/.wh..wh..opq`.
 */
export interface PackEntry {
  path: string;
  kind: PackEntryKind;
  /** Permission bits with setuid, setgid and sticky (only & 0o7777 is written). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch; fractions are dropped, as docker's ustar headers drop them. */
  mtime: number;
  /** Files: the number of bytes `open` yields (or `content` holds). */
  size?: number;
  /** Symlinks: the target as stored. Hardlinks: the archive name of the earlier entry. */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes, values as raw bytes; written as pax `SCHILY.xattr.NAME` records. */
  xattrs?: Iterable<[string, Buffer]>;
  /** Files: the content, streamed. */
  open?: () => Promise<Readable> | Readable;
  /** Files: the content, when it is small and already in memory (instead of `open`). */
  content?: Buffer;
}
