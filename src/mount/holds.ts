import fs from 'node:fs';
import path from 'node:path';
import { holderState, self, type ProcessIdentity } from '../store/process-identity.js';

/**
 * Who holds a container's mount: `count` holds taken by `strata mount` (a user's, ended
 * only by `strata umount`), and processes that hold it while they live (a running
 * container's runtime). One file per container in the store's run dir
 * (`<id>.json`), changed only under the container's lock. The mount stays while
 * anyone holds it; a process hold whose process is gone counts for nothing.
 */
export interface Holds {
  count: number;
  processes: ProcessIdentity[];
}

export type HoldKind = 'user' | 'process';

const NONE: Holds = { count: 0, processes: [] };

function holdsFile(runDir: string, id: string): string {
  return path.join(runDir, `${id}.json`);
}

/** The holds on `id`; none when there is no file (or an unreadable one: a tmpfs file replaced by rename is never torn). */
export function readHolds(runDir: string, id: string): Holds {
  let raw: string;
  try {
    raw = fs.readFileSync(holdsFile(runDir, id), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return NONE;
    throw err;
  }
  try {
    const value = JSON.parse(raw) as Partial<Holds>;
    return { count: typeof value.count === 'number' ? value.count : 0, processes: Array.isArray(value.processes) ? value.processes : [] };
  } catch {
    return NONE;
  }
}

/**
 * Replaces the holds on `id` by rename (no fsync: the run dir is a tmpfs, and a
 * crash that could lose the write loses the mounts too). No holds: no file.
 */
export function writeHolds(runDir: string, id: string, holds: Holds): void {
  const file = holdsFile(runDir, id);
  if (holds.count === 0 && holds.processes.length === 0) {
    fs.rmSync(file, { force: true });
    return;
  }
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(holds), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Containers that have a holds file, by ID. */
export function heldIds(runDir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(runDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => /^[0-9a-f]{64}\.json$/.test(n)).map((n) => n.slice(0, 64));
}

export function withHold(holds: Holds, kind: HoldKind): Holds {
  return kind === 'user' ? { ...holds, count: holds.count + 1 } : { ...holds, processes: [...holds.processes, self()] };
}

/** One hold of `kind` fewer: the user count, or this process's own hold. */
export function withoutHold(holds: Holds, kind: HoldKind): Holds {
  if (kind === 'user') return { ...holds, count: Math.max(0, holds.count - 1) };
  const me = self();
  const index = holds.processes.findIndex((p) => p.pid === me.pid && p.start === me.start);
  return index < 0 ? holds : { ...holds, processes: holds.processes.filter((_, i) => i !== index) };
}

/** Holders that still count: the user count plus every process not proven gone. */
export function liveHolders(holds: Holds): number {
  return holds.count + holds.processes.filter((p) => holderState(p) !== 'dead').length;
}

export const NO_HOLDS = NONE;
