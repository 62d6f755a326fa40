import fs from 'node:fs';
import { Yielder } from '../event-loop.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';
import { isEncodingArtifact, isOpaqueDir, whiteoutTarget, WHITEOUT_PREFIX } from '../layer/whiteout.js';
import { hostInode, SizeTally } from '../layer/size.js';
import { humanSize } from '../cli/format.js';
import type { TreeNode, UpperChanges } from './report-data.js';

/**
 * Files kept by name in one directory at most: the largest ones. The rest become one
 * `(N files, X)` node per layer they come from, so a directory of a hundred thousand
 * files costs the page a few nodes, and tiny files stay counted in a table row.
 */
export const FILES_KEPT_PER_DIR = 64;

/**
 * Files kept by name in all the trees of one report. A whole store of containers has
 * more files than a page can hold and draw at once (the page's data stays under 5 MB);
 * above this, fewer files per directory are kept by name, the same number in every one.
 */
export const FILES_KEPT_PER_REPORT = 80_000;

/**
 * What a container's upper dir changes: its files (tagged with `upperLayer`), the paths
 * its whiteouts delete and the directories it made opaque. Host calls are synchronous,
 * as in the usage walk (src/usage/container-usage.ts), for the same reason.
 */
export async function upperChanges(upperDir: string, format: WhiteoutFormat, upperLayer: number): Promise<UpperChanges> {
  const changes: UpperChanges = { tree: { n: '', c: [] }, whiteouts: [], opaque: [] };
  const tally = new SizeTally();
  const yielder = new Yielder();
  const pending: [string, string, TreeNode][] = [[upperDir, '', changes.tree]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [hostDir, dir, node] = next;
    if (dir !== '' && isOpaqueDir(hostDir, format)) changes.opaque.push(dir);
    for (const entry of readdirOrEmpty(hostDir)) {
      await yielder.maybe();
      const host = `${hostDir}/${entry.name}`;
      // A directory needs no lstat unless its name is whiteout-shaped, as in the usage walk.
      const st = entry.isDirectory() && !entry.name.startsWith(WHITEOUT_PREFIX) ? null : fs.lstatSync(host, { throwIfNoEntry: false });
      if (st === undefined) continue; // removed while we walked
      const whiteout = st === null ? null : whiteoutTarget(entry.name, st, format);
      if (whiteout !== null) {
        changes.whiteouts.push(`${dir}/${whiteout}`);
        continue;
      }
      if (st === null || st.isDirectory()) {
        const child: TreeNode = { n: entry.name, c: [] };
        node.c!.push(child);
        pending.push([host, `${dir}/${entry.name}`, child]);
        continue;
      }
      if (isEncodingArtifact(entry.name, format)) continue;
      node.c!.push({ n: entry.name, s: tally.count(st, () => hostInode(host)) ? st.size : 0, l: upperLayer });
    }
  }
  return changes;
}

/**
 * Folds the small files of every tree (in place): in each directory, the files beyond
 * the largest `kept` become one node per layer, `kept` being FILES_KEPT_PER_DIR or less,
 * as much as FILES_KEPT_PER_REPORT allows for all the trees together.
 */
export function foldSmallFiles(trees: TreeNode[], budget = FILES_KEPT_PER_REPORT): void {
  const dirs: { files: number; layers: number }[] = [];
  for (const dir of directories(trees)) {
    const files = dir.c!.filter((c) => c.c === undefined);
    dirs.push({ files: files.length, layers: new Set(files.map((f) => f.l)).size });
  }
  // A folded directory has `k` files and at most one aggregate per layer.
  const kept = (k: number) => dirs.reduce((sum, d) => sum + (d.files > k ? k + Math.min(d.layers, d.files - k) : d.files), 0);
  let k = FILES_KEPT_PER_DIR;
  while (k > 1 && kept(k) > budget) k--;
  for (const dir of directories(trees)) fold(dir, k);
}

function* directories(trees: TreeNode[]): Generator<TreeNode> {
  const pending = [...trees];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    yield dir;
    for (const c of dir.c!) if (c.c !== undefined) pending.push(c);
  }
}

function fold(dir: TreeNode, kept: number): void {
  const files = dir.c!.filter((c) => c.c === undefined);
  if (files.length <= kept) return;
  files.sort((a, b) => b.s! - a.s!);
  const byLayer = new Map<number, { count: number; bytes: number }>();
  for (const f of files.slice(kept)) {
    const group = byLayer.get(f.l!) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += f.s!;
    byLayer.set(f.l!, group);
  }
  const groups = [...byLayer].map(([l, g]): TreeNode => ({ n: `(${g.count} files, ${humanSize(g.bytes)})`, s: g.bytes, l, k: g.count }));
  dir.c = [...dir.c!.filter((c) => c.c !== undefined), ...files.slice(0, kept), ...groups];
}

function readdirOrEmpty(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}
