/** The userspace overlay resolver: a merged view of plain directories (DESIGN.md "Resolver rules"). */
export { Resolver, type WalkEntry } from './resolver.js';
export type {
  ResolverOptions,
  ResolverMount,
  ResolverStats,
  ResolverDirent,
  EntryType,
  LayerId,
  LayerMetadata,
} from './options.js';
export type { WriteData } from './create.js';
export type { RmOptions } from './remove.js';
export type { ReadStreamOptions } from './read.js';
export type { TimeLike } from './attrs.js';
export { MAX_SYMLINK_HOPS } from './walk-path.js';
export { listTree, formatTreeTsv, TREE_TSV_HEADER, type TreeRow, type TreeType } from './tree.js';
export { UPPER_META_XATTR, readUpperMeta, type UpperMeta } from './upper-meta.js';
