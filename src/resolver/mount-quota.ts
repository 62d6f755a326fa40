import fs from 'node:fs/promises';
import path from 'node:path';
import { fsError } from '../errors.js';
import type { WriteData } from './create.js';

/** tmpfs allocates file data in pages; 4 KiB on the machines strata targets. */
export const QUOTA_PAGE = 4096;

/** Symlink targets this long (with their NUL) take a page of a tmpfs; shorter ones live in the inode. */
const INLINE_SYMLINK = 128;

/**
 * Writes `data` to `host`, a file inside a mount that holds at most `limit` bytes, as
 * a tmpfs mounted with `size=` would: what fits in the pages left is written, then the
 * write fails with ENOSPC and the file keeps what was written, like a short write
 * followed by a failed one. Pages are counted as tmpfs counts them: each file's size
 * rounded up to whole pages, each inode once (sparse files are counted as if full).
 * The mount is walked afresh on every write: a tmpfs holds little, and a count kept
 * anywhere else would miss what other processes wrote into it.
 */
export async function writeWithinQuota(host: string, flag: 'w' | 'a' | 'wx', data: WriteData, root: string, limit: number): Promise<void> {
  const handle = await fs.open(host, flag, 0o600);
  try {
    const own = await handle.stat();
    const free = limit - (await usedPages(root, own.ino));
    let position = flag === 'a' ? own.size : 0;
    const put = async (chunk: string | Uint8Array): Promise<void> => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const room = Math.max(0, free - position);
      if (room > 0) await handle.writeFile(bytes.subarray(0, Math.min(room, bytes.length)));
      position += Math.min(room, bytes.length);
      if (bytes.length > room) throw fsError('ENOSPC', 'write', host);
    };
    if (typeof data === 'string' || data instanceof Uint8Array) await put(data);
    else for await (const chunk of data) await put(chunk);
  } finally {
    await handle.close();
  }
}

/** Bytes of pages the files below `root` take, leaving out inode `except` (the file being written). */
async function usedPages(root: string, except: number): Promise<number> {
  const seen = new Set<number>([except]);
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(abs);
        continue;
      }
      const st = await fs.lstat(abs);
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
      if (st.isFile()) total += Math.ceil(st.size / QUOTA_PAGE) * QUOTA_PAGE;
      else if (st.isSymbolicLink() && st.size + 1 > INLINE_SYMLINK) total += QUOTA_PAGE;
    }
  };
  await walk(root);
  return total;
}
