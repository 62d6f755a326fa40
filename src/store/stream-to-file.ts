import fs from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fsyncDir, tempName } from './atomic.js';

/**
 * `-o FILE` for a command that streams (export, save), atomically: `write` streams into
 * a temp name beside FILE, which is fsynced and renamed over FILE; any failure removes
 * the temp file, so FILE is either complete or what it was. The temp file is opened
 * before anything streams, so a missing or unwritable directory is one clear error
 * about FILE (the temp name is ours, not something the user typed).
 */
export async function streamToFile<T>(file: string, write: (out: Writable) => Promise<T>): Promise<T> {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, tempName(path.basename(target)));
  const handle = await fs.open(tmp, 'wx', 0o666).catch((err: NodeJS.ErrnoException) => {
    if (err.path === tmp) err.path = target;
    throw err;
  });
  const stream = handle.createWriteStream();
  const closed = finished(stream);
  closed.catch(() => {}); // also the stream's error listener; awaited below
  try {
    const result = await write(stream);
    stream.end();
    await closed;
    await fsyncFile(tmp);
    await fs.rename(tmp, target);
    await fsyncDir(dir);
    return result;
  } catch (err) {
    stream.destroy();
    await closed.catch(() => {});
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** fsync is per file, not per descriptor: the data written through the stream reaches the disk. */
async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
