/**
 * strata as a library: everything the CLI does, without the CLI. Named re-exports only.
 */
export { StrataError, isStrataError, fsError, isFsError, type StrataErrorCode, type FsError } from './errors.js';
export { openStore, defaultRoot, type Store, type StoreInfo, type OpenStoreOptions } from './store/root.js';
export type { WhiteoutFormat } from './store/whiteout-probe.js';
export { loadImages, type LoadOptions, type LoadEvent, type LoadedImage, type ArchiveInput } from './transfer/load.js';
export { pullImage, type PullOptions, type PullEvent, type PulledImage } from './transfer/pull.js';
export { pushImage, type PushOptions, type PushEvent, type PushedImage } from './transfer/push.js';
export { importImage, type ImportOptions, type ImportInput } from './transfer/import.js';
export { commitContainer, type CommitOptions, type CommittedImage, type LayerCompression } from './transfer/commit.js';
export { listImages, type ImageSummary } from './image/list.js';
export { selectImages, IMAGE_FILTER_KEYS } from './image/filter.js';
export { FilterArgs } from './filter-args.js';
export { findImage } from './image/lookup.js';
export { inspectImage, imageHistory } from './image/inspect.js';
export { imageView } from './image/view.js';
export { tagImage } from './image/tag.js';
export { removeImage, releaseImage, type RemoveEvent } from './gc/remove-image.js';
export { removeContainerAndImage } from './gc/remove-container.js';
export type { ImageRecord, ImageLayer } from './image/record.js';
export { createContainer, type CreateOptions } from './container/create.js';
export { RUNTIME_NAMES, type RuntimeName } from './run/runtime-choice.js';
export { findContainer } from './container/lookup.js';
export { selectContainers, CONTAINER_FILTER_KEYS, type ContainerListOptions } from './container/filter.js';
export { renameContainer } from './container/rename.js';
export { inspectContainer, type InspectSize } from './container/inspect.js';
export { startContainer, stopContainer, restartContainer, removeContainer } from './container/lifecycle.js';
export { containerView } from './container/view.js';
export { containerChanges, type Change } from './container/diff.js';
export { parseVolumeFlag, parseTmpfsFlag } from './container/mount-spec.js';
export { parseMountFlag, mountSpecOf, type HostConfigMount } from './container/mount-flag.js';
export { parseKeyValueFile, envFlagEntry, labelMap } from './container/run-config.js';
export { listContainerRecords, type ContainerRecord, type ContainerConfig, type MountSpec } from './container/record.js';
export { ensureVolume, listVolumes } from './volume/volume.js';
export { removeVolume, pruneVolumes, volumeUsers } from './container/volume-use.js';
export { Resolver } from './resolver/resolver.js';
export type { ResolverOptions, ResolverStats, Exclusive } from './resolver/options.js';
export { diskUsage, type DiskUsage, type DiskUsageOptions } from './usage/df.js';
export { storeSummary, type StoreSummary } from './usage/info.js';
export { containerUsage, type ContainerUsage } from './usage/container-usage.js';
export { imageBreakdown, containerBreakdown } from './usage/layer-breakdown.js';
export {
  measureWaste,
  LayerListings,
  type WasteReport,
  type WasteLayer,
  type WastedPath,
  type WasteTarget,
  type WasteOptions,
} from './usage/waste.js';
export {
  DEFAULT_WASTE_RULES,
  evaluateWasteRules,
  parseWasteRules,
  parseByteSize,
  type WasteRuleSettings,
  type WasteVerdict,
} from './usage/waste-rules.js';
export { collectGarbage, type GcReport } from './gc/sweep.js';
export { pruneContainers, pruneImages } from './gc/prune.js';
export { checkStore, type CheckReport, type Problem } from './check/check.js';
export { repairStore } from './check/repair.js';
export { deepCheckStore } from './check/deep.js';
export { withContainerLock } from './container/lock.js';
export { withStoreLock } from './store/lock.js';
