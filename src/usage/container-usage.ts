import fs, { type Dirent, type Stats } from 'node:fs';
import { Yielder } from '../event-loop.js';
import type { Store } from '../store/root.js';
import type { Resolver } from '../resolver/resolver.js';
import type { EntryType } from '../resolver/options.js';
import { imageView } from '../image/view.js';
import { isEncodingArtifact, isOpaqueDir, whiteoutTarget, WHITEOUT_PREFIX } from '../layer/whiteout.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';
import { containerDirs, type ContainerRecord } from '../container/record.js';
import { LowerIndex } from './lower-index.js';
import { lstatOrNullSync } from '../resolver/host.js';
import { hostInode, SizeTally } from '../layer/size.js';

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
  /** Upper entries: new files, copied-up files, whiteouts, and opaque (deleted and re-made) directories. */
  entries: { added: number; copiedUp: number; whiteouts: number; opaque: number };
}

/**
 * Walks upper/ once, measuring it as the kernel sees it. Host calls on the upper are
 * synchronous: tens of thousands of tiny calls cost several times more as thread-pool
 * round trips than as the calls themselves. The image is asked per directory, not per
 * path, and only under directories it has: everything below a new directory is new
 * without asking. Pass the same LowerIndex for containers on one layer chain and they
 * share its answers.
 */
export async function containerUsage(store: Store, record: ContainerRecord, lower?: Resolver | LowerIndex): Promise<ContainerUsage> {
  const usage: ContainerUsage = {
    sizeRw: 0,
    copiedUp: 0,
    added: 0,
    hidden: 0,
    entries: { added: 0, copiedUp: 0, whiteouts: 0, opaque: 0 },
  };
  const index = lower instanceof LowerIndex ? lower : new LowerIndex(lower ?? (await imageView(store, record.layers)));
  const walker = new UpperWalker(store.whiteoutFormat, index, usage);
  await walker.walk(containerDirs(store, record.id).upper, '', true);
  return usage;
}

class UpperWalker {
  private readonly tally = new SizeTally();
  // One directory of a million files is one long synchronous stretch without it.
  private readonly yielder = new Yielder();
  constructor(
    private readonly format: WhiteoutFormat,
    private readonly lower: LowerIndex,
    private readonly usage: ContainerUsage,
  ) {}

  async walk(hostDir: string, containerDir: string, lowerHasDir: boolean): Promise<void> {
    const format = this.format;
    const below = lowerHasDir ? await this.lower.names(containerDir) : null;
    const items: Item[] = [];
    // Another process may remove a container or file while we measure it: gone is not an error.
    for (const entry of readdirOrEmpty(hostDir)) {
      await this.yielder.maybe();
      const name = entry.name;
      const host = `${hostDir}/${name}`;
      // A directory needs no lstat (it counts 0 and is no whiteout) unless its name is
      // whiteout-shaped; unknown dirent types are not directories here and get one.
      let st: Stats | null = null;
      if (!entry.isDirectory() || name.startsWith(WHITEOUT_PREFIX)) {
        st = lstatOrNullSync(host);
        if (st === null) continue;
      }
      const whiteout = st === null ? null : whiteoutTarget(name, st, format);
      if (whiteout === null && isEncodingArtifact(name, format)) continue;
      const item: Item = { name, host, st, whiteout, cpath: `${containerDir}/${whiteout ?? name}`, belowType: null, lowerBytes: null };
      if (whiteout === null) item.belowType = below?.get(name) ?? null;
      items.push(item);
    }
    // What the image has under the names the upper replaces, asked all at once: the
    // questions go to the thread pool together instead of one round trip after another.
    await Promise.all(
      items.map(async (item) => {
        if (item.whiteout !== null) item.lowerBytes = lowerHasDir ? await this.lower.bytes(item.cpath) : 0;
        else if (item.belowType === 'dir' && item.st !== null && !item.st.isDirectory())
          item.lowerBytes = await this.lower.bytes(item.cpath);
        else if (item.belowType !== null && item.belowType !== 'dir') item.lowerBytes = (await this.lower.stats(item.cpath))?.size ?? 0;
      }),
    );
    const own = new Set<string>();
    for (const item of items) {
      if (item.whiteout !== null) {
        this.usage.entries.whiteouts++;
        this.usage.hidden += item.lowerBytes ?? 0;
        continue;
      }
      own.add(item.name);
      if (item.st === null || item.st.isDirectory()) {
        await this.walk(item.host, item.cpath, item.belowType === 'dir');
        // A directory over a lower file or symlink hides it.
        if (item.belowType !== null && item.belowType !== 'dir') this.usage.hidden += item.lowerBytes ?? 0;
        continue;
      }
      const bytes = this.tally.count(item.st, () => hostInode(item.host)) ? item.st.size : 0;
      this.usage.sizeRw = this.tally.size;
      if (item.belowType === null) {
        this.usage.added += bytes;
        this.usage.entries.added++;
      } else {
        this.usage.copiedUp += bytes;
        this.usage.entries.copiedUp++;
        this.usage.hidden += item.lowerBytes ?? 0;
      }
    }
    // A directory deleted and re-created (opaque) hides every lower entry it does not replace.
    if (below !== null && containerDir !== '' && isOpaqueDir(hostDir, format)) {
      this.usage.entries.opaque++;
      const masked = [...below.keys()].filter((name) => !own.has(name));
      // All of it masked: the lower directory's own size, so a file hardlinked under two
      // masked names counts once, as the size rule says. Otherwise name by name.
      if (masked.length === below.size) this.usage.hidden += await this.lower.bytes(containerDir);
      else
        for (const bytes of await Promise.all(masked.map((name) => this.lower.bytes(`${containerDir}/${name}`))))
          this.usage.hidden += bytes;
    }
  }
}

/** One upper entry between the synchronous scan and the tally. */
interface Item {
  name: string;
  host: string;
  /** null: a directory by its dirent, not lstat'ed. */
  st: Stats | null;
  /** The name this entry whites out, or null. */
  whiteout: string | null;
  cpath: string;
  /** The image's entry at the same path (by readdir type), or null. */
  belowType: EntryType | null;
  /** Image bytes this entry masks, once asked. */
  lowerBytes: number | null;
}

function readdirOrEmpty(dir: string): Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}
