import fs from 'node:fs';
import { Yielder } from '../event-loop.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';
import { isEncodingArtifact, isOpaqueDir, whiteoutTarget } from '../layer/whiteout.js';
import { hostInode, SizeTally } from '../layer/size.js';
import type { TreeNode } from './report-data.js';

/** One entry of a layer's diff, in the order a stack needs: a directory before what is in it. */
export type DiffEntry =
  | { kind: 'dir'; path: string }
  /** The directory at `path` hides everything below it in the layers beneath. */
  | { kind: 'opaque'; path: string }
  | { kind: 'whiteout'; path: string }
  /** Anything else: a file, symlink or device, at its size by Docker's rule, with its inode when it has other names. */
  | { kind: 'file'; path: string; size: number; regular: boolean; inode: string | null };

/**
 * A layer's diff read once, synchronously (as the usage walks read trees), so that
 * every image holding the layer is stacked from memory instead of walking it again.
 */
export async function readDiff(diffDir: string, format: WhiteoutFormat, yielder = new Yielder()): Promise<DiffEntry[]> {
  const out: DiffEntry[] = [];
  const pending: [string, string][] = [[diffDir, '']];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [hostDir, dir] = next;
    if (dir !== '' && isOpaqueDir(hostDir, format)) out.push({ kind: 'opaque', path: dir });
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(hostDir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      await yielder.maybe();
      const host = `${hostDir}/${entry.name}`;
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        out.push({ kind: 'dir', path });
        pending.push([host, path]);
        continue;
      }
      const st = fs.lstatSync(host);
      const target = whiteoutTarget(entry.name, st, format);
      if (target !== null) out.push({ kind: 'whiteout', path: `${dir}/${target}` });
      else if (!isEncodingArtifact(entry.name, format))
        out.push({ kind: 'file', path, size: st.size, regular: st.isFile(), inode: st.nlink > 1 ? hostInode(host) : null });
    }
  }
  return out;
}

interface StackDir {
  dirs: Map<string, StackDir>;
  files: Map<string, { size: number; layer: number; inode: string | null }>;
}

/**
 * The merged tree of layers stacked bottom first, as overlayfs shows it: a whiteout
 * removes what is below, an opaque directory hides the lower one, and a later entry
 * replaces an earlier one of the same name. Each file carries its layer (bottom
 * first) and its bytes, a hardlinked inode counted once; `visible` is each layer's
 * bytes in the result (`du`'s VISIBLE).
 */
export function stackDiffs(layers: DiffEntry[][]): { tree: TreeNode; visible: number[] } {
  const root: StackDir = { dirs: new Map(), files: new Map() };
  const find = (path: string): StackDir | undefined => {
    let node: StackDir | undefined = root;
    for (const name of path.split('/').slice(1)) node = node?.dirs.get(name);
    return node;
  };
  const split = (path: string) => {
    const cut = path.lastIndexOf('/');
    return { parent: find(path.slice(0, cut)), name: path.slice(cut + 1) };
  };
  for (const [layer, entries] of layers.entries()) {
    for (const e of entries) {
      if (e.kind === 'opaque') {
        const dir = find(e.path);
        if (dir) {
          dir.dirs.clear();
          dir.files.clear();
        }
        continue;
      }
      const { parent, name } = split(e.path);
      if (parent === undefined) continue;
      if (e.kind === 'whiteout') {
        parent.dirs.delete(name);
        parent.files.delete(name);
      } else if (e.kind === 'dir') {
        parent.files.delete(name);
        if (!parent.dirs.has(name)) parent.dirs.set(name, { dirs: new Map(), files: new Map() });
      } else {
        parent.dirs.delete(name);
        parent.files.set(name, { size: e.size, layer, inode: e.inode === null ? null : `${layer}:${e.inode}` });
      }
    }
  }
  const visible = new Array<number>(layers.length).fill(0);
  const tally = new SizeTally();
  const convert = (dir: StackDir, name: string): TreeNode => {
    const c: TreeNode[] = [];
    for (const [n, d] of dir.dirs) c.push(convert(d, n));
    for (const [n, f] of dir.files) {
      const bytes = tally.count({ size: f.size, nlink: f.inode === null ? 1 : 2 }, () => f.inode!) ? f.size : 0;
      visible[f.layer]! += bytes;
      c.push({ n, s: bytes, l: f.layer });
    }
    return { n: name, c };
  };
  return { tree: convert(root, ''), visible };
}
