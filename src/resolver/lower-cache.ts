import type { Context } from './options.js';

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

  constructor(private readonly maxCost: number, private readonly costOf: (value: T) => number) {}

  get(key: string, compute: () => Promise<T>): Promise<T> {
    const hit = this.#entries.get(key);
    if (hit !== undefined) return hit.value;
    const value = compute();
    const slot = { value, cost: 1 };
    this.#entries.set(key, slot);
    this.#total += 1;
    value.then((v) => {
      if (this.#entries.get(key) !== slot) return;
      const cost = Math.max(1, this.costOf(v));
      this.#total += cost - slot.cost;
      slot.cost = cost;
      this.#evict();
    }, () => {
      if (this.#entries.get(key) === slot) this.#delete(key, slot);
    });
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

/** One cache per resolver (per Context), made on first use. */
export function perContext<T>(make: () => LowerCache<T>): (ctx: Context) => LowerCache<T> {
  const caches = new WeakMap<Context, LowerCache<T>>();
  return (ctx) => {
    let cache = caches.get(ctx);
    if (cache === undefined) {
      cache = make();
      caches.set(ctx, cache);
    }
    return cache;
  };
}
