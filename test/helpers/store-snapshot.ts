import fs from 'node:fs/promises';
import path from 'node:path';

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
