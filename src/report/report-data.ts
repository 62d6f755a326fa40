/**
 * What `strata report` embeds in its page (and writes with `--format json`): plain data
 * only, shared by the code that collects it and the page script that draws it. Every
 * size is an integer number of bytes by Docker's size rule.
 */
import type { WasteReport } from '../usage/waste.js';

/** One node of a file tree, with short keys: a store's trees are many and large. */
export interface TreeNode {
  /** Name (the root is ''); an aggregate is named `(N files, X)`. */
  n: string;
  /** Bytes of a file or an aggregate; a directory's are the sum below it, left to the page. */
  s?: number;
  /** Layer index, bottom first; the image's layer count for a container's upper. Absent on directories. */
  l?: number;
  /** Children of a directory. */
  c?: TreeNode[];
  /** For an aggregate: how many small files it stands for. */
  k?: number;
}

/** What a container's upper dir changes in its image's tree. */
export interface UpperChanges {
  /** Files and directories of the upper, as a tree whose files carry the upper's layer index. */
  tree: TreeNode;
  /** Paths its whiteouts delete. */
  whiteouts: string[];
  /** Directories deleted and made again: nothing of the image shows through them. */
  opaque: string[];
}

/**
 * The store's bytes on disk, split so the parts add up to `total` (Docker's size rule
 * over the whole root, as `strata info` reports it).
 */
export interface StoreTotals {
  /** Distinct layers that two or more images hold. */
  sharedLayers: number;
  /** Distinct layers that one image holds. */
  uniqueLayers: number;
  /** Container bytes at paths their image does not have. */
  containersNew: number;
  /** Container bytes that copy-up duplicated from the image. */
  containersCopiedUp: number;
  volumes: number;
  /** Content-store blobs kept for save and push: compressed layers, configs, manifests. */
  blobs: number;
  /** What interrupted operations left (temp and trash entries, layers no image names, ingests). */
  leftovers: number;
  /** Records and bookkeeping: image, layer, container and volume records, tags, locks, caches. */
  metadata: number;
  total: number;
}

/** A row of `system df --format json`, as Docker names its fields. */
export interface DockerSummaryRow {
  Type: string;
  TotalCount: number;
  Active: number;
  Size: number;
  Reclaimable: number;
}

export interface ReportLayer {
  chainId: string;
  diffId: string;
  size: number;
  /** IDs of the images that hold it. */
  images: string[];
  /** Its largest files (what it adds or replaces), largest first, and the rest in one line. */
  files: { path: string; size: number }[];
  fileCount: number;
}

export interface ReportImageLayer {
  chainId: string;
  /** history[].created_by of the step that made it ('' when the config says nothing). */
  createdBy: string;
  /** Bytes of it the image still shows (`du`'s VISIBLE). */
  visible: number;
}

export interface ReportImage {
  id: string;
  tags: string[];
  size: number;
  sharedSize: number;
  uniqueSize: number;
  containers: number;
  /** Bottom first. */
  layers: ReportImageLayer[];
  tree: TreeNode;
}

export interface ReportContainer {
  id: string;
  name: string;
  image: string;
  status: string;
  sizeRw: number;
  added: number;
  copiedUp: number;
  hidden: number;
  whiteouts: number;
  upper: UpperChanges;
}

export interface ReportVolume {
  name: string;
  links: number;
  size: number;
}

/** `du --waste` of one image or container, its path table cut to the paths with the most bytes. */
export interface ReportWaste {
  /** `image:<id>` or `container:<id>`, as the explorer names them. */
  subject: string;
  report: WasteReport;
  /** Paths stored more than once in all; `report.paths` lists the first of them. */
  pathCount: number;
}

export interface ReportData {
  formatVersion: 1;
  totals: StoreTotals;
  docker: DockerSummaryRow[];
  /** Every layer an image in the report holds, by chainID. */
  layers: Record<string, ReportLayer>;
  images: ReportImage[];
  containers: ReportContainer[];
  volumes: ReportVolume[];
  /** Every image's waste, and each container's that was named. */
  waste: ReportWaste[];
}
