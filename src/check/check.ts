import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import type { Store } from '../store/root.js';
import { isLeftoverName } from '../store/paths.js';
import { readJsonRecord } from '../store/records.js';
import { withStoreLock } from '../store/lock.js';
import { digestFromHex } from '../content/digest.js';
import { readLayerRecord } from '../layer/unpack.js';
import { measureTree, type TreeSize } from '../layer/size.js';
import { emptyReport, problem, type CheckReport } from './problem.js';
import { exists } from './scan.js';
import { listStoreDir } from '../store/record-dir.js';
import { checkContainers, checkImages, checkLayers, checkTags, checkVolumes } from './records.js';
import { checkLeases, checkLeftovers, checkLocks } from './leftovers.js';
import { checkMounts } from './mounts.js';
import { checkRuns } from './runs.js';

export type { CheckReport, Problem, ProblemKind, Fix } from './problem.js';

/**
 * `strata check`: reads everything and trusts nothing. Each step is a named function
 * that appends problems (with the fix `--repair` may apply); none changes the store.
 *
 * The slow steps — hashing every blob, measuring every layer tree — run without the
 * store lock: blobs and layers never change once visible, they only disappear, and
 * what disappeared meanwhile is not reported. Every record step then runs under the
 * lock, so a load or rmi in another process is seen either before or after, never
 * half done; what loads still in flight have made is theirs, not a leftover.
 */
export async function checkStore(store: Store): Promise<CheckReport> {
  const report = emptyReport();
  await checkStoreRecord(store, report);
  await checkBlobContent(store, report);
  const measured = await measureLayers(store);
  await lockedUnlessReadOnly(store, async () => {
    await dropVanished(report);
    await checkLayers(store, report, measured);
    await checkImages(store, report);
    await checkTags(store, report);
    await checkContainers(store, report);
    await checkVolumes(store, report);
    await checkLeases(store, report);
    await checkLocks(store, report);
    await checkLeftovers(store, report);
    await checkRuns(store, report);
    await checkMounts(store, report);
  });
  return report;
}

async function checkStoreRecord(store: Store, report: CheckReport): Promise<void> {
  const file = store.paths.storeFile;
  try {
    const info = (await readJsonRecord(file)) as { formatVersion?: unknown; whiteoutFormat?: unknown } | null;
    if (typeof info?.formatVersion !== 'number' || (info.whiteoutFormat !== 'overlay' && info.whiteoutFormat !== 'oci')) {
      problem(report, 'store-record', file, `${file}: not a strata store record`);
    }
  } catch (err) {
    problem(report, 'store-record', file, (err as Error).message);
  }
}

async function checkBlobContent(store: Store, report: CheckReport): Promise<void> {
  for (const name of await listStoreDir(store.paths.blobsDir)) {
    if (isLeftoverName(name)) continue;
    const file = path.join(store.paths.blobsDir, name);
    report.checked.blobs++;
    const says = `removed corrupt blob ${file}`;
    if (!/^[0-9a-f]{64}$/.test(name)) {
      problem(report, 'blob-corrupt', file, `${file}: not a sha256 blob name`, { action: 'remove', path: file, says });
      continue;
    }
    const hash = createHash('sha256');
    try {
      await pipeline(fs.createReadStream(file), hash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed by an rmi or gc meanwhile
      throw err;
    }
    const found = hash.digest('hex');
    if (found !== name) {
      problem(report, 'blob-corrupt', file, `${file}: content does not match its digest (found sha256:${found})`, {
        action: 'remove',
        path: file,
        says,
      });
    }
  }
}

/** Tree sizes of every layer that has a readable record; a tree this user cannot read is skipped. */
async function measureLayers(store: Store): Promise<Map<string, TreeSize>> {
  const sizes = new Map<string, TreeSize>();
  for (const name of await listStoreDir(store.paths.layersDir)) {
    if (isLeftoverName(name) || !/^[0-9a-f]{64}$/.test(name)) continue;
    const chainId = digestFromHex(name);
    const record = await readLayerRecord(store, chainId).catch(() => null);
    if (record === null) continue;
    try {
      sizes.set(chainId, await measureTree(store.paths.layerDiff(chainId)));
    } catch {
      // Gone meanwhile, no diff/ (reported under the lock), or a rootless 000 directory.
    }
  }
  return sizes;
}

/** Problems of the unlocked steps about files that an rmi or gc has removed since. */
async function dropVanished(report: CheckReport): Promise<void> {
  const kept = [];
  for (const p of report.problems) if (p.kind !== 'blob-corrupt' || (await exists(p.path))) kept.push(p);
  report.problems = kept;
}

/**
 * A store this user may only read (a backup, a read-only mount) can still be checked:
 * nobody can change it through us, and we cannot take its lock, so the record steps
 * run without it.
 */
async function lockedUnlessReadOnly(store: Store, steps: () => Promise<void>): Promise<void> {
  const writable = await fsp.access(store.root, fs.constants.W_OK).then(
    () => true,
    () => false,
  );
  if (writable) await withStoreLock(store, steps);
  else await steps();
}
