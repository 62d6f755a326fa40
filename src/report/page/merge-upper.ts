import type { TreeNode, UpperChanges } from '../report-data.js';

/** A node of the merged tree the explorer draws; `cu` marks a file copy-up put in the upper. */
export interface ViewNode extends TreeNode {
  c?: ViewNode[];
  cu?: boolean;
}

/**
 * A container's merged tree, as the kernel would show it: the image's tree, less what
 * the upper's opaque directories and whiteouts delete, with the upper's files over it.
 * A file the upper replaces is a copy-up. A file the report folded into a `(N files)`
 * node cannot be found by name: a whiteout of it leaves that node as it is, and its
 * copy-up shows as new (folding happens only in directories of many files).
 */
export function mergeUpper(image: TreeNode, upper: UpperChanges): ViewNode {
  const root = structuredClone(image) as ViewNode;
  for (const dir of upper.opaque) {
    const node = find(root, dir);
    if (node?.c) node.c = [];
  }
  for (const path of upper.whiteouts) {
    const slash = path.lastIndexOf('/');
    const parent = find(root, path.slice(0, slash));
    if (parent?.c) parent.c = parent.c.filter((c) => c.n !== path.slice(slash + 1));
  }
  overlay(root, upper.tree);
  return root;
}

function overlay(target: ViewNode, upper: TreeNode): void {
  const byName = new Map(target.c!.map((c, i) => [c.n, i]));
  for (const child of upper.c ?? []) {
    const at = byName.get(child.n);
    const below = at === undefined ? undefined : target.c![at];
    let placed: ViewNode;
    if (child.c !== undefined) {
      placed = below?.c !== undefined ? below : { n: child.n, c: [] };
      overlay(placed, child);
    } else {
      placed = { ...child, cu: below !== undefined && below.c === undefined && child.k === undefined };
    }
    if (at === undefined) target.c!.push(placed);
    else target.c![at] = placed;
  }
}

/** The node at `path` ('' or '/a/b'), or undefined. */
export function find(root: ViewNode, path: string): ViewNode | undefined {
  let node: ViewNode | undefined = root;
  for (const name of path.split('/').filter(Boolean)) node = node?.c?.find((c) => c.n === name);
  return node;
}
