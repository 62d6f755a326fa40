import type { Branch } from './lookup.js';
import type { EntryType } from './options.js';

/**
 * Answers about the lower layers, kept for the life of a resolver. Lower layers are
 * committed and never change, and overlayfs (with redirect_dir off, as strata mounts
 * it) merges a directory's lower copies by path alone, so what the lowers hold for a
 * given lower merge stack and name is the same on every call. Only the upper layer
 * and mounts are looked at afresh. Values are promises, so concurrent lookups of one
 * name share the host calls; a failed one is forgotten.
 *
 * Bounded by a total cost (a lookup costs 1, a listing its number of names); the
 * oldest answers go first. A warm cache is what makes a stat of a file 50 layers
 * deep cost no host call at all.
 */
export class LowerCache<T> {
  readonly #entries = new Map<string, { value: Promise<T>; cost: number }>();
  #total = 0;

  constructor(
    private readonly maxCost: number,
    private readonly costOf: (value: T) => number,
  ) {}

  get(key: string, compute: () => Promise<T>): Promise<T> {
    const hit = this.#entries.get(key);
    if (hit !== undefined) return hit.value;
    const value = compute();
    const slot = { value, cost: 1 };
    this.#entries.set(key, slot);
    this.#total += 1;
    value.then(
      (v) => {
        if (this.#entries.get(key) !== slot) return;
        const cost = Math.max(1, this.costOf(v));
        this.#total += cost - slot.cost;
        slot.cost = cost;
        this.#evict();
      },
      () => {
        if (this.#entries.get(key) === slot) this.#delete(key, slot);
      },
    );
    this.#evict();
    return value;
  }

  #evict(): void {
    for (const [key, slot] of this.#entries) {
      if (this.#total <= this.maxCost) return;
      this.#delete(key, slot);
    }
  }

  #delete(key: string, slot: { cost: number }): void {
    this.#entries.delete(key);
    this.#total -= slot.cost;
  }
}

/** A lower directory's names with their types, sorted. */
export type Listing = [string, EntryType][];

/**
 * Everything one resolver remembers, held by its Context: it lives and dies with the
 * Resolver its caller holds, and two resolvers never share an answer.
 */
export class ResolverMemo {
  /** The lower layers' root directories, looked at once. */
  lowerRoots: Promise<Branch[]> | undefined;
  /** The work dir, made once before the first scratch entry goes into it. */
  workReady: Promise<void> | undefined;
  /** What a lower merge stack holds for a name (src/resolver/lookup.ts). */
  readonly lowerLookups = new LowerCache<Branch[]>(200_000, () => 1);
  /** What a lower merge stack lists (src/resolver/readdir.ts). */
  readonly lowerListings = new LowerCache<Listing>(2_000_000, (listing) => listing.length);
}
