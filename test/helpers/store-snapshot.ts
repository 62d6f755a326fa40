import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';

/**
 * Every path under `root` with its type and size, sorted — what "the store is left
 * exactly as it was" is checked against. Locks are released by removing them, so a
 * finished operation leaves none to exclude.
 */
export async function snapshotTree(root: string): Promise<string[]> {
  const rows: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const name of (await fs.readdir(dir).catch(() => [] as string[])).sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      const st = await fs.lstat(full);
      rows.push(`${rel}\t${st.isDirectory() ? 'dir' : st.isFile() ? `file:${st.size}` : 'other'}`);
      if (st.isDirectory()) await walk(full);
    }
  }
  await walk(root);
  return rows;
}

/**
 * snapshotTree with what the sizes leave out: each file's content (as its sha256),
 * each symlink's target and every entry's permission bits. Times are left out: a
 * refused command still takes and releases the store lock.
 */
export async function snapshotContent(root: string): Promise<string[]> {
  const rows: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const name of (await fs.readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      const st = await fs.lstat(full);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        rows.push(`${rel}\tdir\t${mode}`);
        await walk(full);
      } else if (st.isFile()) {
        rows.push(
          `${rel}\tfile:${createHash('sha256')
            .update(await fs.readFile(full))
            .digest('hex')}\t${mode}`,
        );
      } else if (st.isSymbolicLink()) {
        rows.push(`${rel}\tsymlink:${await fs.readlink(full)}`);
      } else {
        rows.push(`${rel}\tother\t${mode}`);
      }
    }
  }
  await walk(root);
  return rows;
}
