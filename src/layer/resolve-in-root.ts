import fs from 'node:fs';
import {
  checkComponentBytes,
  invalidEntry,
  layerRelative,
  nameLimitExceeded,
  quoteName,
  type EntryContext,
  type LayerPath,
} from './entry-path.js';
import { NAME_LIMITS, type NameLimits } from './limits.js';
import { ROOT, above, below, type Place } from './real-path.js';
import type { LayerTree } from './safe-fs.js';
import { isWhiteoutName } from './whiteout.js';

export interface ResolveHooks {
  /** Before a missing directory is created; throws to refuse it (e.g. this layer whited it out). */
  beforeImpliedDir(parent: string, name: string, ctx: EntryContext): void;
  /** After a missing directory was created with a provisional mode. */
  afterImpliedDir(rel: string): void;
}

/** Where an entry goes: its real parent directory and its own real path below it. */
export interface EntryPlace {
  parent: string;
  rel: string;
}

/**
 * Stage two of the unpack safety pipeline: turns the parent directories of an entry
 * into a real directory inside the layer root, like chroot would. Each component is
 * lstat'ed; a symlink (made by an earlier entry of this layer — nothing else is in
 * the root) is read and followed *inside the root*: absolute targets start at the
 * layer root, relative ones at the link's directory, and `..` stops at the root.
 * This is containerd's policy (re-root, don't reject), so `etc -> /etc` plus
 * `etc/passwd` writes root/etc/passwd and never the host's.
 *
 * The work is linear in what the name and the links it meets spell, and bounded by
 * NAME_LIMITS (limits.ts): every path reached is checked against PATH_MAX and the
 * depth limit before it is named to the kernel, and a lookup follows at most 40 links.
 *
 * Two caches make the common case cost no system call, and a lookup they answer
 * builds no string (joining a key for every prefix of a deep name made lookups
 * quadratic):
 * - resolved directories, in a tree keyed one component at a time, so a name is
 *   looked up in as many steps as it has components;
 * - resolved symlinks, by the link's real path, so many entries that go through one
 *   long chain of links walk the chain once, not once each.
 * Both are dropped whenever a directory or symlink is removed; creating a name where
 * nothing was cannot change a cached answer, since every cached answer went through
 * existing names only.
 */
export class RootResolver {
  private root = rootNode();
  private links = new Map<string, ResolvedLink>();
  /** The last entry resolved and its parent's node: `remember` usually follows it, for the same name. */
  private last: { parts: LayerPath; parent: CachedDir } | null = null;
  /** UTF-8 bytes of the layer root's host path: every host path is this, a `/`, and the real path. */
  private readonly rootBytes: number;
  /** Entries looked up and the lstat/readlink calls spent on them, for the layer's lookup budget. */
  private entries = 0;
  private lookups = 0;

  constructor(
    private readonly tree: LayerTree,
    private readonly hooks: ResolveHooks,
    /** NAME_LIMITS; tests pass smaller ones. */
    private readonly limits: NameLimits = NAME_LIMITS,
  ) {
    this.rootBytes = Buffer.byteLength(tree.root);
  }

  /** Forgets every cached resolution (a directory or symlink of the layer went away). */
  forget(): void {
    this.root = rootNode();
    this.links = new Map();
    this.last = null;
  }

  /** Records a directory this layer just created at `parts`, so its children need no lstat. */
  remember(parts: LayerPath, rel: string): void {
    const parent = this.last?.parts === parts ? this.last.parent : this.cached(parts.slice(0, -1));
    // The parent is cached unless a removal since the lookup dropped it; then a later
    // lookup finds the directory on disk instead.
    if (parent !== null) learn(parent, parts[parts.length - 1]!, { ...below(parent, parts[parts.length - 1]!), real: rel }, parent.hops);
  }

  /**
   * Where the entry at `parts` (not the root) goes: its parent resolved (and made,
   * when `create`), and its own path checked against the limits, but never followed.
   * Null when `create` is false and the parent does not exist.
   */
  resolveEntry(parts: LayerPath, ctx: EntryContext, create: boolean): EntryPlace | null {
    const name = parts[parts.length - 1]!;
    this.entries += 1;
    const parent = this.resolvePlace(parts.slice(0, -1), ctx, create);
    if (parent === null) return null;
    this.last = { parts, parent };
    return { parent: parent.real, rel: this.fits(below(parent, name), ctx).real };
  }

  /**
   * The real directory that `parts` names. Missing directories are created (0755 for
   * now; unpack settles modes at the end) when `create`, else the answer is null.
   */
  private resolvePlace(parts: LayerPath, ctx: EntryContext, create: boolean): CachedDir | null {
    let node = this.root;
    let i = 0;
    for (; i < parts.length; i++) {
      const next = node.children?.get(parts[i]!);
      if (next === undefined) break;
      node = next;
    }
    const hops = { count: node.hops };
    let walk: Walk = { at: node, missing: [] };
    // Once a name is missing, every later part is a missing directory too; `ends[k]`
    // is how many of the missing directories lead to parts[firstMissing + k].
    let firstMissing = -1;
    const ends: number[] = [];
    for (; i < parts.length; i++) {
      if (firstMissing >= 0) {
        walk.missing.push(parts[i]!);
        ends.push(walk.missing.length);
        continue;
      }
      walk = this.step(walk.at, parts[i]!, ctx, hops);
      if (walk.missing.length === 0) node = learn(node, parts[i]!, walk.at, hops.count);
      else {
        firstMissing = i;
        ends.push(walk.missing.length);
      }
    }
    if (firstMissing < 0) return node;
    if (!create) return null;
    const made: Place[] = [];
    let at = walk.at;
    for (const name of walk.missing) {
      const next = this.fits(below(at, name), ctx);
      this.hooks.beforeImpliedDir(at.real, name, ctx);
      fs.mkdirSync(this.tree.abs(next.real), 0o755);
      this.hooks.afterImpliedDir(next.real);
      made.push(next);
      at = next;
    }
    for (let k = 0; k < ends.length; k++) node = learn(node, parts[firstMissing + k]!, made[ends[k]! - 1]!, hops.count);
    return node;
  }

  /** The cached directory at `parts`, or null. */
  private cached(parts: LayerPath): CachedDir | null {
    let node = this.root;
    for (const part of parts) {
      const next = node.children?.get(part);
      if (next === undefined) return null;
      node = next;
    }
    return node;
  }

  /** One component below the real directory `at`, following a symlink inside the root. */
  private step(at: Place, name: string, ctx: EntryContext, hops: { count: number }): Walk {
    // Checked before the lstat: a path past PATH_MAX would fail there with the whole
    // path in the message, and one past the depth limit should cost nothing more.
    const next = this.fits(below(at, name), ctx);
    // A cached link is still there: removing it would have dropped the cache.
    const known = this.links.get(next.real);
    if (known !== undefined) {
      hops.count += known.hops;
      if (hops.count > this.limits.maxSymlinks) throw tooManyLinks(ctx, this.limits);
      return { at: known.at, missing: [] };
    }
    this.spend(ctx);
    const st = this.tree.lstat(next.real);
    if (st === null) return { at, missing: [name] };
    if (st.isDirectory()) return { at: next, missing: [] };
    if (!st.isSymbolicLink()) throw invalidEntry(ctx, `parent ${quoteName(layerRelative([next.real]))} is not a directory`);
    const before = hops.count;
    if (++hops.count > this.limits.maxSymlinks) throw tooManyLinks(ctx, this.limits);
    this.spend(ctx);
    const target = this.tree.readlink(next.real);
    let walk: Walk = { at: target.startsWith('/') ? ROOT : at, missing: [] };
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        // Below a missing name nothing exists, so `..` just drops it, as securejoin does.
        if (walk.missing.length > 0) walk.missing.pop();
        else walk.at = above(walk.at);
        continue;
      }
      // Same rule as for names (entry-path.ts): a `.wh.` directory has no meaning
      // that both whiteout formats share, whether named directly or through a link.
      if (isWhiteoutName(part))
        throw invalidEntry(ctx, `symlink ${quoteName(layerRelative([next.real]))} leads through the whiteout name ${quoteName(part)}`);
      // A target is checked only when followed, as the kernel checks it at lookup.
      checkComponentBytes(part, ctx, `the target of symlink ${quoteName(layerRelative([next.real]))}`);
      if (walk.missing.length > 0) walk.missing.push(part);
      else walk = this.step(walk.at, part, ctx, hops);
    }
    // Only a link that leads to an existing directory is cached: one whose target is
    // missing resolves differently once a later entry creates it.
    if (walk.missing.length === 0) this.links.set(next.real, { at: walk.at, hops: hops.count - before });
    return walk;
  }

  /**
   * A path this layer may name: within the depth limit, and within PATH_MAX as the
   * host path strata gives the kernel (the layer directory's path, `/`, the real
   * path). That is always longer than the path the container sees (`/` and the real
   * path), so it is the one PATH_MAX check; a store deep in the host's tree refuses a
   * few bytes earlier than a shallow one.
   */
  /** One lstat or readlink, counted against the layer's budget (limits.ts says why). */
  private spend(ctx: EntryContext): void {
    const { lookupBase, lookupsPerEntry } = this.limits;
    const budget = lookupBase + lookupsPerEntry * this.entries;
    if (++this.lookups > budget) {
      throw nameLimitExceeded(
        ctx,
        `resolving the layer's first ${this.entries} entries took ${this.lookups} lookups (${lookupBase} and ${lookupsPerEntry} per entry)`,
        budget,
        this.lookups,
      );
    }
  }

  private fits(place: Place, ctx: EntryContext): Place {
    const { maxDepth, maxPathBytes } = this.limits;
    if (place.depth > maxDepth) throw nameLimitExceeded(ctx, `resolves to a path ${place.depth} levels deep`, maxDepth, place.depth);
    const onHost = this.rootBytes + 1 + place.bytes;
    if (onHost > maxPathBytes) {
      throw nameLimitExceeded(
        ctx,
        `resolves to a path of ${place.bytes + 1} bytes, a host path of ${onHost} bytes under the layer directory`,
        maxPathBytes,
        onHost,
      );
    }
    return place;
  }
}

/** A cached resolved directory: the links followed to reach it, and the names resolved below it. */
interface CachedDir extends Place {
  hops: number;
  /** Made on the first child: most directories are leaves of the cache. */
  children: Map<string, CachedDir> | null;
}

/** A followed symlink that leads to an existing directory, and the links that took (itself included). */
interface ResolvedLink {
  at: Place;
  hops: number;
}

/**
 * How far a path resolved: the deepest real directory reached, and the names below
 * it that do not exist yet (they can hold no symlink, so they are plain names).
 */
interface Walk {
  at: Place;
  missing: string[];
}

function rootNode(): CachedDir {
  return { ...ROOT, hops: 0, children: null };
}

function learn(parent: CachedDir, name: string, place: Place, hops: number): CachedDir {
  // A directory listed twice keeps what is cached below it.
  const known = parent.children?.get(name);
  if (known !== undefined && known.real === place.real && known.hops === hops) return known;
  const node: CachedDir = { real: place.real, bytes: place.bytes, depth: place.depth, hops, children: null };
  (parent.children ??= new Map()).set(name, node);
  return node;
}

function tooManyLinks(ctx: EntryContext, limits: NameLimits): Error {
  return invalidEntry(ctx, `too many levels of symbolic links (more than ${limits.maxSymlinks} in one lookup)`);
}
