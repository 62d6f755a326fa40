import fs from 'node:fs/promises';
import path from 'node:path';
import { fsError, isFsError } from '../errors.js';
import type { Context } from './options.js';
import { onHost } from './host.js';
import { resolveExisting, resolvePath } from './walk-path.js';
import { ensureWritable } from './copy-up.js';
import { assertCreatableName, assertWritable, placeNew } from './upper.js';
import { statEntry } from './stat.js';
import { writeWithinQuota } from './mount-quota.js';
import { reach, withOwnerFallback } from './owner-fallback.js';

export type WriteData = string | Uint8Array | AsyncIterable<string | Uint8Array>;

/**
 * open(O_WRONLY|O_CREAT|O_TRUNC or O_APPEND) + write: follows a final symlink (a
 * dangling one creates its target, inside the root), copies a lower file up first
 * — all of it for an append, only its metadata when it is about to be truncated.
 */
export async function writeData(ctx: Context, cpath: string, data: WriteData, append: boolean, mode = 0o666): Promise<void> {
  const syscall = 'open';
  // open(O_CREAT) of `name/` is EISDIR whatever is there, before the name is looked at (open_last_lookups).
  const r = await resolvePath(ctx, cpath, !/[^/]\/+$/.test(cpath), syscall, 'name');
  if (r.trailingSlash) throw fsError('EISDIR', syscall, cpath);
  if (r.entry !== null) {
    if (r.entry.type === 'dir') throw fsError('EISDIR', syscall, cpath);
    assertWritable(ctx, r.entry, syscall, cpath);
    if (r.entry.type !== 'file') throw fsError('EINVAL', syscall, cpath, 'not a regular file');
    const host = await ensureWritable(ctx, r.entry, syscall, cpath, { truncate: !append });
    const mount = r.entry.mount;
    // A 0000 upper file of a rootless store is opened with its owner's write bit opened.
    await onHost(
      withOwnerFallback(
        ctx,
        () => reach(ctx, host, 0o200),
        () => writeInto(ctx, mount, host, append ? 'a' : 'w', data),
      ),
      'write',
      cpath,
    );
    return;
  }
  assertWritable(ctx, r.parent, syscall, cpath);
  assertCreatableName(ctx, r.name, syscall, cpath);
  const parentHost = await ensureWritable(ctx, r.parent, syscall, cpath);
  const what = { kind: 'file' as const, mode: mode & ~ctx.umask & 0o7777 };
  if (sizeLimited(ctx, r.parent.mount)) {
    // Made whole (mode settled) before the data, so a write past the size leaves a proper file, as on a tmpfs.
    await onHost(
      placeNew(ctx, parentHost, r.name, r.upperWhiteout, what, (host) => fs.writeFile(host, '', { flag: 'wx', mode: 0o600 })),
      'write',
      cpath,
    );
    await onHost(writeInto(ctx, r.parent.mount, path.join(parentHost, r.name), 'w', data), 'write', cpath);
    return;
  }
  await onHost(
    placeNew(ctx, parentHost, r.name, r.upperWhiteout, what, (host) => writeInto(ctx, r.parent.mount, host, 'wx', data)),
    'write',
    cpath,
  );
}

function sizeLimited(ctx: Context, mount: number | null): boolean {
  return mount !== null && ctx.mounts[mount]?.sizeLimit !== undefined;
}

async function writeInto(ctx: Context, mount: number | null, host: string, flag: 'w' | 'a' | 'wx', data: WriteData): Promise<void> {
  const limited = mount === null ? undefined : ctx.mounts[mount];
  if (limited?.sizeLimit !== undefined) return writeWithinQuota(host, flag, data, limited.source, limited.sizeLimit);
  const handle = await fs.open(host, flag, 0o600);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await handle.writeFile(data);
    } else {
      // Streams are written chunk by chunk: a file is never held in memory whole.
      for await (const chunk of data) await handle.writeFile(chunk);
    }
  } finally {
    await handle.close();
  }
}

/** mkdir(2): never follows a final symlink (EEXIST); over a whiteout the new directory is opaque. */
export async function mkdirOne(ctx: Context, cpath: string, mode = 0o777): Promise<void> {
  const syscall = 'mkdir';
  const r = await resolvePath(ctx, cpath, false, syscall, 'name');
  if (r.entry !== null) throw fsError('EEXIST', syscall, cpath);
  assertWritable(ctx, r.parent, syscall, cpath);
  assertCreatableName(ctx, r.name, syscall, cpath);
  const parentHost = await ensureWritable(ctx, r.parent, syscall, cpath);
  // mkdir(2) keeps only the permission and sticky bits of the mode it is given.
  const what = { kind: 'dir' as const, mode: mode & ~ctx.umask & 0o1777 };
  await onHost(
    placeNew(ctx, parentHost, r.name, r.upperWhiteout, what, (host) => fs.mkdir(host, { mode: 0o700 })),
    syscall,
    cpath,
  );
}

/**
 * `mkdir -p` exactly as Node's fs.mkdir({recursive: true}) does it (MKDirp in
 * node_file.cc), so callers see the codes they know: a file in the way is ENOTDIR
 * below it and EEXIST at the end. Returns the first directory created.
 */
export async function mkdirRecursive(ctx: Context, cpath: string, mode = 0o777): Promise<string | undefined> {
  // The path exactly as given, like Node: `/file/../d` must meet the file (ENOTDIR)
  // and `link/` must follow the link, not be tidied away.
  const pending = [cpath];
  let first: string | undefined;
  while (pending.length > 0) {
    const next = pending.pop()!;
    try {
      await mkdirOne(ctx, next, mode);
      first ??= next;
    } catch (err) {
      if (!isFsError(err)) throw err;
      if (['EACCES', 'ENOSPC', 'ENOTDIR', 'EPERM'].includes(err.code)) throw err;
      if (err.code === 'ENOENT') {
        const parent = nodeDirname(next);
        if (parent === next) throw fsError('EEXIST', 'mkdir', cpath);
        pending.push(next, parent);
        continue;
      }
      // EEXIST and everything else: fine if a directory is there (following symlinks).
      const r = await resolveExisting(ctx, next, true, 'stat');
      const st = await statEntry(ctx, r.entry);
      if (st.type !== 'dir') throw fsError(err.code === 'EEXIST' && pending.length > 0 ? 'ENOTDIR' : 'EEXIST', 'mkdir', cpath);
    }
  }
  return first;
}

/** MKDirp's parent: everything before the last `/` (so `/e//a` → `/e/`, `/f/g/` → `/f/g`). */
function nodeDirname(p: string): string {
  const slash = p.lastIndexOf('/');
  return slash < 0 ? p : p.slice(0, slash);
}

/** symlink(2): the target is stored exactly as given, never resolved. */
export async function symlink(ctx: Context, target: string, cpath: string): Promise<void> {
  const syscall = 'symlink';
  if (target === '') throw fsError('ENOENT', syscall, cpath);
  const r = await resolvePath(ctx, cpath, false, syscall, 'name');
  if (r.entry !== null) throw fsError('EEXIST', syscall, cpath);
  if (r.trailingSlash) throw fsError('ENOENT', syscall, cpath);
  assertWritable(ctx, r.parent, syscall, cpath);
  assertCreatableName(ctx, r.name, syscall, cpath);
  const parentHost = await ensureWritable(ctx, r.parent, syscall, cpath);
  await onHost(
    placeNew(ctx, parentHost, r.name, r.upperWhiteout, { kind: 'symlink' }, (host) => fs.symlink(target, host)),
    syscall,
    cpath,
  );
}

/** link(2): does not follow a final symlink; a lower file is copied up and linked in the upper (ovl_link). */
export async function link(ctx: Context, existing: string, cpath: string): Promise<void> {
  const syscall = 'link';
  const src = await resolveExisting(ctx, existing, false, syscall);
  const r = await resolvePath(ctx, cpath, false, syscall, 'name');
  if (r.entry !== null) throw fsError('EEXIST', syscall, cpath);
  if (r.trailingSlash) throw fsError('ENOENT', syscall, cpath);
  assertWritable(ctx, r.parent, syscall, cpath);
  if (src.entry.mount !== r.parent.mount) throw fsError('EXDEV', syscall, cpath);
  if (src.entry.type === 'dir') throw fsError('EPERM', syscall, existing);
  assertCreatableName(ctx, r.name, syscall, cpath);
  const srcHost = await ensureWritable(ctx, src.entry, syscall, existing);
  const parentHost = await ensureWritable(ctx, r.parent, syscall, cpath);
  await onHost(
    placeNew(ctx, parentHost, r.name, r.upperWhiteout, { kind: 'link' }, (host) => fs.link(srcHost, host)),
    syscall,
    cpath,
  );
}
