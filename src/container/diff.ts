import fs from 'node:fs/promises';
import path from 'node:path';
import type { Store } from '../store/root.js';
import { imageView, layerStackOptions } from '../image/view.js';
import { Resolver } from '../resolver/resolver.js';
import { isEncodingArtifact, isOpaqueDir, whiteoutTarget, OPAQUE_MARKER } from '../layer/whiteout.js';
import { containerDirs, type ContainerRecord } from './record.js';
import { statChanged } from './stat-change.js';
import { assertUpperPresent } from '../layer/missing-layer.js';

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  kind: ChangeKind;
  path: string;
}

/** The container's merged view and the image's, both without mounts (docker diff ignores volumes). */
interface Views {
  container: Resolver;
  image: Resolver;
}

/**
 * `docker diff`. Docker's overlay2 answers Changes() with the naive diff (moby#37313):
 * it compares the container's merged tree with the image's, path by path, so an entry
 * that was copied up but whose stat is unchanged (chmod to the same mode, the lower
 * file of a hard link, a directory copied away and back) is not a change. The upper
 * dir holds every path that can differ, so only it is walked: an entry is A when the
 * image has nothing at its path, C when its stat differs from the image's (moby's
 * statDifferent, see stat-change.ts); a directory that is neither is C only when
 * something below it changed. Whiteouts are D, and an opaque directory also reports
 * each image entry it hides as D. Sorted by path (docker prints Go map order).
 */
export async function containerChanges(store: Store, record: ContainerRecord): Promise<Change[]> {
  const dirs = containerDirs(store, record.id);
  await assertUpperPresent(store, record.id);
  const views: Views = {
    image: await imageView(store, record.layers),
    container: new Resolver({ ...(await layerStackOptions(store, record.layers)), upperDir: dirs.upper, readOnly: true }),
  };
  const changes: Change[] = [];
  await walkUpper(store, views, dirs.upper, '', false, changes);
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Appends the changes below one upper directory; says whether there were any. */
async function walkUpper(
  store: Store,
  views: Views,
  hostDir: string,
  containerDir: string,
  allNew: boolean,
  out: Change[],
): Promise<boolean> {
  const format = store.whiteoutFormat;
  const before = out.length;
  for (const name of await fs.readdir(hostDir)) {
    if (name === OPAQUE_MARKER && format === 'oci') continue;
    const hostPath = path.join(hostDir, name);
    const st = await fs.lstat(hostPath);
    const hidden = whiteoutTarget(name, st, format);
    if (hidden !== null) {
      out.push({ kind: 'D', path: `${containerDir}/${hidden}` });
      continue;
    }
    if (isEncodingArtifact(name, format)) continue;
    const containerPath = `${containerDir}/${name}`;
    const below = allNew ? null : await views.image.lstat(containerPath).catch(() => null);
    const changed = below === null || (await statChanged(below, await views.container.lstat(containerPath)));
    const at = out.length;
    if (changed) out.push({ kind: below ? 'C' : 'A', path: containerPath });
    if (!st.isDirectory()) continue;
    const mergesBelow = below?.type === 'dir';
    let inside = await walkUpper(store, views, hostPath, containerPath, !mergesBelow, out);
    if (mergesBelow && isOpaqueDir(hostPath, format))
      inside = (await reportHidden(views.image, hostPath, containerPath, out.slice(at), out)) || inside;
    // A directory that only holds changes is listed before them, as moby's addChanges inserts it.
    if (inside && !changed) out.splice(at, 0, { kind: 'C', path: containerPath });
  }
  return out.length > before;
}

/**
 * Image entries an opaque directory hides, unless the upper has its own entry by that
 * name: listed in `hostPath` (changed or not) or already reported below it (a whiteout).
 */
async function reportHidden(image: Resolver, hostPath: string, containerPath: string, below: Change[], out: Change[]): Promise<boolean> {
  const inUpper = new Set(await fs.readdir(hostPath));
  for (const c of below) if (path.posix.dirname(c.path) === containerPath) inUpper.add(path.posix.basename(c.path));
  let any = false;
  for (const name of await image.readdir(containerPath)) {
    if (inUpper.has(name)) continue;
    out.push({ kind: 'D', path: `${containerPath}/${name}` });
    any = true;
  }
  return any;
}
