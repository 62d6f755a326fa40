import fs from 'node:fs/promises';
import path from 'node:path';
import type { Store } from '../store/root.js';
import { isLeftoverName } from '../store/paths.js';
import { removeByRename, removeTree, writeJsonAtomic } from '../store/atomic.js';
import { withStoreLock } from '../store/lock.js';
import { breakStaleLock, removeLockLeftover } from './locks.js';
import { readJsonRecord } from '../store/records.js';
import { isStrataError } from '../errors.js';
import { withContainerLock } from '../container/lock.js';
import { readLayerRecord } from '../layer/unpack.js';
import { readImageRecord, removeImageRecord, writeImageRecord } from '../image/record.js';
import { readTags, writeTags } from '../image/tags.js';
import { checkStore } from './check.js';
import { dropStaleHolds, repairMount } from './mount-repair.js';
import type { CheckReport, Fix, Problem } from './problem.js';

export interface RepairReport extends CheckReport {
  /** One line per fix applied, in the order applied. */
  fixed: string[];
}

/** Fixes applied per round at most; a fix that keeps reappearing is left for a human after this. */
const MAX_ROUNDS = 6;

/**
 * `strata check --repair`: applies the fixes check attached to its problems, under
 * the store lock, then checks again — dropping a broken layer makes the images on it
 * incomplete, dropping those makes their tags dangle — until nothing fixable remains.
 * What it never does: guess a record's content, or remove a container or its upper
 * dir. Those problems stay in the returned report.
 */
export async function repairStore(store: Store, options: { onFix?: (line: string) => void } = {}): Promise<RepairReport> {
  return withStoreLock(store, async () => {
    const fixed: string[] = [];
    const applied = new Set<string>();
    for (let round = 0; ; round++) {
      const report = await checkStore(store);
      const fixes = uniqueFixes(report.problems).filter((f) => !applied.has(keyOf(f)));
      if (fixes.length === 0 || round === MAX_ROUNDS) return { ...report, fixed };
      for (const fix of fixes.sort((a, b) => ORDER.indexOf(a.action) - ORDER.indexOf(b.action))) {
        applied.add(keyOf(fix));
        if (await apply(store, fix)) {
          fixed.push(fix.says);
          options.onFix?.(fix.says);
        }
      }
    }
  });
}

/** Leftovers and locks first, then layers, then what records name them. */
const ORDER: Fix['action'][] = [
  // A run whose supervisor is gone first: its process stops before its mount goes.
  'finish-run',
  // A mount first: nothing may remove (through the mount) a directory still mounted.
  'unmount',
  'drop-holds',
  'remove-lock-leftover',
  'break-lock',
  'remove-scratch',
  'remove',
  'layer-size',
  'drop-image',
  'mark-blobs-missing',
  'image-size',
  'drop-tag',
];

function uniqueFixes(problems: Problem[]): Fix[] {
  const byKey = new Map<string, Fix>();
  for (const p of problems) if (p.fix && !byKey.has(keyOf(p.fix))) byKey.set(keyOf(p.fix), p.fix);
  return [...byKey.values()];
}

function keyOf(fix: Fix): string {
  switch (fix.action) {
    case 'remove':
    case 'remove-scratch':
    case 'unmount':
    case 'drop-holds':
      return `${fix.action} ${fix.path}`;
    case 'remove-lock-leftover':
    case 'break-lock':
      return `${fix.action} ${fix.entry.path}`;
    case 'drop-image':
    case 'image-size':
    case 'mark-blobs-missing':
      return `${fix.action} ${fix.id}`;
    case 'drop-tag':
      return `${fix.action} ${fix.ref}`;
    case 'layer-size':
      return `${fix.action} ${fix.chainId}`;
    case 'finish-run':
      return `${fix.action} ${fix.containerId}`;
  }
}

/** True when the fix was applied; false when there was nothing left to do (or it is still in use). */
async function apply(store: Store, fix: Fix): Promise<boolean> {
  switch (fix.action) {
    case 'remove':
      return removePath(fix.path);
    case 'remove-scratch':
      try {
        // Under the container's lock, without waiting: a change in flight owns its scratch.
        return await withContainerLock(store, fix.containerId, () => removePath(fix.path), { timeoutMs: 0 });
      } catch (err) {
        if (isStrataError(err, 'ELOCKED')) return false;
        throw err;
      }
    case 'unmount':
      return repairMount(store, fix);
    case 'drop-holds':
      return dropStaleHolds(store, fix.containerId);
    case 'finish-run': {
      const { recoverOrphan } = await import('../run/control.js');
      const { readContainerRecord } = await import('../container/record.js');
      return recoverOrphan(store, await readContainerRecord(store, fix.containerId));
    }
    case 'remove-lock-leftover':
      await removeLockLeftover(store, fix.entry);
      return true;
    case 'break-lock':
      return breakStaleLock(store, fix.entry);
    case 'drop-image':
      await removeImageRecord(store, fix.id);
      return true;
    case 'drop-tag': {
      const tags = await readTags(store);
      if (!(fix.ref in tags)) return false;
      delete tags[fix.ref];
      await writeTags(store, tags);
      return true;
    }
    case 'layer-size': {
      const file = store.paths.layerRecord(fix.chainId);
      const record = (await readJsonRecord(file)) as Record<string, unknown>;
      await writeJsonAtomic(file, { ...record, size: fix.size, allocatedSize: fix.allocatedSize });
      return true;
    }
    case 'mark-blobs-missing': {
      const image = await readImageRecord(store, fix.id);
      await writeImageRecord(store, { ...image, missingBlobs: [...new Set([...(image.missingBlobs ?? []), ...fix.digests])] });
      return true;
    }
    case 'image-size': {
      const image = await readImageRecord(store, fix.id);
      for (const layer of image.layers) layer.size = (await readLayerRecord(store, layer.chainId)).size;
      image.size = image.layers.reduce((sum, l) => sum + l.size, 0);
      await writeImageRecord(store, image);
      return true;
    }
  }
}

/**
 * Leftovers are deleted where they are (their names already say "not live"); a live
 * name — a broken layer — is renamed to trash first, so it vanishes in one step.
 */
async function removePath(file: string): Promise<boolean> {
  const st = await fs.lstat(file).catch(() => null);
  if (st === null) return false;
  if (!st.isDirectory()) await fs.rm(file, { force: true });
  else if (isLeftoverName(path.basename(file))) await removeTree(file);
  else await removeByRename(file);
  return true;
}
