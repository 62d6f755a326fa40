import fs from 'node:fs';
import { Yielder } from '../event-loop.js';

export interface TreeSize {
  /** Docker's rule (DESIGN.md "Sizes"): st_size of every non-directory, each inode once. */
  size: number;
  /** st_blocks * 512 of the same entries: what the disk actually gave them. */
  allocatedSize: number;
}

/** What the size rule needs of one entry; host `fs.Stats` and a view's stats both fit. */
export interface SizedEntry {
  size: number;
  nlink: number;
}

/**
 * Docker's size rule, the one place it is written: regular files by st_size, symlinks
 * by st_size (the length of their target), hardlinked inodes once, directories 0.
 * Whiteouts need no rule of their own: both encodings are empty (a 0/0 device or an
 * empty `.wh.` file), so they count 0. One tally per tree measured: an inode seen in
 * one tally says nothing about another.
 */
export class SizeTally {
  readonly #seenInodes = new Set<string>();
  size = 0;

  /**
   * Counts one non-directory entry; false when its inode was counted already. `inode`
   * names the inode and is asked only for entries with more than one link.
   */
  count(entry: SizedEntry, inode: () => string): boolean {
    if (entry.nlink > 1) {
      const key = inode();
      if (this.#seenInodes.has(key)) return false;
      this.#seenInodes.add(key);
    }
    this.size += entry.size;
    return true;
  }
}

/**
 * The inode of a host file. Inode numbers of large file systems do not all fit a
 * double, so hardlinks are keyed by the bigint ones (a second lstat, only for the few
 * files with several links; bigint stats for every file cost twice the allocation).
 */
export function hostInode(file: string): string {
  const big = fs.lstatSync(file, { bigint: true });
  return `${big.dev}:${big.ino}`;
}

/**
 * The inode of an entry a merged view serves from a layer. A layer's diff is one
 * directory on one file system, so its index and the inode number name the inode.
 */
export function viewInode(stats: { layer: number | string; ino: number }): string {
  return `${stats.layer}:${stats.ino}`;
}

/**
 * Measures a tree the way Docker measures a layer or an upper dir (SizeTally).
 * Symlinks are never followed; directories are entered by readdir types only.
 *
 * `onFile` is told each regular file's path and size, on the same walk.
 * One lstat per entry, made synchronously: tens of thousands of tiny calls cost
 * several times more as thread-pool round trips than as the calls themselves.
 */
export async function measureTree(root: string, onFile?: (file: string, size: number) => void, yielder = new Yielder()): Promise<TreeSize> {
  const tally = new SizeTally();
  let allocatedSize = 0;
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      await yielder.maybe();
      const full = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        pending.push(full);
        continue;
      }
      const st = fs.lstatSync(full);
      // Every path of a regular file, hardlinks too (unpack records each one's digest).
      if (onFile && st.isFile()) onFile(full, st.size);
      if (tally.count(st, () => hostInode(full))) allocatedSize += st.blocks * 512;
    }
  }
  return { size: tally.size, allocatedSize };
}
