import type { Store } from '../store/root.js';
import type { Resolver } from '../resolver/resolver.js';
import type { EntryType, ResolverStats } from '../resolver/options.js';
import { imageView } from '../image/view.js';
import { SizeTally, viewInode } from '../layer/size.js';

/**
 * What an image's read-only view holds, asked per directory. Lower layers never
 * change once committed, so one answer serves every container on the same layer
 * chain: each directory's names become a map once, subtree sizes are summed once,
 * and only names that exist below are looked up for their sizes.
 */
export class LowerIndex {
  readonly #names = new Map<string, Promise<Map<string, EntryType>>>();
  readonly #bytes = new Map<string, Promise<number>>();

  constructor(readonly view: Resolver) {}

  /** The names in the image's directory `dir` ('' for the root) with their types; empty when there is none. */
  names(dir: string): Promise<Map<string, EntryType>> {
    return remember(this.#names, dir, async () => {
      const entries = await this.view.readdir(dir === '' ? '/' : dir, { withFileTypes: true }).catch(() => []);
      return new Map(entries.map((e) => [e.name, e.type]));
    });
  }

  /** The image's entry at `cpath`, or null; the view itself remembers lower lookups. */
  stats(cpath: string): Promise<ResolverStats | null> {
    return this.view.lstat(cpath).catch(() => null);
  }

  /**
   * Bytes the image shows at `cpath`: a file's size, a whole subtree for a directory
   * by the size rule (a file hardlinked twice inside it counts once).
   */
  bytes(cpath: string): Promise<number> {
    return remember(this.#bytes, cpath, async () => {
      const st = await this.stats(cpath);
      if (st === null) return 0;
      if (st.type !== 'dir') return st.size;
      const tally = new SizeTally();
      for await (const { stats } of this.view.walk(cpath)) if (stats.type !== 'dir') tally.count(stats, () => viewInode(stats));
      return tally.size;
    });
  }
}

/** One LowerIndex per layer chain, for as long as one df or `ps -s` runs. */
export class LowerIndexes {
  readonly #byChain = new Map<string, Promise<LowerIndex>>();
  constructor(private readonly store: Store) {}

  forChain(layers: string[]): Promise<LowerIndex> {
    return remember(this.#byChain, layers.join(' '), async () => new LowerIndex(await imageView(this.store, layers)));
  }
}

function remember<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
