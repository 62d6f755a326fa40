import fs from 'node:fs';
import type { Store } from '../store/root.js';
import { writeCacheFile } from '../store/atomic.js';
import { containerDirs, containerUsageFiles, type ContainerRecord } from '../container/record.js';
import { readUsageToken, type UsageToken } from '../container/usage-token.js';
import type { ContainerUsage } from './container-usage.js';

/**
 * containers/<id>/usage.json: a container's measured usage, with what it was measured
 * against. It is trusted only while all of these still hold:
 *  - the layer chain and the format version are the same;
 *  - usage.token holds the token read before the walk (strata rewrites it before and
 *    after every change it makes to the upper, and at start and stop);
 *  - the stamp of work/ is the same: overlayfs removes and re-creates work/work at
 *    every mount (a new inode, and new times on work/), and makes whiteouts and
 *    directory renames there, so a kernel mount since the walk shows here.
 * The caller adds what the file cannot know: running containers and uppers mounted
 * right now are always walked. What none of this sees is a write straight into
 * upper/ by hand: it shows at the next change, start, stop, mount or `--no-cache`.
 */
// 2: entries.opaque; a cache of version 1 is measured again.
const VERSION = 2;

interface UsageCacheFile {
  version: number;
  layers: string[];
  token: string | null;
  stamp: string;
  usage: ContainerUsage;
}

/** What a walk must record before it starts, so a change during the walk makes the result stale. */
export interface UsageBasis {
  token: UsageToken;
  stamp: string;
}

export function usageBasis(store: Store, record: ContainerRecord): UsageBasis {
  // Token first: a change racing this read bumps it again after the upper moved.
  const token = readUsageToken(store, record.id);
  return { token, stamp: workStamp(containerDirs(store, record.id).work) };
}

/** The cached usage if it is still valid, else null (missing, torn, stale: all the same miss). */
export function readUsageCache(store: Store, record: ContainerRecord): ContainerUsage | null {
  let cached: UsageCacheFile;
  try {
    cached = JSON.parse(fs.readFileSync(containerUsageFiles(store, record.id).cache, 'utf8')) as UsageCacheFile;
  } catch {
    return null;
  }
  if (cached === null || typeof cached !== 'object' || cached.version !== VERSION || !isUsage(cached.usage)) return null;
  if (!Array.isArray(cached.layers) || cached.layers.join(' ') !== record.layers.join(' ')) return null;
  const now = usageBasis(store, record);
  if (now.token === 'unreadable' || now.token !== cached.token || now.stamp !== cached.stamp) return null;
  return cached.usage;
}

/**
 * Best effort: a store we cannot write (read-only, full) still gets correct figures,
 * only no cache. A basis whose token could not be read is never cached.
 */
export async function writeUsageCache(store: Store, record: ContainerRecord, basis: UsageBasis, usage: ContainerUsage): Promise<void> {
  if (basis.token === 'unreadable') return;
  const file: UsageCacheFile = { version: VERSION, layers: record.layers, token: basis.token, stamp: basis.stamp, usage };
  await writeCacheFile(containerUsageFiles(store, record.id).cache, `${JSON.stringify(file)}\n`).catch(() => undefined);
}

/** work/'s times and work/work's inode and times; `-` for one that is missing. */
function workStamp(work: string): string {
  const part = (p: string, withIno: boolean) => {
    let st: fs.BigIntStats | undefined;
    try {
      st = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    return st === undefined ? '-' : `${withIno ? `${st.ino}.` : ''}${st.mtimeNs}.${st.ctimeNs}`;
  };
  return `${part(work, false)}/${part(`${work}/work`, true)}`;
}

function isUsage(u: unknown): u is ContainerUsage {
  const v = u as ContainerUsage;
  const n = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  return (
    typeof v === 'object' &&
    v !== null &&
    n(v.sizeRw) &&
    n(v.copiedUp) &&
    n(v.added) &&
    n(v.hidden) &&
    typeof v.entries === 'object' &&
    v.entries !== null &&
    n(v.entries.added) &&
    n(v.entries.copiedUp) &&
    n(v.entries.whiteouts) &&
    n(v.entries.opaque)
  );
}
