import fs from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, removeTree, tempName } from './atomic.js';

export interface DirBuildOptions {
  /** The temp directory's name; it must carry TEMP_PREFIX so gc and check know it as a leftover. Default tempName(). */
  name?: string;
  /** Mode of the temp directory (and so of the directory it becomes). Default 0o755. */
  mode?: number;
}

export interface CommitOptions {
  /**
   * fsync the parent after the rename, so the new entry survives a crash. Default true;
   * only what a crash makes meaningless anyway (a lock of a process that died with it)
   * skips it.
   */
  durable?: boolean;
}

/**
 * A directory built under a temp name beside its target and made visible by one
 * rename (containerd's native snapshotter): nothing ever sees it half made. One
 * cleanup rule for every such directory:
 * - until the rename, every way out of the build removes the temp directory
 *   (`discard`, also through dirs an image made unreadable); a removal that fails
 *   leaves a `.tmp-` name that gc and `check --repair` finish, and never hides the
 *   error that made the build stop;
 * - when the target already exists, the rename fails and nothing is replaced: the
 *   caller learns it and decides (take the existing one, wait, or give up), and the
 *   temp directory is still its to reuse or discard;
 * - after the rename there is nothing to roll back: a failed fsync of the parent is
 *   reported as a warning, not thrown.
 */
export class DirBuild {
  #committed = false;

  private constructor(
    readonly path: string,
    private readonly parent: string,
  ) {}

  /** Makes the temp directory in `parent` (which must exist). */
  static async begin(parent: string, options: DirBuildOptions = {}): Promise<DirBuild> {
    const where = path.join(parent, options.name ?? tempName());
    // Not `recursive`: on a full disk that reports ENOENT (nodejs/node#42808); one level says ENOSPC.
    await fs.mkdir(where, { mode: options.mode ?? 0o755 });
    return new DirBuild(where, parent);
  }

  /** A temp directory begun elsewhere (another thread built it): commit or discard it from here. */
  static resume(tempPath: string): DirBuild {
    return new DirBuild(tempPath, path.dirname(tempPath));
  }

  get committed(): boolean {
    return this.#committed;
  }

  /**
   * Renames the temp directory to `target` (in the same parent). False, with the temp
   * directory left as it was, when `target` exists already; any other failure
   * discards the temp directory and throws.
   */
  async commit(target: string, options: CommitOptions = {}): Promise<boolean> {
    try {
      await fs.rename(this.path, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') return false;
      await this.discard();
      throw err;
    }
    this.#committed = true;
    if (options.durable ?? true) {
      await fsyncDir(this.parent).catch((err: Error) => process.emitWarning(`${this.parent}: fsync failed: ${err.message}`));
    }
    return true;
  }

  /** Removes the temp directory; nothing once committed. Never throws (see the class comment). */
  async discard(): Promise<void> {
    if (this.#committed) return;
    await removeTree(this.path).catch(() => undefined);
  }
}

/**
 * Builds a directory with `build` and renames it to `target`: true when it was
 * created, false (and nothing left behind) when `target` existed already. A failed
 * build leaves nothing behind and throws its own error.
 */
export async function createDirByRename(
  target: string,
  build: (dir: string) => Promise<void>,
  options: DirBuildOptions & CommitOptions = {},
): Promise<boolean> {
  const dir = await DirBuild.begin(path.dirname(target), options);
  try {
    await build(dir.path);
    return await dir.commit(target, options);
  } finally {
    await dir.discard();
  }
}
