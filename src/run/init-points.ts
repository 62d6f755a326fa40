import fs from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from '../store/atomic.js';
import { readJsonRecord } from '../store/records.js';
import type { Resolver } from '../resolver/resolver.js';

/**
 * The mount points a run needs (/proc, /dev, /sys, the /etc files, -v and --tmpfs
 * targets) that the image lacks. The runtime would make them through the kernel
 * mount, into the upper, where `diff` and `commit` would show them; Docker keeps
 * them in an init layer. strata makes them in the upper itself before the mount,
 * writes down which (`init-points.json`, first, so a crash leaves the list), and
 * takes them out again after the unmount — each only while still empty, so a file
 * the process wrote under one of them stays. Paths that exist in the upper already
 * (a whiteout the container made, say) are left alone.
 */

export interface MountPoint {
  /** Container path. */
  path: string;
  kind: 'dir' | 'file';
  /** Default 0755 (directories) or 0644; runc gives a tmpfs the mode of its mount point, so a --tmpfs target is made with the tmpfs's. */
  mode?: number;
}

interface Made {
  /** Container paths, in the order made (parents first). */
  made: string[];
}

export async function makeMountPoints(view: Resolver, upperDir: string, listFile: string, points: MountPoint[]): Promise<void> {
  const plan: { path: string; kind: 'dir' | 'file'; mode: number; uid: number; gid: number }[] = [];
  const planned = new Set<string>();
  eachPoint: for (const point of points) {
    if (await presentAnywhere(view, upperDir, point.path)) continue;
    // Parents the upper lacks are made as copies of the image's (same mode and owner), so the merged view does not change.
    const parents: string[] = [];
    for (let dir = path.posix.dirname(point.path); dir !== '/'; dir = path.posix.dirname(dir)) parents.unshift(dir);
    for (const dir of parents) {
      if (planned.has(dir) || (await exists(path.join(upperDir, dir)))) continue;
      const st = await view.lstat(dir).catch(() => null);
      if (st !== null && st.type !== 'dir') continue eachPoint; // not a directory in the image: the runtime will say so
      plan.push({ path: dir, kind: 'dir', mode: st?.mode ?? 0o755, uid: st?.uid ?? 0, gid: st?.gid ?? 0 });
      planned.add(dir);
    }
    if (planned.has(point.path)) continue;
    plan.push({ path: point.path, kind: point.kind, mode: point.mode ?? (point.kind === 'dir' ? 0o755 : 0o644), uid: 0, gid: 0 });
    planned.add(point.path);
  }
  if (plan.length === 0) return;
  await writeJsonAtomic(listFile, { made: plan.map((p) => p.path) } satisfies Made);
  for (const entry of plan) {
    const host = path.join(upperDir, entry.path);
    if (entry.kind === 'dir') await fs.mkdir(host, { mode: entry.mode });
    else await (await fs.open(host, 'wx', entry.mode)).close();
    await fs.chmod(host, entry.mode);
    await fs.lchown(host, entry.uid, entry.gid);
  }
}

/** Removes what makeMountPoints made, deepest first, each only if still empty; then the list. */
export async function removeMountPoints(upperDir: string, listFile: string): Promise<void> {
  const list = (await readJsonRecord(listFile, { optional: true })) as Made | null;
  if (list === null) return;
  for (const container of [...list.made].reverse()) {
    const host = path.join(upperDir, container);
    const st = await fs.lstat(host).catch(() => null);
    if (st === null) continue;
    if (st.isDirectory()) await fs.rmdir(host).catch(() => undefined);
    else if (st.isFile() && st.size === 0) await fs.unlink(host);
  }
  await fs.rm(listFile, { force: true });
}

async function presentAnywhere(view: Resolver, upperDir: string, containerPath: string): Promise<boolean> {
  if (await exists(path.join(upperDir, containerPath))) return true;
  return view.lstat(containerPath).then(
    () => true,
    () => false,
  );
}

async function exists(hostPath: string): Promise<boolean> {
  return fs.lstat(hostPath).then(
    () => true,
    () => false,
  );
}
