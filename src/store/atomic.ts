import fs from 'node:fs/promises';
import path from 'node:path';
import { randomHex } from './random.js';
import { TEMP_PREFIX, TRASH_PREFIX } from './paths.js';
import { faultPoint } from './fault-points.js';

/**
 * Durable replacement of files and directories. A reader sees either the old
 * content or the new, never a torn write: data is written to a temp name in the same
 * directory, fsynced, renamed over the target, and the directory is fsynced so the
 * rename itself survives a crash.
 */
export function tempName(base = ''): string {
  faultPoint('atomic.temp');
  return `${TEMP_PREFIX}${randomHex(6)}${base ? `-${base}` : ''}`;
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, tempName(path.basename(file)));
  const handle = await fs.open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  faultPoint('atomic.before-rename');
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  faultPoint('atomic.renamed');
  await fsyncDir(dir);
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A cache file: replaced by rename, so a reader never sees a torn write while the
 * system runs, but not fsynced — after a crash the file may be old, empty or
 * missing, and a cache's reader must treat all of those as a miss. Saves the two
 * fsyncs (tens of milliseconds on a busy disk) per file that a record needs.
 */
export async function writeCacheFile(file: string, data: string): Promise<void> {
  const tmp = path.join(path.dirname(file), tempName(path.basename(file)));
  try {
    await fs.writeFile(tmp, data, { flag: 'wx', mode: 0o644 });
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

/**
 * Removes a directory tree so that no crash can leave something that looks live:
 * first a rename to a trash name (atomic), then the slow delete. A leftover trash
 * entry is recognised by its prefix and finished by gc or `check --repair`.
 */
export async function removeByRename(target: string): Promise<boolean> {
  const trash = path.join(path.dirname(target), `${TRASH_PREFIX}${randomHex(6)}-${path.basename(target)}`);
  try {
    await fs.rename(target, trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await fsyncDir(path.dirname(target));
  faultPoint('atomic.trashed');
  await removeTree(trash);
  return true;
}

/**
 * rm -rf that also gets through directories an image made unreadable (mode 000):
 * a rootless user owns them, so it may chmod them back before descending.
 */
export async function removeTree(target: string): Promise<void> {
  try {
    await fs.rm(target, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
    await makeTraversable(target);
    await fs.rm(target, { recursive: true, force: true });
  }
}

async function makeTraversable(dir: string): Promise<void> {
  const st = await fs.lstat(dir).catch(() => null);
  if (!st?.isDirectory()) return;
  await fs.chmod(dir, 0o700).catch(() => {});
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) await makeTraversable(path.join(dir, name));
}
