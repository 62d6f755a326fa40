import fs from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import type { Store } from '../store/root.js';
import type { Resolver } from '../resolver/resolver.js';
import { imageView } from '../image/view.js';
import { isEncodingArtifact, isOpaqueDir, whiteoutTarget } from '../layer/whiteout.js';
import { containerDirs, type ContainerRecord } from '../container/record.js';

/**
 * What one container's writable layer costs. `sizeRw` is Docker's SIZE (the layer
 * size rule over upper/); the rest is what Docker does not say: how much of it is
 * copy-up (whole lower files duplicated on first change) versus new data, and how
 * many bytes of the image are still stored but no longer visible to it.
 */
export interface ContainerUsage {
  sizeRw: number;
  /** Bytes in upper that replace a lower file of the same path: the price of copy-on-write. */
  copiedUp: number;
  /** Bytes in upper at paths the image does not have. */
  added: number;
  /** Image bytes masked by this container's whiteouts, opaque dirs or overwrites. */
  hidden: number;
  entries: { added: number; copiedUp: number; whiteouts: number };
}

/**
 * Walks upper/ once. Lower lookups happen only under directories that exist in the
 * image; everything below a new directory is new without asking.
 */
export async function containerUsage(store: Store, record: ContainerRecord, lower?: Resolver): Promise<ContainerUsage> {
  const usage: ContainerUsage = { sizeRw: 0, copiedUp: 0, added: 0, hidden: 0, entries: { added: 0, copiedUp: 0, whiteouts: 0 } };
  const view = lower ?? await imageView(store, record.layers);
  const walker = new UpperWalker(store, view, usage);
  await walker.walk(containerDirs(store, record.id).upper, '', true);
  return usage;
}

class UpperWalker {
  private readonly seenInodes = new Set<string>();
  constructor(private readonly store: Store, private readonly lower: Resolver, private readonly usage: ContainerUsage) {}

  async walk(hostDir: string, containerDir: string, lowerHasDir: boolean): Promise<void> {
    const format = this.store.whiteoutFormat;
    const names = await fs.readdir(hostDir).catch(() => [] as string[]);
    const own = new Set<string>();
    for (const name of names) {
      const host = path.join(hostDir, name);
      // Another process may remove a container or file while we measure it: gone is not an error.
      const st = await fs.lstat(host).catch(() => null);
      if (st === null) continue;
      const hidden = whiteoutTarget(name, st, format);
      const cpath = `${containerDir}/${hidden ?? name}`;
      if (hidden !== null) {
        this.usage.entries.whiteouts++;
        if (lowerHasDir) this.usage.hidden += await this.lowerBytes(cpath);
        continue;
      }
      if (isEncodingArtifact(name, format)) continue;
      own.add(name);
      const below = lowerHasDir ? await this.lower.lstat(cpath).catch(() => null) : null;
      if (st.isDirectory()) {
        await this.walk(host, cpath, below?.type === 'dir');
        if (below !== null && below.type !== 'dir') this.usage.hidden += below.size;
        continue;
      }
      const bytes = this.count(st);
      if (below === null) {
        this.usage.added += bytes;
        this.usage.entries.added++;
      } else {
        this.usage.copiedUp += bytes;
        this.usage.entries.copiedUp++;
        this.usage.hidden += below.type === 'dir' ? await this.lowerBytes(cpath) : below.size;
      }
    }
    // A directory deleted and re-created (opaque) hides every lower entry it does not replace.
    if (lowerHasDir && containerDir !== '' && await isOpaqueDir(hostDir, format)) {
      for (const name of await this.lower.readdir(containerDir).catch(() => [] as string[])) {
        if (!own.has(name)) this.usage.hidden += await this.lowerBytes(`${containerDir}/${name}`);
      }
    }
  }

  /** Docker's rule for one upper entry: st_size, hardlinked inodes once. */
  private count(st: Stats): number {
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      if (this.seenInodes.has(key)) return 0;
      this.seenInodes.add(key);
    }
    this.usage.sizeRw += st.size;
    return st.size;
  }

  /** Bytes the image shows at `cpath` (a whole subtree for a directory). */
  private async lowerBytes(cpath: string): Promise<number> {
    const st = await this.lower.lstat(cpath).catch(() => null);
    if (st === null) return 0;
    if (st.type !== 'dir') return st.size;
    let total = 0;
    for await (const entry of this.lower.walk(cpath)) if (entry.stats.type !== 'dir') total += entry.stats.size;
    return total;
  }
}
