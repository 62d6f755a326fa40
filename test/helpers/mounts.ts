/**
 * Mount tests clean up after themselves even when they fail: every mount under a
 * test's directory is detached in teardown, deepest first, so a failed assertion
 * never leaves a mount that blocks removing the temp dir or shows in the next test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { readMounts, type MountEntry } from '../../src/mount/mountinfo.js';
import { runDir } from '../../src/mount/run-dir.js';
import { defaultRunBase } from '../../src/mount/run-base.js';
import type { Store } from '../../src/store/root.js';
import { kernelOverlaySkipReason } from './kernel-overlay.js';

const run = promisify(execFile);

/** Mounts at or below `dir` (a real path is taken of it first), as /proc/self/mountinfo lists them. */
export function mountsUnder(dir: string): MountEntry[] {
  const real = fs.realpathSync(dir);
  return readMounts().filter((m) => m.mountPoint === real || m.mountPoint.startsWith(`${real}/`));
}

/**
 * Registers a teardown that lazily unmounts whatever is still mounted under `dir`, and
 * removes the run dir of every store whose root is under it (each test's store has
 * its own, and the run base is shared by every test run on the machine).
 */
export function unmountAllOnTeardown(t: ExecutionContext, dir: string, store?: Store): void {
  const real = fs.realpathSync(dir);
  const base = store === undefined ? defaultRunBase({ privileged: process.geteuid?.() === 0 }) : path.dirname(runDir(store));
  t.teardown(async () => {
    const left = readMounts()
      .filter((m) => m.mountPoint.startsWith(`${real}/`))
      .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
    for (const m of left) await run('umount', ['-l', m.mountPoint]).catch(() => {});
    for (const name of fs.existsSync(base) ? fs.readdirSync(base) : []) {
      const root = storeRootOf(path.join(base, name));
      if (root.startsWith(`${real}/`)) fs.rmSync(path.join(base, name), { recursive: true, force: true });
    }
  });
}

/** The store a run dir belongs to, from the `root` file it keeps ('' when there is none). */
function storeRootOf(runDirPath: string): string {
  try {
    return fs.readFileSync(path.join(runDirPath, 'root'), 'utf8').trim();
  } catch {
    return '';
  }
}

let fuseReason: Promise<string | null> | undefined;

/** Why a fuse-overlayfs mount cannot be made here, or null. */
export function fuseOverlaySkipReason(): Promise<string | null> {
  fuseReason ??= (async () => {
    if (process.platform !== 'linux') return 'fuse-overlayfs needs Linux';
    if (!fs.existsSync('/dev/fuse')) return 'no /dev/fuse here';
    const found = await run('fuse-overlayfs', ['--version']).then(
      () => true,
      () => false,
    );
    return found ? null : 'fuse-overlayfs is not installed';
  })();
  return fuseReason;
}

/** Root and a working kernel overlayfs: the kernel mount tests run. */
export function kernelMountSkipReason(): Promise<string | null> {
  return kernelOverlaySkipReason();
}

/** The real path of a container's merged dir, as mountinfo names it. */
export function realMerged(mergedDir: string): string {
  return path.resolve(fs.realpathSync(mergedDir));
}
