import fs from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { findContainer } from '../container/lookup.js';
import type { ContainerRecord } from '../container/record.js';
import { containerRuntime, killContainer } from './runtime.js';
import { bundlePaths } from './bundle.js';
import { removedExit } from './removed-exit.js';
import { holderState } from '../store/process-identity.js';
import { faultPoint } from '../store/fault-points.js';
import { withStoreLock } from '../store/lock.js';
import { isOrphan } from './orphans.js';

/**
 * stop, kill, wait and logs for a container whose process runs under strata (a
 * foreground `run` or the -d monitor, named by state.supervisor). The supervising process
 * records the exit; these only signal the runtime and watch the record.
 */

const POLL_MS = 25;

/**
 * True while a strata process supervises this container's process. The supervisor is
 * named by pid and start time (src/store/process-identity.ts): a reused pid or a
 * killed supervisor not yet reaped (a zombie) is not it.
 */
export function hasLiveProcess(record: ContainerRecord): boolean {
  const supervisor = record.state.supervisor;
  if (record.state.status !== 'running' || supervisor === undefined) return false;
  return holderState(supervisor) !== 'dead';
}

/** A signal as Docker takes it: `KILL`, `SIGKILL` or `9`; returned as runc takes it (a name without SIG, or a number). */
export function parseSignal(value: string): string {
  const text = value.toUpperCase().replace(/^SIG/, '');
  if (/^[0-9]+$/.test(text) && Number(text) > 0 && Number(text) < 65) return text;
  if (`SIG${text}` in os.constants.signals) return text;
  throw new StrataError('EUSAGE', `invalid signal: ${value}`, { path: value });
}

/** docker kill: the signal (default KILL) to the container's process; an error if it is not running. */
export async function killRunning(store: Store, nameOrId: string, signal = 'KILL'): Promise<ContainerRecord> {
  const record = await findContainer(store, nameOrId);
  if (!hasLiveProcess(record)) {
    throw new StrataError('ECONFLICT', `cannot kill container: ${nameOrId}: container ${record.id} is not running`, { path: nameOrId });
  }
  await killContainer(containerRuntime(store, record), record.id, parseSignal(signal));
  faultPoint('kill.signalled');
  return record;
}

/**
 * A container recorded running whose supervisor is gone (SIGKILLed, the machine's
 * OOM killer): its process may still run under its runtime, unobserved, holding the mount.
 * It is killed and everything its supervisor would have undone is undone here; the
 * exit is recorded as 137, the code of a SIGKILLed process. True when there was one.
 *
 * Under the store lock, on the record as it is then: `record` may have been read
 * before another strata finished this run or started a new one (start recovers, then
 * marks itself running, under the same lock), and that new run's process must not be
 * killed for the old one's sake.
 */
export async function recoverOrphan(store: Store, record: ContainerRecord): Promise<boolean> {
  if (!isOrphan(record)) return false;
  return withStoreLock(store, async () => {
    const now = await findContainer(store, record.id).catch(() => null);
    if (now === null || !isOrphan(now)) return false;
    await killContainer(containerRuntime(store, now), now.id, 'KILL').catch(() => undefined);
    faultPoint('recover.killed');
    const { finishRun } = await import('./process.js');
    await finishRun(store, now, 137, true);
    return true;
  });
}

/** For `rm -f`: SIGKILL to a running process, and back when its supervisor has recorded the exit. */
export async function killIfRunning(store: Store, nameOrId: string): Promise<void> {
  const record = await findContainer(store, nameOrId);
  if (await recoverOrphan(store, record)) return;
  if (!hasLiveProcess(record)) return;
  await killContainer(containerRuntime(store, record), record.id, 'KILL');
  faultPoint('rm.killed');
  await exitedWithin(store, record.id, Number.POSITIVE_INFINITY);
  faultPoint('rm.exited');
}

/** docker stop: the image's StopSignal (default SIGTERM), then SIGKILL after `timeoutSeconds`; returns when it has exited. */
export async function stopRunning(store: Store, nameOrId: string, timeoutSeconds = 10): Promise<ContainerRecord> {
  const record = await findContainer(store, nameOrId);
  if (await recoverOrphan(store, record)) return record;
  if (!hasLiveProcess(record)) return record;
  const runtime = containerRuntime(store, record);
  await killContainer(runtime, record.id, parseSignal(record.config?.stopSignal ?? 'SIGTERM'));
  faultPoint('stop.signalled');
  if (!(await exitedWithin(store, record.id, timeoutSeconds * 1000))) {
    await killContainer(runtime, record.id, 'KILL');
    faultPoint('stop.killed');
    await exitedWithin(store, record.id, Number.POSITIVE_INFINITY);
  }
  faultPoint('stop.exited');
  return record;
}

/** docker wait: blocks until the container is not running; its exit code. */
export async function waitForExit(store: Store, nameOrId: string): Promise<number> {
  const record = await findContainer(store, nameOrId);
  await exitedWithin(store, record.id, Number.POSITIVE_INFINITY);
  const after = await findContainer(store, record.id).catch(() => null);
  // An --rm container is gone once it has ended: its code was kept for this.
  return after?.state.exitCode ?? removedExit(store, record.id) ?? record.state.exitCode;
}

async function exitedWithin(store: Store, id: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const record = await findContainer(store, id).catch(() => null);
    // Gone (--rm) or no longer supervised: the supervisor has recorded what there is to record.
    if (record === null || !hasLiveProcess(record)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

/**
 * docker logs: what a detached container wrote (stdout and stderr, interleaved as
 * written), to `out`; with `follow`, new output until the container stops.
 */
export async function copyLogs(store: Store, nameOrId: string, out: NodeJS.WritableStream, follow: boolean): Promise<void> {
  const record = await findContainer(store, nameOrId);
  const file = bundlePaths(store, record.id).containerLog;
  let offset = 0;
  const drain = () => {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return;
    }
    try {
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = fs.readSync(fd, buffer, 0, buffer.length, offset);
        if (n === 0) break;
        out.write(Buffer.from(buffer.subarray(0, n)));
        offset += n;
      }
    } finally {
      fs.closeSync(fd);
    }
  };
  drain();
  if (!follow) return;
  for (;;) {
    const now = await findContainer(store, record.id).catch(() => null);
    const running = now !== null && hasLiveProcess(now);
    drain();
    if (!running) return;
    await sleep(100);
  }
}
