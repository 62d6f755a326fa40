import type { Store } from '../store/root.js';
import { readContainerRecord } from '../container/record.js';
import { listStoreDir } from '../store/record-dir.js';
import { isLeftoverName } from '../store/paths.js';
import { isOrphan } from '../run/orphans.js';
import { problem, type CheckReport } from './problem.js';

/**
 * Containers recorded running whose supervising strata process (a foreground run or
 * the -d monitor) is gone: their process may still run under its runtime (runc or
 * crun, as recorded), unobserved, with the mount held and mount points in the upper.
 * Repair finishes the run as the supervisor would have (src/run/control.ts
 * recoverOrphan): the process killed, that runtime's state deleted, the mount released, the mount points taken out, Exited
 * (137) recorded. Listed before the mounts, so the unmount is the run's own.
 */
export async function checkRuns(store: Store, report: CheckReport): Promise<void> {
  for (const name of await listStoreDir(store.paths.containersDir)) {
    if (isLeftoverName(name)) continue;
    // A record that cannot be read is checkContainers' to report (records.ts), not a reason to stop here.
    const record = await readContainerRecord(store, name).catch(() => null);
    if (record === null) continue;
    if (!isOrphan(record)) continue;
    const supervisor = record.state.supervisor!;
    const file = store.paths.container(record.id).config;
    problem(
      report,
      'run-orphan',
      file,
      `container ${record.id}: recorded running, but its strata supervisor (pid ${supervisor.pid}) is gone`,
      {
        action: 'finish-run',
        containerId: record.id,
        says: `finished the run of container ${record.id} whose supervisor is gone (killed, unmounted, Exited (137))`,
      },
    );
  }
}
