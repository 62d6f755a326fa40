import fs from 'node:fs/promises';
import path from 'node:path';
import { fsError, isFsError } from '../errors.js';

/**
 * `mkdir -p` that always ends. Node's fs.mkdir({recursive: true}) retries a
 * directory whose mkdir(2) says ENOENT after its parent turned out to exist — and
 * where that never changes (under /proc, say) it spins in the thread pool forever,
 * beyond the reach of any signal handler. Here every component is tried at most
 * twice, so a path that cannot be made fails with the kernel's own reason.
 */
export async function makeDir(dir: string, mode = 0o777): Promise<void> {
  try {
    await fs.mkdir(dir, { mode });
    return;
  } catch (err) {
    if (isFsError(err, 'EEXIST')) return assertDirectory(dir);
    const parent = path.dirname(dir);
    if (!isFsError(err, 'ENOENT') || parent === dir) throw err;
  }
  await makeDir(path.dirname(dir), mode);
  try {
    await fs.mkdir(dir, { mode });
  } catch (err) {
    // Another process made it meanwhile; any other failure, ENOENT included, is final.
    if (isFsError(err, 'EEXIST')) return assertDirectory(dir);
    throw err;
  }
}

async function assertDirectory(dir: string): Promise<void> {
  if (!(await fs.stat(dir)).isDirectory()) throw fsError('ENOTDIR', 'mkdir', dir);
}
