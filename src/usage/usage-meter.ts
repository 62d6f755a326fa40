import fs from 'node:fs';
import type { Store } from '../store/root.js';
import { StorePaths } from '../store/paths.js';
import type { ContainerRecord } from '../container/record.js';
import { bumpUsageToken } from '../container/usage-token.js';
import type { ContainerUsage } from './container-usage.js';
import type { LowerIndexes } from './lower-index.js';
import { readUsageCache, usageBasis, writeUsageCache } from './usage-cache.js';
import { overlayUpperDirs } from './overlay-mounts.js';

const CONCURRENT_WALKS = 4;

export interface UsageMeterOptions {
  /** Walk every upper, ignoring and not trusting cached usage (`--no-cache`). */
  noCache?: boolean;
}

/**
 * Container usage for df and `ps -s`: from usage.json where it is still valid
 * (src/usage/usage-cache.ts), else by walking the upper and caching the result.
 * One meter per command: the overlay mounts are read once, and containers on the
 * same layer chain share one index of the image. The walker and the image views are
 * loaded only on a miss, so a df that finds every cache valid never imports them.
 */
export class UsageMeter {
  #indexes: Promise<LowerIndexes> | undefined;
  #mounted: Set<string> | undefined;
  #realPaths: StorePaths | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: UsageMeterOptions = {},
  ) {}

  /**
   * Usage of every container, in order. A few walks run at once: each walk's upper I/O
   * is synchronous, so while one walks, the others' image lookups proceed in the
   * thread pool instead of waiting their turn.
   */
  async all(records: ContainerRecord[], onEach?: () => void): Promise<ContainerUsage[]> {
    const results: ContainerUsage[] = new Array(records.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < records.length; i = next++) {
        results[i] = await this.usage(records[i]!);
        onEach?.();
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENT_WALKS, records.length) }, worker));
    return results;
  }

  async usage(record: ContainerRecord): Promise<ContainerUsage> {
    // A running container may be written at any moment; so may an upper the kernel has mounted now.
    const live = record.state.status === 'running' || this.#isMounted(record.id);
    if (live && record.state.status !== 'running') await bumpUsageToken(this.store, record.id).catch(() => undefined);
    if (!live && !this.options.noCache) {
      const cached = readUsageCache(this.store, record);
      if (cached !== null) return cached;
    }
    const basis = usageBasis(this.store, record);
    const { containerUsage } = await import('./container-usage.js');
    const usage = await containerUsage(this.store, record, await (await this.#lowerIndexes()).forChain(record.layers));
    if (!live) await writeUsageCache(this.store, record, basis, usage);
    return usage;
  }

  #lowerIndexes(): Promise<LowerIndexes> {
    this.#indexes ??= import('./lower-index.js').then(({ LowerIndexes }) => new LowerIndexes(this.store));
    return this.#indexes;
  }

  #isMounted(id: string): boolean {
    this.#mounted ??= overlayUpperDirs();
    if (this.#mounted.size === 0) return false;
    // The kernel shows resolved paths; the store root may be reached through a symlink.
    this.#realPaths ??= new StorePaths(realpathOr(this.store.paths.root));
    return this.#mounted.has(this.#realPaths.container(id).upper);
  }
}

function realpathOr(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}
