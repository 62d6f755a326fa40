import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { fsError } from '../errors.js';
import type { Context, ResolverDirent } from './options.js';
import { onHost } from './host.js';
import { listDir } from './readdir.js';
import { resolveExisting } from './walk-path.js';
import { reach, withOwnerFallback } from './owner-fallback.js';

/** The host file behind a regular file of the merged view, following symlinks in the root. */
async function readableHost(ctx: Context, cpath: string, syscall: string): Promise<string> {
  const r = await resolveExisting(ctx, cpath, true, syscall);
  if (r.entry.type === 'dir') throw fsError('EISDIR', 'read', cpath);
  // A device or fifo of an image is data about a device, not one to open from here.
  if (r.entry.type !== 'file') throw fsError('EINVAL', syscall, cpath, 'not a regular file');
  return r.entry.stack[0]!.host;
}

export async function readFile(ctx: Context, cpath: string): Promise<Buffer> {
  const host = await readableHost(ctx, cpath, 'open');
  return onHost(
    withOwnerFallback(
      ctx,
      () => reach(ctx, host, 0o400),
      () => fs.readFile(host),
    ),
    'read',
    cpath,
  );
}

export interface ReadStreamOptions {
  start?: number;
  end?: number;
  highWaterMark?: number;
}

/** Opens now (so a missing file fails here, not on the first read) and streams from the fd. */
export async function createReadStream(ctx: Context, cpath: string, opts: ReadStreamOptions = {}): Promise<Readable> {
  const host = await readableHost(ctx, cpath, 'open');
  // A 0000 file of a rootless store: opened with its owner bits opened; the fd keeps reading after they are put back.
  const handle = await onHost(
    withOwnerFallback(
      ctx,
      () => reach(ctx, host, 0o400),
      () => fs.open(host, 'r'),
    ),
    'open',
    cpath,
  );
  return handle.createReadStream({ ...opts, autoClose: true });
}

export async function readlink(ctx: Context, cpath: string): Promise<string> {
  const r = await resolveExisting(ctx, cpath, false, 'readlink');
  if (r.entry.type !== 'symlink') throw fsError('EINVAL', 'readlink', cpath);
  const host = r.entry.stack[0]!.host;
  return onHost(
    withOwnerFallback(
      ctx,
      () => reach(ctx, host, 0),
      () => fs.readlink(host),
    ),
    'readlink',
    cpath,
  );
}

export async function readdir(ctx: Context, cpath: string): Promise<ResolverDirent[]> {
  const r = await resolveExisting(ctx, cpath, true, 'scandir');
  if (r.entry.type !== 'dir') throw fsError('ENOTDIR', 'scandir', cpath);
  return (await listDir(ctx, r.entry)).map(([name, type]) => ({ name, type }));
}

/** The canonical container path: every symlink resolved inside the root. */
export async function realpath(ctx: Context, cpath: string): Promise<string> {
  return (await resolveExisting(ctx, cpath, true, 'realpath')).path;
}
