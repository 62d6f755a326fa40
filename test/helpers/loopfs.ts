/**
 * A small file system of its own, for tests that fill a disk: an ext4 image on a loop
 * device (what a real full disk is like: journal, block groups, root-reserved blocks
 * switched off), or a size-limited tmpfs where loop devices are not to be had. Root
 * only; everything is unmounted and removed in t.teardown, even when the test fails.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';

const run = promisify(execFile);

export interface SmallFs {
  /** Where it is mounted (empty at first). */
  dir: string;
  kind: 'ext4' | 'tmpfs';
  /** Bytes an unprivileged write could still use. */
  available(): Promise<number>;
  /** Fills the file system until about `leave` bytes are left (a ballast file beside what the test writes). */
  fill(leave: number): Promise<void>;
  /** Removes the ballast. */
  free(): Promise<void>;
}

let skipReason: Promise<string | null> | undefined;

/**
 * Why a small file system cannot be made here, or null when it can. Root is not always
 * enough (a container without CAP_SYS_ADMIN), so as root it mounts a tiny tmpfs once —
 * the fallback mountSmallFs needs when there is no loop device.
 */
export function smallFsSkipReason(): Promise<string | null> {
  skipReason ??= (async () => {
    if (process.platform !== 'linux') return 'full-disk tests need Linux';
    if (process.geteuid?.() !== 0) return 'full-disk tests mount a small file system, which needs root';
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-smallfs-probe-'));
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
      await run('umount', [dir]);
      return null;
    } catch (err) {
      return `cannot mount a small file system here: ${(err as Error).message.split('\n')[0]}`;
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  })();
  return skipReason;
}

export async function mountSmallFs(t: ExecutionContext, sizeMiB: number): Promise<SmallFs> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-smallfs-'));
  const dir = path.join(base, 'mnt');
  await fs.mkdir(dir);
  let mounted = false;
  t.teardown(async () => {
    if (mounted) await run('umount', ['-l', dir]).catch((err: Error) => t.log(`umount ${dir}: ${err.message}`));
    await fs.rm(base, { recursive: true, force: true });
  });
  let kind: SmallFs['kind'] = 'ext4';
  try {
    const image = path.join(base, 'disk.img');
    await run('truncate', ['-s', `${sizeMiB}M`, image]);
    // -m 0: no root-reserved blocks, so root fills it like anyone; no lazy init to keep writing after mount.
    await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
    await run('mount', ['-o', 'loop', image, dir]);
  } catch (err) {
    t.log(`no loop-mounted ext4 (${(err as Error).message.split('\n')[0]}); using a tmpfs`);
    kind = 'tmpfs';
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, 'tmpfs', dir]);
  }
  mounted = true;
  const ballast = path.join(dir, 'ballast');
  const available = async () => {
    const st = await fs.statfs(dir);
    return st.bavail * st.bsize;
  };
  return {
    dir,
    kind,
    available,
    async fill(leave: number) {
      const chunk = Buffer.alloc(1 << 20, 0x5a);
      const handle = await fs.open(ballast, 'a');
      try {
        for (let left = (await available()) - leave; left > 0; left = (await available()) - leave) {
          await handle.write(chunk, 0, Math.min(chunk.length, left));
          await handle.sync();
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        await handle.close();
      }
    },
    async free() {
      await fs.rm(ballast, { force: true });
      await run('sync', ['-f', dir]).catch(() => {});
    },
  };
}
