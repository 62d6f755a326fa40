import path from 'node:path';
import type { Store } from '../store/root.js';
import { isLeftoverName } from '../store/paths.js';
import { readOwner } from '../store/lock.js';
import { holderState, self } from '../store/process-identity.js';
import { listLocks } from './locks.js';
import { containerLockName } from '../container/lock.js';
import { listLeases, oldestLiveLease } from '../store/lease.js';
import { problem, type CheckReport } from './problem.js';
import { mtimeMs } from './scan.js';
import { listStoreDir } from '../store/record-dir.js';

/**
 * What interrupted operations leave behind: temp (`.tmp-*`) and trash (`.rm-*`)
 * entries, ingest/ files, leases and locks of processes that are gone. Only what no
 * live process can still be using is reported, so check and repair are safe to run
 * beside loads and fs writes: a load's files are spared while its lease lives, a
 * container's scratch while its lock is held, a lock's while its maker runs.
 */
export async function checkLeftovers(store: Store, report: CheckReport): Promise<void> {
  const found: { file: string; mtime: number }[] = [];
  const dirs = store.paths.leftoverDirs;
  for (const dir of dirs) {
    for (const name of await listStoreDir(dir)) if (isLeftoverName(name)) await note(found, path.join(dir, name));
  }
  for (const name of await listStoreDir(store.paths.ingestDir)) await note(found, path.join(store.paths.ingestDir, name));
  // Leases are read after the scan: a load whose files the scan saw took its lease before making them.
  const cutoff = (await oldestLiveLease(store)) ?? Infinity;
  for (const { file, mtime } of found) {
    if (mtime >= cutoff) continue;
    leftover(report, file);
  }
  for (const name of await listStoreDir(store.paths.leasesDir)) {
    // A lease being written: `.tmp-<hex>-<pid>-<hex>.json`, the pid of the load writing it.
    const m = /^\.tmp-[0-9a-f]{12}-(\d+)-/.exec(name);
    if (!isLeftoverName(name)) continue;
    if (m && holderState({ ...self(), pid: Number(m[1]), start: null }) !== 'dead') continue;
    leftover(report, path.join(store.paths.leasesDir, name));
  }
}

async function note(found: { file: string; mtime: number }[], file: string): Promise<void> {
  const mtime = await mtimeMs(file);
  if (mtime !== null) found.push({ file, mtime });
}

function leftover(report: CheckReport, file: string): void {
  problem(report, 'leftover', file, `${file}: leftover of an interrupted operation`, {
    action: 'remove',
    path: file,
    says: `removed leftover ${file}`,
  });
}

/** Scratch entries in a container's work/, unless a live process holds the container's lock. */
export async function containerScratch(store: Store, report: CheckReport, id: string, work: string): Promise<void> {
  const names = (await listStoreDir(work)).filter(isLeftoverName);
  if (names.length === 0) return;
  const owner = await readOwner(store.paths.lock(containerLockName(id)));
  if (owner === 'unreadable' || (owner !== null && holderState(owner) !== 'dead')) return;
  for (const name of names) {
    const file = path.join(work, name);
    problem(report, 'leftover', file, `${file}: scratch of an interrupted change to container ${id}`, {
      action: 'remove-scratch',
      containerId: id,
      path: file,
      says: `removed leftover ${file}`,
    });
  }
}

export async function checkLeases(store: Store, report: CheckReport): Promise<void> {
  for (const lease of await listLeases(store)) {
    if (lease.live) continue;
    const why = lease.record === null ? 'unreadable lease' : `lease of process ${lease.record.pid}, which is gone`;
    problem(report, 'lease-stale', lease.file, `${lease.file}: ${why}`, {
      action: 'remove',
      path: lease.file,
      says: `removed stale lease ${lease.file} (${why})`,
    });
  }
}

export async function checkLocks(store: Store, report: CheckReport): Promise<void> {
  for (const entry of await listLocks(store)) {
    if (entry.kind !== 'lock') {
      if (entry.state === 'dead') {
        problem(report, 'leftover', entry.path, `${entry.path}: leftover of an interrupted lock operation`, {
          action: 'remove-lock-leftover',
          entry,
          says: `removed leftover ${entry.path}`,
        });
      }
      continue;
    }
    if (entry.owner === 'unreadable') {
      problem(
        report,
        'lock-stale',
        entry.path,
        `${entry.path}: lock whose owner.json is unreadable; remove it by hand if no strata process is running`,
      );
    } else if (entry.state === 'dead' && entry.owner !== null) {
      const why = `held by process ${entry.owner.pid}, which is gone`;
      problem(report, 'lock-stale', entry.path, `${entry.path}: ${why}`, {
        action: 'break-lock',
        entry,
        says: `broke stale lock ${entry.path} (${why})`,
      });
    }
  }
}
