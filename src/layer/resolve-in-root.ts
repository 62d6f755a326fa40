import fs from 'node:fs';
import { invalidEntry, layerRelative, type EntryContext, type LayerPath } from './entry-path.js';
import { joinRel, parentRel, type LayerTree } from './safe-fs.js';
import { isWhiteoutName } from './whiteout.js';

/** Linux gives up after 40 links in one lookup (MAXSYMLINKS); so do we. */
export const MAX_SYMLINK_HOPS = 40;

export interface ResolveHooks {
  /** Before a missing directory is created; throws to refuse it (e.g. this layer whited it out). */
  beforeImpliedDir(parent: string, name: string, ctx: EntryContext): void;
  /** After a missing directory was created with a provisional mode. */
  afterImpliedDir(rel: string): void;
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
 * Resolved directories are cached by their (cleaned) name: most entries of a layer
 * share a parent, so the common case costs no system call. The cache is dropped
 * whenever a directory or symlink is removed; creating a symlink where nothing was
 * cannot change a cached answer, since every cached path went through existing names.
 */
export class RootResolver {
  private readonly cache = new Map<string, string>([['', '']]);

  constructor(private readonly tree: LayerTree, private readonly hooks: ResolveHooks) {}

  /** Forgets every cached resolution (a directory or symlink of the layer went away). */
  forget(): void {
    this.cache.clear();
    this.cache.set('', '');
  }

  /** Records a directory this layer just created at `parts`, so its children need no lstat. */
  remember(parts: LayerPath, rel: string): void {
    this.cache.set(parts.join('/'), rel);
  }

  /**
   * The real directory that `parts` names. Missing directories are created (0755 for
   * now; unpack settles modes at the end) when `create`, else the answer is null.
   */
  resolveDir(parts: LayerPath, ctx: EntryContext, create: boolean): string | null {
    let known = parts.length;
    let real = this.cache.get(parts.join('/'));
    while (real === undefined) {
      known -= 1;
      real = this.cache.get(parts.slice(0, known).join('/'));
    }
    const hops = { count: 0 };
    let walk: Walk = { real, missing: [] };
    for (let i = known; i < parts.length; i++) {
      if (walk.missing.length > 0) {
        walk.missing.push(parts[i]!);
        continue;
      }
      walk = this.step(walk.real, parts[i]!, ctx, hops);
      if (walk.missing.length === 0) this.cache.set(parts.slice(0, i + 1).join('/'), walk.real);
    }
    if (walk.missing.length === 0) return walk.real;
    if (!create) return null;
    real = walk.real;
    for (const name of walk.missing) {
      this.hooks.beforeImpliedDir(real, name, ctx);
      real = joinRel(real, name);
      fs.mkdirSync(this.tree.abs(real), 0o755);
      this.hooks.afterImpliedDir(real);
    }
    this.cache.set(parts.join('/'), real);
    return real;
  }

  /** One component below the real directory `dir`, following a symlink inside the root. */
  private step(dir: string, name: string, ctx: EntryContext, hops: { count: number }): Walk {
    const rel = joinRel(dir, name);
    const st = this.tree.lstat(rel);
    if (st === null) return { real: dir, missing: [name] };
    if (st.isDirectory()) return { real: rel, missing: [] };
    if (!st.isSymbolicLink()) throw invalidEntry(ctx, `parent ${layerRelative([rel])} is not a directory`);
    if (++hops.count > MAX_SYMLINK_HOPS) throw invalidEntry(ctx, 'too many levels of symbolic links');
    const target = fs.readlinkSync(this.tree.abs(rel));
    let walk: Walk = { real: target.startsWith('/') ? '' : dir, missing: [] };
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        // Below a missing name nothing exists, so `..` just drops it, as securejoin does.
        if (walk.missing.length > 0) walk.missing.pop();
        else walk.real = parentRel(walk.real);
        continue;
      }
      // Same rule as for names (entry-path.ts): a `.wh.` directory has no meaning
      // that both whiteout formats share, whether named directly or through a link.
      if (isWhiteoutName(part)) throw invalidEntry(ctx, `symlink ${layerRelative([rel])} leads through the whiteout name ${JSON.stringify(part)}`);
      if (walk.missing.length > 0) walk.missing.push(part);
      else walk = this.step(walk.real, part, ctx, hops);
    }
    return walk;
  }
}

/**
 * How far a path resolved: the deepest real directory reached, and the names below
 * it that do not exist yet (they can hold no symlink, so they are plain names).
 */
interface Walk {
  real: string;
  missing: string[];
}
