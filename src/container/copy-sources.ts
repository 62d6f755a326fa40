import fs from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { StrataError, isFsError, isStrataError } from '../errors.js';
import { typeOfStats } from '../resolver/lookup.js';
import { compareNames } from '../resolver/readdir.js';
import { makeDev } from '../resolver/upper-meta.js';
import { decompress } from '../archive/compression.js';
import { checkTarStart } from '../archive/tar-start.js';
import { describeTarError } from '../archive/tar-errors.js';
import { throwIfAborted, type TreeEntry, type TreeOptions } from './tree.js';
import {
  cleanPath,
  deviceNumbers,
  entryKind,
  entryMeta,
  hardlinkTargetPath,
  symlinkTarget,
  type EntryContext,
} from '../layer/entry-path.js';

/*
 * Where a copy's entries come from, besides a merged view (tree.ts viewTree):
 * a host file or directory, or a tar stream.
 */

/** A host file or directory as a tree; symlinks below the root are entries, never followed. */
export async function* hostTree(root: string, options: TreeOptions = {}): AsyncGenerator<TreeEntry> {
  const st = await (options.followRoot ? fs.stat(root) : fs.lstat(root));
  yield* hostEntries(root, [], st, new Map(), options.signal);
}

async function* hostEntries(
  abs: string,
  rel: string[],
  st: Stats,
  inodes: Map<string, string[]>,
  signal?: AbortSignal,
): AsyncGenerator<TreeEntry> {
  throwIfAborted(signal);
  const type = typeOfStats(st);
  const entry: TreeEntry = {
    rel,
    type,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: type === 'file' ? st.size : 0,
    atimeMs: st.atimeMs,
    mtimeMs: st.mtimeMs,
    rdev: st.rdev,
  };
  if (type === 'symlink') entry.linkTarget = await fs.readlink(abs);
  if (type === 'file') {
    const first = st.nlink > 1 ? inodes.get(`${st.dev}:${st.ino}`) : undefined;
    if (first !== undefined) Object.assign(entry, { hardlinkTo: first, size: 0 });
    else {
      if (st.nlink > 1) inodes.set(`${st.dev}:${st.ino}`, rel);
      // O_NOFOLLOW: what was lstat'ed as a file is not swapped for a link under us.
      entry.open = async () => (await fs.open(abs, constants.O_RDONLY | constants.O_NOFOLLOW)).createReadStream();
    }
  }
  yield entry;
  if (type !== 'dir') return;
  for (const name of (await fs.readdir(abs)).sort(compareNames)) {
    const child = path.join(abs, name);
    yield* hostEntries(child, [...rel, name], await fs.lstat(child), inodes, signal);
  }
}

/** The entries of a tar stream (plain, gzip or zstd), checked by the unpack name and header rules. */
export async function* tarTree(input: Readable, source: string): AsyncGenerator<TreeEntry> {
  const { stream: decompressed, compression } = await decompress(input);
  // Before the parser, so a few bytes of text are "not a tar archive", not its internals;
  // an archive that starts with its end marker is empty, as tar(1) reads it.
  let checked: Awaited<ReturnType<typeof checkTarStart>>;
  try {
    checked = await checkTarStart(decompressed, compression, source);
  } catch (err) {
    decompressed.destroy();
    throw describeTarError(err, compression, false, source);
  }
  const { start, stream } = checked;
  if (start === 'end') {
    stream.destroy();
    return;
  }
  const extract = tarExtract();
  const feeding = pipeline(stream, extract);
  feeding.catch(() => {}); // surfaced below, through the iterator or the final await
  try {
    for await (const item of extract) {
      const header = item.header;
      const ctx: EntryContext = { source, entry: header.name };
      const kind = entryKind(header, ctx);
      const rel = cleanPath(header.name, ctx, 'name');
      const meta = entryMeta(header, ctx);
      const mtimeMs = meta.mtime * 1000;
      const entry: TreeEntry = {
        rel,
        type: 'file',
        mode: meta.mode,
        uid: meta.uid,
        gid: meta.gid,
        size: 0,
        atimeMs: mtimeMs,
        mtimeMs,
        rdev: 0,
      };
      if (kind === 'file') Object.assign(entry, { size: header.size ?? 0, open: async () => item });
      else if (kind === 'hardlink') entry.hardlinkTo = hardlinkTargetPath(header.linkname ?? '', ctx);
      else if (kind === 'directory') entry.type = 'dir';
      else if (kind === 'symlink') Object.assign(entry, { type: 'symlink', linkTarget: symlinkTarget(header, ctx) });
      else {
        const { major, minor } = deviceNumbers(header, ctx);
        Object.assign(entry, { type: kind, rdev: makeDev(major, minor) });
      }
      yield entry;
      item.resume(); // whatever the sink did not read (a skipped entry) is drained
    }
    await feeding;
  } catch (err) {
    if (isStrataError(err) || isFsError(err)) throw err;
    throw new StrataError('EINVALIDARCHIVE', `${source}: not a valid tar archive: ${(err as Error).message}`, { path: source, cause: err });
  } finally {
    extract.destroy();
    stream.destroy();
  }
}
