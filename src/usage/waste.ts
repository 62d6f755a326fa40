import fs, { type Dirent } from 'node:fs';
import path from 'node:path';
import { Yielder } from '../event-loop.js';
import type { Store } from '../store/root.js';
import type { ImageRecord } from '../image/record.js';
import { containerDirs, type ContainerRecord } from '../container/record.js';
import { isEncodingArtifact, whiteoutTarget } from '../layer/whiteout.js';
import type { WhiteoutFormat } from '../store/whiteout-probe.js';
import { hostInode } from '../layer/size.js';
import { lstatOrNullSync } from '../resolver/host.js';
import { isFsError } from '../errors.js';
import { withOwnerAccess } from '../store/owner-access.js';

/**
 * dive's wasted-space figures for an image or a container, computed as dive computes
 * them, plus the figure dive does not give: what keeping one copy of each path would
 * really free (dive#684). Plain data, so `du --waste`, its JSON and the HTML report
 * all show the same numbers.
 *
 * dive's rules, which every number here follows:
 *  - each layer is the tree of its tar entries, and only its leaves count: files,
 *    symlinks, whiteouts and empty directories, each at its tar header's size. That
 *    is a regular file's length; a hardlink after the first name of its inode, a
 *    symlink, a device and a directory weigh 0;
 *  - a file whiteout costs 0; a directory whiteout costs every byte below that
 *    directory in the layers beneath it, stacked (an opaque directory hides nothing:
 *    dive ignores `.wh..wh..opq`);
 *  - per path: `count` leaves over all layers, their sizes summed (cumulative) and
 *    the smallest of them (min);
 *  - efficiency score = Σ min / Σ cumulative over every path (1 when both are 0);
 *  - wasted = Σ cumulative over paths seen in two layers or more, which counts every
 *    copy, the first one too;
 *  - image size = Σ layer sizes; user size = the same without the first layer, and
 *    user wasted percent = wasted / user size.
 * A container's upper dir is one more layer, on top.
 *
 * Two cases are priced unlike dive:
 *  - on purpose, a whiteout of a path no layer below has: dive fails to find it and
 *    stops reading the rest of that layer (its later leaves then count nowhere); here
 *    such a whiteout costs 0 and the layer is read to the end;
 *  - of necessity, a directory a layer tar only implies (`a/b` without an `a/` entry):
 *    dive's tree holds it as a non-directory, so a later whiteout of it costs 0 there.
 *    An unpacked layer cannot tell it from a directory the tar named, so here it is one.
 *    Docker, BuildKit and kaniko name every parent.
 */
export interface WasteReport {
  /** dive's "Image efficiency score": Σ min / Σ cumulative, between 0 and 1. */
  efficiencyScore: number;
  /** dive's "Potential wasted space" (its JSON's `inefficientBytes`): Σ cumulative of paths seen twice or more. */
  wastedBytes: number;
  /** Σ (cumulative − min) over all paths: what removing every redundant copy would free. Always ≤ wastedBytes. */
  reclaimableBytes: number;
  /** dive's image size: Σ of `layers[].sizeBytes`. */
  sizeBytes: number;
  /** sizeBytes without the first (base) layer, as dive counts "user" bytes. */
  userSizeBytes: number;
  /** wastedBytes / userSizeBytes as a ratio (dive's userWastedPercent; 0.5 is 50 %); 0 when userSizeBytes is 0. */
  userWastedPercent: number;
  /** The layers measured, bottom first; for a container the last one is its upper dir. */
  layers: WasteLayer[];
  /** Every path stored in two layers or more, most bytes first (then by path). */
  paths: WastedPath[];
}

export interface WasteLayer {
  /** Position from the bottom, 0 for the base layer; what `WastedPath.occurrences[].layer` refers to. */
  index: number;
  /** 'upper' for a container's writable layer. */
  kind: 'layer' | 'upper';
  /** The layer's chainID and diffID; null for an upper. */
  chainId: string | null;
  diffId: string | null;
  /**
   * Σ of its tar entries' sizes, as dive counts a layer: regular files, each inode once.
   * Docker's layer size (`du`, `images`) also counts each symlink's target length.
   */
  sizeBytes: number;
}

export interface WastedPath {
  /** Absolute path in the image, `/root/saved.txt`. */
  path: string;
  /** Layers that have a leaf at this path (dive's "Count"). */
  count: number;
  /** Σ of the sizes of all its copies (dive's "Total Space" of the path). */
  bytes: number;
  /** bytes − the smallest copy. */
  reclaimableBytes: number;
  /** One per layer that has it, bottom first; a whiteout's bytes are what it hides by dive's rule. */
  occurrences: { layer: number; bytes: number; whiteout: boolean }[];
}

export interface WasteTarget {
  image: ImageRecord;
  /** Measure this container instead: its image's layers, then its upper dir. */
  container?: ContainerRecord;
}

export interface WasteOptions {
  /** Told after each layer is read: layers done, layers in all. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Pass one to several measureWaste calls (a store-wide report) and a layer that
   * images share is read once: a committed layer never changes. Uppers are always read.
   */
  layerListings?: LayerListings;
}

/** What measureWaste read of each image layer, by chainID, for as long as the caller keeps it. */
export class LayerListings {
  readonly #byChain = new Map<string, Promise<LayerEntry[]>>();

  get(chainId: string, read: () => Promise<LayerEntry[]>): Promise<LayerEntry[]> {
    let listing = this.#byChain.get(chainId);
    if (listing === undefined) {
      listing = read();
      this.#byChain.set(chainId, listing);
    }
    return listing;
  }
}

export async function measureWaste(store: Store, target: WasteTarget, options: WasteOptions = {}): Promise<WasteReport> {
  const { image, container } = target;
  const chain = container?.layers ?? image.layers.map((l) => l.chainId);
  const dirs: { dir: string; layer: Omit<WasteLayer, 'sizeBytes'> }[] = chain.map((chainId, index) => ({
    dir: store.paths.layerDiff(chainId),
    layer: { index, kind: 'layer', chainId, diffId: image.layers[index]?.diffId ?? null },
  }));
  if (container)
    dirs.push({
      dir: containerDirs(store, container.id).upper,
      layer: { index: chain.length, kind: 'upper', chainId: null, diffId: null },
    });

  const stacked = new StackNode(true, 0);
  const seen = new Map<string, PathTally>();
  const yielder = new Yielder();
  const layers: WasteLayer[] = [];
  for (const { dir, layer } of dirs) {
    const read = () => readLayer(dir, store, yielder);
    const entries = await (layer.chainId !== null && options.layerListings ? options.layerListings.get(layer.chainId, read) : read());
    // Leaves are priced against the layers below, before this one is stacked on them.
    for (const e of entries) {
      if (!e.leaf) continue;
      const bytes = e.whiteout ? (stacked.find(e.path)?.bytesIfDir() ?? 0) : e.size;
      let tally = seen.get(e.path);
      if (tally === undefined) {
        tally = { cumulative: 0, min: bytes, occurrences: [] };
        seen.set(e.path, tally);
      }
      tally.cumulative += bytes;
      tally.min = Math.min(tally.min, bytes);
      tally.occurrences.push({ layer: layer.index, bytes, whiteout: e.whiteout });
    }
    for (const e of entries) {
      if (e.whiteout) stacked.remove(e.path);
      else stacked.put(e.path, e.isDir, e.size);
    }
    layers.push({ ...layer, sizeBytes: entries.reduce((sum, e) => sum + e.size, 0) });
    options.onProgress?.(layers.length, dirs.length);
  }
  return summarize(layers, seen);
}

function summarize(layers: WasteLayer[], seen: Map<string, PathTally>): WasteReport {
  let minimum = 0;
  let cumulative = 0;
  let wasted = 0;
  const paths: WastedPath[] = [];
  for (const [path, tally] of seen) {
    minimum += tally.min;
    cumulative += tally.cumulative;
    if (tally.occurrences.length < 2) continue;
    wasted += tally.cumulative;
    paths.push({
      path,
      count: tally.occurrences.length,
      bytes: tally.cumulative,
      reclaimableBytes: tally.cumulative - tally.min,
      occurrences: tally.occurrences,
    });
  }
  paths.sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const sizeBytes = layers.reduce((sum, l) => sum + l.sizeBytes, 0);
  const userSizeBytes = sizeBytes - (layers[0]?.sizeBytes ?? 0);
  return {
    efficiencyScore: cumulative === 0 ? 1 : minimum / cumulative,
    wastedBytes: wasted,
    reclaimableBytes: cumulative - minimum,
    sizeBytes,
    userSizeBytes,
    userWastedPercent: userSizeBytes === 0 ? 0 : wasted / userSizeBytes,
    layers,
    paths,
  };
}

interface PathTally {
  cumulative: number;
  min: number;
  occurrences: WastedPath['occurrences'];
}

/** One entry of a layer as dive sees its tar entry. */
interface LayerEntry {
  path: string;
  isDir: boolean;
  /** The tar header's size: a regular file's length for the first name of its inode, else 0. */
  size: number;
  whiteout: boolean;
  /** No entries below it (a directory with nothing in it, or anything that is not a directory). */
  leaf: boolean;
}

/**
 * A layer directory (a diff, or an upper) as the tar of it would list it: depth-first
 * in name order, as Docker writes layer tars, so the first name of a hardlinked inode
 * is the one that carries its bytes. Parents come before their children.
 */
async function readLayer(root: string, store: Store, yielder: Yielder): Promise<LayerEntry[]> {
  const reader = new LayerReader(store.whiteoutFormat, store.info.rootless, yielder);
  await reader.visit(root, '');
  return reader.out;
}

class LayerReader {
  readonly out: LayerEntry[] = [];
  readonly #inodes = new Set<string>();
  /** The inodes added to #inodes, in order, so a directory read again can take its own back. */
  readonly #inodeLog: string[] = [];

  constructor(
    private readonly format: WhiteoutFormat,
    private readonly rootless: boolean,
    private readonly yielder: Yielder,
  ) {}

  /**
   * Reads one directory and what is below it; returns how many entries it has. In a
   * rootless store an image's 0000 or 0400 directory refuses its owner too: when this
   * directory's listing or an entry's lstat is refused, what was read of it is undone
   * and it is read again with its owner bits opened for that moment (owner-access.ts),
   * as the resolver does.
   */
  async visit(hostDir: string, dir: string): Promise<number> {
    const mark = { out: this.out.length, inodes: this.#inodeLog.length };
    try {
      return await this.#visitDir(hostDir, dir);
    } catch (err) {
      const about = isFsError(err) ? (err.path ?? '') : '';
      if (!this.rootless || !isFsError(err, 'EACCES') || (about !== hostDir && path.dirname(about) !== hostDir)) throw err;
      this.out.length = mark.out;
      for (const inode of this.#inodeLog.splice(mark.inodes)) this.#inodes.delete(inode);
      return withOwnerAccess([{ path: hostDir, bits: 0o500 }], () => this.#visitDir(hostDir, dir));
    }
  }

  async #visitDir(hostDir: string, dir: string): Promise<number> {
    let children = 0;
    for (const entry of sortedEntries(hostDir, dir === '')) {
      await this.yielder.maybe();
      const host = `${hostDir}/${entry.name}`;
      if (entry.isDirectory()) {
        const record: LayerEntry = { path: `${dir}/${entry.name}`, isDir: true, size: 0, whiteout: false, leaf: false };
        this.out.push(record);
        record.leaf = (await this.visit(host, record.path)) === 0;
        children++;
        continue;
      }
      // A running container's process may remove what we are about to look at: gone is not an error.
      const st = lstatOrNullSync(host);
      if (st === null) continue;
      const target = whiteoutTarget(entry.name, st, this.format);
      if (target === null && isEncodingArtifact(entry.name, this.format)) continue; // the oci format's opaque marker
      children++;
      const size = target === null && st.isFile() ? this.#firstName(host, st) : 0;
      this.out.push({ path: `${dir}/${target ?? entry.name}`, isDir: false, size, whiteout: target !== null, leaf: true });
    }
    return children;
  }

  /** A regular file's bytes if this is the first name of its inode in the layer, else 0 (a hardlink entry). */
  #firstName(host: string, st: fs.Stats): number {
    if (st.nlink <= 1) return st.size;
    const inode = hostInode(host);
    if (this.#inodes.has(inode)) return 0;
    this.#inodes.add(inode);
    this.#inodeLog.push(inode);
    return st.size;
  }
}

/** A directory's entries in name order; one below the top that has gone since it was listed has none. */
function sortedEntries(dir: string, top: boolean): Dirent[] {
  let entries: Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (top || !(isFsError(err, 'ENOENT') || isFsError(err, 'ENOTDIR'))) throw err;
    return [];
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The image as dive stacks it: each layer's entries added over the ones below (an
 * entry replaces a node's kind and size but keeps what is below it, as dive's tree
 * does) and its whiteouts removing whole subtrees. Only what pricing a directory
 * whiteout needs.
 */
class StackNode {
  children: Map<string, StackNode> | undefined;
  constructor(
    public isDir: boolean,
    public size: number,
  ) {}

  find(path: string): StackNode | undefined {
    let node: StackNode | undefined = this;
    for (const name of path.split('/').slice(1)) {
      node = node.children?.get(name);
      if (node === undefined) return undefined;
    }
    return node;
  }

  put(path: string, isDir: boolean, size: number): void {
    const names = path.split('/').slice(1);
    let node: StackNode = this;
    for (const name of names) {
      node.children ??= new Map();
      let child = node.children.get(name);
      if (child === undefined) {
        child = new StackNode(false, 0);
        node.children.set(name, child);
      }
      node = child;
    }
    node.isDir = isDir;
    node.size = size;
  }

  remove(path: string): void {
    const cut = path.lastIndexOf('/');
    this.find(path.slice(0, cut))?.children?.delete(path.slice(cut + 1));
  }

  /** A directory's bytes and everything's below it; 0 for anything else (dive prices a file whiteout at 0). */
  bytesIfDir(): number {
    if (!this.isDir) return 0;
    let sum = 0;
    const pending: StackNode[] = [this];
    for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
      sum += node.size;
      if (node.children) for (const child of node.children.values()) pending.push(child);
    }
    return sum;
  }
}
