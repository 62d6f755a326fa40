import fs from 'node:fs/promises';
import path from 'node:path';
import type { Store } from '../store/root.js';
import { imageView } from '../image/view.js';
import type { Resolver } from '../resolver/resolver.js';
import { isEncodingArtifact, isOpaqueDir, whiteoutTarget, OPAQUE_MARKER } from '../layer/whiteout.js';
import { containerDirs, type ContainerRecord } from './record.js';
import { assertUpperPresent } from '../layer/missing-layer.js';

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  kind: ChangeKind;
  path: string;
}

/**
 * `docker diff`: what the container changed, from its upper dir. An entry is A when
 * nothing of that path is below, C when it replaces or changes something below (and
 * so is every directory on the way to a change); whiteouts are D, and an opaque
 * directory — deleted and re-created — also reports each lower entry it hides as D.
 * Sorted by path (docker prints walk order).
 */
export async function containerChanges(store: Store, record: ContainerRecord): Promise<Change[]> {
  const lower = await imageView(store, record.layers);
  await assertUpperPresent(record.id, containerDirs(store, record.id).upper);
  const changes: Change[] = [];
  await walkUpper(store, lower, containerDirs(store, record.id).upper, '', false, changes);
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function walkUpper(store: Store, lower: Resolver, hostDir: string, containerDir: string, allNew: boolean, out: Change[]): Promise<void> {
  const format = store.whiteoutFormat;
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
    const below = allNew ? null : await lower.lstat(containerPath).catch(() => null);
    out.push({ kind: below ? 'C' : 'A', path: containerPath });
    if (st.isDirectory()) {
      const mergesBelow = below?.type === 'dir';
      await walkUpper(store, lower, hostPath, containerPath, !mergesBelow, out);
      if (mergesBelow && isOpaqueDir(hostPath, format)) await reportHidden(lower, containerPath, out);
    }
  }
}

/** Lower entries an opaque directory hides, unless the upper has its own entry by that name. */
async function reportHidden(lower: Resolver, containerPath: string, out: Change[]): Promise<void> {
  const inUpper = new Set(out.filter((c) => path.posix.dirname(c.path) === containerPath).map((c) => path.posix.basename(c.path)));
  for (const name of await lower.readdir(containerPath)) {
    if (!inUpper.has(name)) out.push({ kind: 'D', path: `${containerPath}/${name}` });
  }
}
