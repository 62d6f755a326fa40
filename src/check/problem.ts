import type { LockEntry } from './locks.js';

/**
 * What `strata check` finds and what `check --repair` may do about it. A problem
 * without a `fix` needs a human: repair never guesses, and never touches a
 * container's upper data.
 */
export type ProblemKind =
  | 'store-record' // store.json unreadable
  | 'blob-corrupt' // a blob whose content is not its name
  | 'blob-missing' // a record names a blob that is not there
  | 'layer-missing' // a record names a layer that is not there
  | 'layer-record' // a layer directory without a usable layer.json or diff/
  | 'layer-size' // layer.json's size is not what the tree measures
  | 'layer-corrupt' // check --deep: a file of diff/ is not what was unpacked (deep.ts)
  | 'image-record' // an image record that cannot be read or is inconsistent in itself
  | 'image-size' // an image record's layer sizes differ from layer.json
  | 'tags-record' // tags.json unreadable
  | 'tag-dangling' // a tag names an image that is not there
  | 'container-record' // a container directory whose config.json cannot be read
  | 'container-layers' // a container stands on layers that are gone
  | 'container-image' // a container's image record is gone
  | 'volume-record' // a volume directory whose volume.json cannot be read
  | 'leftover' // temp, trash or ingest entry of an interrupted operation
  | 'lease-stale' // the lease of a load whose process is gone
  | 'lock-stale' // a lock whose holder is gone, or whose owner cannot be read
  | 'mount-unheld' // a container's merged view mounted with no holder left
  | 'mount-orphan' // a mount under containers/ whose container is removed
  | 'mount-hold-stale' // mount holds in the run dir on a container not mounted or removed
  | 'run-orphan'; // a container recorded running whose supervising strata process is gone

export type Fix =
  | { action: 'remove'; path: string; says: string }
  | { action: 'unmount'; path: string; fsType: string; containerId: string | null; says: string }
  | { action: 'drop-holds'; containerId: string; path: string; says: string }
  | { action: 'finish-run'; containerId: string; says: string }
  | { action: 'remove-scratch'; containerId: string; path: string; says: string }
  | { action: 'remove-lock-leftover'; entry: LockEntry; says: string }
  | { action: 'break-lock'; entry: LockEntry; says: string }
  | { action: 'drop-image'; id: string; says: string }
  | { action: 'drop-tag'; ref: string; says: string }
  | { action: 'layer-size'; chainId: string; size: number; allocatedSize: number; says: string }
  | { action: 'image-size'; id: string; says: string }
  | { action: 'mark-blobs-missing'; id: string; digests: string[]; says: string };

/** One inconsistency, with the file it is about. */
export interface Problem {
  kind: ProblemKind;
  path: string;
  message: string;
  fix?: Fix;
}

export interface CheckReport {
  problems: Problem[];
  /** What is known and accepted, not a problem: e.g. blobs repair marked missing. */
  notes: string[];
  checked: { blobs: number; layers: number; images: number; tags: number; containers: number; volumes: number };
}

export function emptyReport(): CheckReport {
  return { problems: [], notes: [], checked: { blobs: 0, layers: 0, images: 0, tags: 0, containers: 0, volumes: 0 } };
}

export function problem(report: CheckReport, kind: ProblemKind, path: string, message: string, fix?: Fix): void {
  report.problems.push(fix ? { kind, path, message, fix } : { kind, path, message });
}
