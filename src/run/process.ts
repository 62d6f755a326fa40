import type { ChildProcess, StdioOptions } from 'node:child_process';
import fs from 'node:fs/promises';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { withStoreLock } from '../store/lock.js';
import { self } from '../store/process-identity.js';
import { faultPoint } from '../store/fault-points.js';
import { findContainer } from '../container/lookup.js';
import { containerDirs, writeContainerRecord, type ContainerRecord } from '../container/record.js';
import { bumpUsageToken } from '../container/usage-token.js';
import { mountContainer, unmountContainer } from '../mount/mount.js';
import { bundlePaths, checkExecutable, mountPointsOf, resolveUser, rootView, writeBundle } from './bundle.js';
import { makeMountPoints, removeMountPoints } from './init-points.js';
import { processEnv } from './runtime-spec.js';
import { noteRemovedExit } from './removed-exit.js';
import { hasLiveProcess, recoverOrphan } from './control.js';
import { containerRuntime, deleteRuntimeState, runtimeError, spawnRun, waitExit } from './runtime.js';

/**
 * One run of a container's process, start to end, in the process that supervises it:
 * `strata run` in the foreground, or the detached monitor (monitor.ts) for -d and
 * `start`. Before the runtime: Docker's checks (user, command), the mount points the
 * runtime needs (init-points.ts), the kernel mount (held by this process) and the
 * bundle. After it, whatever happened: the runtime's state deleted, the mount's hold
 * dropped, the mount points taken out of the upper, the exit code recorded, and an
 * --rm container removed.
 */
export interface ProcessOptions {
  stdio: StdioOptions;
  terminal: boolean;
  /** Called once runc is running the container, with runc's child (to forward signals to). */
  onStarted?: (runtime: ChildProcess) => void;
}

export async function runContainerProcess(store: Store, nameOrId: string, options: ProcessOptions): Promise<number> {
  const record = await findContainer(store, nameOrId);
  // A run whose supervisor died is finished first: its mount, mount points and runtime state go.
  await recoverOrphan(store, record);
  const runtime = containerRuntime(store, record);
  const paths = bundlePaths(store, record.id);
  const { upper } = containerDirs(store, record.id);
  let exitCode = 125;
  let mounted = false;
  let started = false;
  try {
    const view = await rootView(store, record);
    const user = await resolveUser(view, record.config?.user ?? '');
    await checkExecutable(view, record.command, processEnv(record, user, options.terminal), record.config?.workingDir || '/').catch(
      async (err: unknown) => {
        // Docker keeps the container, Created, with the code the CLI exits with.
        if (err instanceof StrataError && typeof err.found === 'number') await recordExit(store, record.id, err.found, { started: false });
        throw err;
      },
    );
    await markRunning(store, record.id);
    started = true;
    faultPoint('run.marked');
    await fs.mkdir(paths.dir, { recursive: true, mode: 0o700 });
    await makeMountPoints(view, upper, paths.initPoints, await mountPointsOf(record));
    faultPoint('run.mount-points');
    const { mergedDir } = await mountContainer(store, record.id, { heldBy: 'process', discardedAfter: record.autoRemove });
    mounted = true;
    await writeBundle(store, { record, user, rootfs: mergedDir, terminal: options.terminal });
    const child = await spawnRun(runtime, record.id, paths.dir, options.stdio, paths.runtimeLog, options.terminal);
    faultPoint('run.spawned');
    options.onStarted?.(child);
    exitCode = await waitExit(child);
    faultPoint('run.exited');
    const failure = await runtimeError(paths.runtimeLog);
    if (failure !== null && exitCode !== 0) {
      exitCode = 125;
      throw new StrataError('EUSAGE', `failed to start container ${record.id}: ${failure}`, { path: record.id });
    }
    return exitCode;
  } catch (err) {
    // A start that failed before the process ran: an --rm container goes too, as Docker's.
    if (!started && record.autoRemove) await removeAfterRun(store, record.id);
    throw err;
  } finally {
    if (started) await finishRun(store, record, exitCode, mounted);
  }
}

/** What a supervisor does when the process has ended; also for one whose supervisor died (control.ts recoverOrphan). */
export async function finishRun(store: Store, record: ContainerRecord, exitCode: number, mounted: boolean): Promise<void> {
  const runtime = containerRuntime(store, record);
  const paths = bundlePaths(store, record.id);
  await deleteRuntimeState(runtime, record.id);
  // An --rm container goes at once: removal detaches the mount and takes the upper
  // (mount points included) and the record with it, so unmounting, taking the mount
  // points out and recording the exit first would be three steps (a store lock, a
  // umount(8) and a record's two fsyncs) undone a few ms later. A crash before the
  // removal leaves it recorded running under a dead supervisor, which check --repair
  // finishes as before: this path again, so removed; a crash within the removal is
  // removal's own (the directory renamed to trash first).
  if (record.autoRemove) {
    noteRemovedExit(store, record.id, exitCode);
    await removeAfterRun(store, record.id).catch((err: unknown) => {
      // Removed while it ran (rm -f): nothing left to do.
      if (!(err instanceof StrataError && err.code === 'ENOTFOUND')) throw err;
    });
    return;
  }
  if (mounted) await unmountContainer(store, record.id, { heldBy: 'process' });
  await removeMountPoints(containerDirs(store, record.id).upper, paths.initPoints);
  faultPoint('run.cleaned');
  await recordExit(store, record.id, exitCode, { started: true });
  faultPoint('run.recorded');
}

/** Forced: the container may still be recorded running (its run is over, see finishRun). */
async function removeAfterRun(store: Store, id: string): Promise<void> {
  const { removeContainer } = await import('../container/lifecycle.js');
  await removeContainer(store, id, { volumes: true, force: true });
}

async function markRunning(store: Store, id: string): Promise<void> {
  await withStoreLock(store, async () => {
    const record = await findContainer(store, id);
    if (hasLiveProcess(record)) {
      throw new StrataError('ECONFLICT', `container ${id} is already running`, { path: id });
    }
    record.state = {
      status: 'running',
      startedAt: new Date().toISOString(),
      finishedAt: record.state.finishedAt,
      exitCode: 0,
      supervisor: self(),
    };
    await writeContainerRecord(store, record);
    // The process writes the upper from now on: its cached usage is over.
    await bumpUsageToken(store, id);
  });
}

/** The exit as Docker records it; nothing when the container is already gone (removed while it ran). */
async function recordExit(store: Store, id: string, exitCode: number, how: { started: boolean }): Promise<void> {
  await withStoreLock(store, async () => {
    const record = await findContainer(store, id).catch(() => null);
    if (record === null) return;
    const now = new Date().toISOString();
    record.state = how.started
      ? { status: 'exited', startedAt: record.state.startedAt, finishedAt: now, exitCode }
      : { ...record.state, exitCode };
    await writeContainerRecord(store, record);
    await bumpUsageToken(store, id);
  });
}
