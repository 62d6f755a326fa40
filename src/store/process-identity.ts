import fsSync from 'node:fs';
import os from 'node:os';

/*
 * Is the process that took a lock or a lease still alive? pid alone is not enough
 * (pids are reused, machines reboot, containers have their own pid namespaces), so a
 * process is named by pid, start time, boot id, pid namespace and host, and is
 * declared dead only with proof.
 */

/** A process, as a lock or lease records its owner: enough to prove later that it is gone. */
export interface ProcessIdentity {
  pid: number;
  /** Clock ticks after boot the process started; null where /proc is not available. */
  start: number | null;
  bootId: string | null;
  pidNamespace: string | null;
  host: string;
}

export type HolderState = 'alive' | 'dead' | 'unknown';

// Facts about this process that cannot change while it runs (its start time, boot,
// namespace): read once per process, whatever store or command asks.
let me: ProcessIdentity | undefined;

/** Who this process is, in the terms holderState() compares. */
export function self(): ProcessIdentity {
  me ??= {
    pid: process.pid,
    start: procStat(process.pid)?.start ?? null,
    bootId: readOrNull(() => fsSync.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    pidNamespace: readOrNull(() => fsSync.readlinkSync('/proc/self/ns/pid')),
    host: os.hostname(),
  };
  return me;
}

/** 'dead' only with proof; a process this host cannot see into is 'unknown', never 'dead'. */
export function holderState(owner: ProcessIdentity): HolderState {
  const here = self();
  if (owner.host !== here.host) return 'unknown';
  if (owner.bootId && here.bootId && owner.bootId !== here.bootId) return 'dead'; // rebooted since
  if ((owner.pidNamespace ?? null) !== here.pidNamespace) return 'unknown';
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return 'dead';
    if (code !== 'EPERM') return 'unknown';
  }
  if (owner.start === null || here.start === null) return 'alive';
  const stat = procStat(owner.pid);
  if (stat === null) return 'dead'; // exited between kill() and the read
  if (stat.state === 'Z' || stat.state === 'X') return 'dead';
  return stat.start === owner.start ? 'alive' : 'dead';
}

/** Fields 3 (state) and 22 (starttime) of /proc/<pid>/stat; the command name may hold spaces and parens. */
function procStat(pid: number): { state: string; start: number } | null {
  let text: string;
  try {
    text = fsSync.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return Number.isFinite(start) ? { state: fields[0] ?? '', start } : null;
}

function readOrNull(read: () => string): string | null {
  try {
    return read();
  } catch {
    return null;
  }
}
