import fs from 'node:fs/promises';
import { constants as fsConstants, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Store } from '../store/root.js';
import type { Resolver } from '../resolver/resolver.js';
import type { ResolverStats } from '../resolver/options.js';
import { devMajor, devMinor } from '../resolver/upper-meta.js';
import { fsyncDir, removeTree, tempName } from '../store/atomic.js';
import { fsError, isFsError } from '../errors.js';
import { volumeDataDir } from './volume.js';

const run = promisify(execFile);

/**
 * Docker's copy of image content into a volume (moby populateVolumes, run when a
 * container is created): when the volume's `_data` is empty and the image has a
 * directory at the mount point, that directory — its own mode, owner and times
 * included — is copied into the volume, with modes, times, symlinks and hard links,
 * and owners where the store may set them (root, not rootless). A volume with
 * anything in it is left alone, so the copy happens once per volume, not per
 * container; `nocopy` and bind mounts never get here.
 *
 * The copy is built under a temp name and renamed over `_data`, so a failed or interrupted
 * copy never leaves a half-filled volume; if something wrote to the volume
 * meanwhile the rename fails and the copy is dropped, as if the volume had not been empty.
 * `image` is the image's view (its merged layers), never the container's upper.
 */
export async function populateVolume(store: Store, image: Resolver, name: string, destination: string): Promise<boolean> {
  const data = volumeDataDir(store, name);
  if ((await fs.readdir(data)).length > 0) return false;
  const root = await image.stat(destination).catch((err: unknown) => {
    if (isFsError(err, 'ENOENT') || isFsError(err, 'ENOTDIR')) return null;
    throw err;
  });
  // Nothing there, or not a directory (the mount hides a file): nothing to copy.
  if (root === null || root.type !== 'dir') return false;
  const ownsFiles = !store.info.rootless && store.privileged;
  // Beside the volumes, where check and gc look for what an interrupted copy left.
  const tmp = path.join(store.paths.volumesDir, tempName(`${name}-data`));
  let renaming = false;
  try {
    await fs.mkdir(tmp, { mode: 0o700 });
    const made: [string, ResolverStats][] = [];
    const linked = new Map<number, string>();
    let current = destination;
    try {
      for await (const { path: cpath, stats } of image.walk(destination)) {
        current = cpath;
        const target = path.join(tmp, path.posix.relative(destination, cpath));
        if (await makeEntry(image, cpath, stats, target, linked, ownsFiles)) made.push([target, stats]);
      }
    } catch (err) {
      // Name what could not be copied in the container's terms, never a layer's host path.
      if (isFsError(err)) throw fsError(err.code, 'copy', `volume ${name}: image path ${current}`);
      throw err;
    }
    // Children first, so creating an entry cannot change its directory's times afterwards.
    for (const [target, stats] of made.reverse()) await applyMetadata(target, stats, ownsFiles);
    await applyMetadata(tmp, root, ownsFiles);
    renaming = true;
    await fs.rename(tmp, data);
  } catch (err) {
    await removeTree(tmp).catch(() => undefined);
    // `_data` is no longer empty: something wrote to the volume while we copied; it wins.
    if (renaming && (isFsError(err, 'ENOTEMPTY') || isFsError(err, 'EEXIST'))) return false;
    throw err;
  }
  await fsyncDir(store.paths.volumeDir(name));
  return true;
}

/** Creates one entry of the copy; false for what cannot be made here (a socket, a device without root). */
async function makeEntry(
  image: Resolver,
  cpath: string,
  stats: ResolverStats,
  target: string,
  linked: Map<number, string>,
  ownsFiles: boolean,
): Promise<boolean> {
  switch (stats.type) {
    case 'dir':
      // Writable while it is filled; its own mode comes last.
      await fs.mkdir(target, { mode: 0o700 });
      return true;
    case 'file': {
      const first = stats.nlink > 1 ? linked.get(stats.ino) : undefined;
      if (first !== undefined) {
        await fs.link(first, target);
        return false;
      }
      await fs.copyFile(stats.hostPath!, target, fsConstants.COPYFILE_FICLONE | fsConstants.COPYFILE_EXCL).catch(async (err: unknown) => {
        // A layer file its rootless owner cannot open (mode 000): read it the way the view serves it.
        if (!isFsError(err, 'EACCES')) throw err;
        await pipeline(await image.createReadStream(cpath), createWriteStream(target, { flags: 'wx', mode: 0o600 }));
      });
      if (stats.nlink > 1) linked.set(stats.ino, target);
      return true;
    }
    case 'symlink':
      await fs.symlink(await image.readlink(cpath), target);
      return true;
    case 'fifo':
      await run('mknod', [target, 'p']);
      return true;
    case 'char':
    case 'block':
      if (!ownsFiles) return false;
      await run('mknod', [target, stats.type === 'char' ? 'c' : 'b', String(devMajor(stats.rdev)), String(devMinor(stats.rdev))]);
      return true;
    default:
      return false;
  }
}

/** Owner first (chown clears setuid bits), then mode, then times. */
async function applyMetadata(target: string, stats: ResolverStats, ownsFiles: boolean): Promise<void> {
  if (ownsFiles) await fs.lchown(target, stats.uid, stats.gid);
  if (stats.type !== 'symlink') await fs.chmod(target, stats.mode);
  await fs.lutimes(target, stats.atimeMs / 1000, stats.mtimeMs / 1000);
}
