import type { Store } from '../store/root.js';
import type { ContainerRecord } from '../container/record.js';
import { holderState } from '../store/process-identity.js';

/**
 * Runs whose supervisor (the foreground `run` or the -d monitor) is provably gone:
 * its pid and start time no longer name a live process. The container's process
 * outlives it under its runtime (runc or crun), unobserved, so such a run is finished
 * (control.ts recoverOrphan: killed through the container's own runtime, unmounted,
 * Exited (137)) by the next command that meets it, as containerd does when a shim
 * dies, rather than shown as Up.
 */
export function isOrphan(record: ContainerRecord): boolean {
  const supervisor = record.state.supervisor;
  return record.state.status === 'running' && supervisor !== undefined && holderState(supervisor) === 'dead';
}

/**
 * For ps and inspect: the records as they are once every orphaned run among them is
 * finished (an --rm one is then gone). A run that cannot be finished here (a user
 * without the rights to kill or unmount it) is shown as recorded: check and stop
 * report and finish it.
 */
export async function finishOrphans(store: Store, records: ContainerRecord[]): Promise<ContainerRecord[]> {
  if (!records.some(isOrphan)) return records;
  const [{ recoverOrphan }, { findContainer }] = await Promise.all([import('./control.js'), import('../container/lookup.js')]);
  const current: ContainerRecord[] = [];
  for (const record of records) {
    if (!isOrphan(record)) {
      current.push(record);
      continue;
    }
    const finished = await recoverOrphan(store, record).catch(() => false);
    const now = finished ? await findContainer(store, record.id).catch(() => null) : record;
    if (now !== null) current.push(now);
  }
  return current;
}
