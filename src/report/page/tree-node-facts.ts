import type { HierarchyNode } from 'd3-hierarchy';
import type { ViewNode } from './merge-upper.js';

/** What the explorer says about a node of the tree it draws. */

/** Files below a node, counting what an aggregate stands for. */
export function fileCount(n: HierarchyNode<ViewNode>): number {
  if (!n.children) return n.data.c ? 0 : (n.data.k ?? 1);
  let count = 0;
  for (const leaf of n.leaves()) count += leaf.data.c ? 0 : (leaf.data.k ?? 1);
  return count;
}

/** The layer (or copy-up) that holds most of a node's bytes: a directory's colour. */
export function dominantLayer(n: HierarchyNode<ViewNode>): number {
  if (!n.children) return n.data.l ?? 0;
  const byLayer = new Map<number, number>();
  for (const leaf of n.leaves())
    if (leaf.data.l !== undefined) byLayer.set(leaf.data.l, (byLayer.get(leaf.data.l) ?? 0) + (leaf.value ?? 0));
  let best = 0;
  let most = -1;
  for (const [l, b] of byLayer)
    if (b > most) {
      best = l;
      most = b;
    }
  return best;
}

export function layerName(d: ViewNode, upperLayer: number): string {
  if (d.l === undefined) return '';
  if (d.l >= upperLayer) return d.cu ? 'upper (copied up)' : 'upper (new)';
  return `layer ${d.l + 1}`;
}
