import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import { randomHex } from './random.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { StrataError } from '../errors.js';
import type { Store } from './root.js';
import { removeTree } from './atomic.js';
import { DirBuild } from './dir-by-rename.js';
import { TEMP_PREFIX, TRASH_PREFIX } from './paths.js';
import { faultPoint } from './fault-points.js';
import { holderState, self, type ProcessIdentity } from './process-identity.js';

/**
 * Locks between strata processes (there is no daemon to serialise them), with one
 * promise: a lock is only ever taken over from a holder that is provably dead.
 *
 * Why not proper-lockfile (what we had): its staleness is an mtime the holder must
 * keep refreshing. A live holder whose event loop stalls past the stale time (a
 * long synchronous walk, a swapped-out process, SIGSTOP) loses its lock to another
 * process while it still works — two holders. Node has no flock(2), which the
 * kernel would release on death, so death is proven instead:
 *
 * - A lock is a directory `locks/<name>/` holding `owner.json`: pid, the process's
 *   start time (/proc/<pid>/stat field 22), boot ID, pid namespace and host. It is
 *   built (and fsynced) under a temp name and renamed into place, and rename(2) of a
 *   directory onto a non-empty one fails: the lock appears with its owner, atomically,
 *   or not at all.
 * - The holder is dead when its pid no longer exists, or exists with another start
 *   time (a reused pid), or is a zombie, or the machine rebooted. A holder on another
 *   host or pid namespace cannot be judged, so it is waited for, never taken over.
 *   No time limit ever turns a live holder into a stale one.
 * - Taking over: several waiters may see the same dead holder at once. Each renames a
 *   claim directory to `locks/<name>/break-<nonce of the dead owner>`; rename makes
 *   exactly one of them win inside that lock instance. The winner re-reads the owner:
 *   only if it is still the dead one (same random nonce) does it rename the lock away,
 *   and nothing else can remove a dead owner's lock meanwhile. A claim that landed in
 *   a newer lock is named after an owner that no longer exists, so removing it again
 *   harms nobody. A claimer that died is itself a dead owner, broken the same way.
 * - Release renames the lock to a `.rm-*` trash name first, so it vanishes at once.
 *
 * Within one process, waiters queue on a promise instead of polling the disk, and
 * a nested call from code already holding the same lock simply runs.
 */
export interface LockOwner extends ProcessIdentity {
  /** Random, unique to one lock instance: what a breaker checks before removing it. */
  nonce: string;
  acquired: string;
}

export interface LockOptions {
  /** How long to wait for a live holder; 0 tries once. Default the store's lockTimeoutMs. */
  timeoutMs?: number;
}

const OWNER_FILE = 'owner.json';
const BREAK_PREFIX = 'break-';
const MAX_BREAK_DEPTH = 8;

export function locksDir(store: Store): string {
  return store.paths.locksDir;
}

/** The store lock: every mutation of records, and gc, run under it. */
export async function withStoreLock<T>(store: Store, work: () => Promise<T>): Promise<T> {
  return withNamedLock(store, 'store', work);
}

type HeldMap = Map<string, { released: boolean }>;
// Process-wide on purpose, and no cache: a lock is held by this process, whichever
// Store object asked for it. Two Store objects opened on one root must queue behind
// each other here (the lock directory is one per process), and a nested call inside
// a holder's work must see the lock as its own.
const heldHere = new AsyncLocalStorage<HeldMap>();
const queues = new Map<string, Promise<void>>();

export async function withNamedLock<T>(store: Store, name: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const target = path.join(locksDir(store), name);
  const outer = heldHere.getStore();
  if (outer?.get(target)?.released === false) return work();
  if (name === 'store' && [...(outer?.values() ?? [])].some((held) => !held.released)) {
    // Another process may hold the store lock and wait for the lock held here: refuse
    // rather than deadlock (a create or rm called inside a container view's batch).
    throw new StrataError('EUSAGE', `${target}: the store lock is taken before any other lock, not while one is held`, { path: target });
  }

  const before = queues.get(target) ?? Promise.resolve();
  let leave!: () => void;
  const tail = before.then(
    () =>
      new Promise<void>((resolve) => {
        leave = resolve;
      }),
  );
  queues.set(target, tail);
  try {
    await before;
    const lock = await acquire(locksDir(store), name, options.timeoutMs ?? store.lockTimeoutMs);
    const entry = { released: false };
    try {
      faultPoint('lock.acquired');
      return await heldHere.run(new Map([...(outer ?? []), [target, entry]]), work);
    } finally {
      entry.released = true;
      await release(lock);
    }
  } finally {
    leave();
    if (queues.get(target) === tail) queues.delete(target);
  }
}

interface HeldLock {
  dir: string;
  name: string;
  owner: LockOwner;
}

async function acquire(dir: string, name: string, timeoutMs: number): Promise<HeldLock> {
  const target = path.join(dir, name);
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  let candidate: Instance | null = null;
  try {
    for (;;) {
      candidate ??= await prepareInstance(dir);
      let taken: boolean;
      try {
        taken = await candidate.build.commit(target, NOT_DURABLE);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          candidate = null;
          continue;
        } // our claim or locks/ vanished (a repair): start again
        throw err;
      }
      if (taken) return { dir, name, owner: candidate.owner };
      const holder = await readOwner(target);
      if (holder === null) continue; // released between our rename and our look
      // Taken away: try again at once. A live breaker at work: wait like any waiter.
      if (holder !== 'unreadable' && holderState(holder) === 'dead' && (await breakInstance(dir, target, holder, 0))) continue;
      if (Date.now() >= deadline) throw lockedError(target, holder);
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 100);
    }
  } finally {
    await candidate?.build.discard();
  }
}

/**
 * Removes the lock instance at `target` whose owner was read as `dead`, unless it is
 * no longer that instance. False, having done nothing, while a live breaker works on it.
 */
async function breakInstance(dir: string, target: string, dead: LockOwner, depth: number): Promise<boolean> {
  if (depth > MAX_BREAK_DEPTH) throw lockedError(target, dead);
  const claimPath = path.join(target, `${BREAK_PREFIX}${dead.nonce}`);
  const claim = await prepareInstance(dir);
  try {
    for (;;) {
      try {
        if (await claim.build.commit(claimPath, NOT_DURABLE)) break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true; // the dead lock is gone already
        throw err;
      }
      const other = await readOwner(claimPath);
      if (other === null) continue;
      if (other === 'unreadable' || holderState(other) !== 'dead') return false;
      if (!(await breakInstance(dir, claimPath, other, depth + 1))) return false;
    }
    const now = await readOwner(target);
    if (now !== null && now !== 'unreadable' && now.nonce === dead.nonce) {
      // Still the dead owner's lock, and our claim is the only one in it.
      await discard(dir, target, path.basename(target));
    } else {
      await discard(dir, claimPath, 'claim');
    }
    return true;
  } finally {
    await claim.build.discard();
  }
}

async function release(lock: HeldLock): Promise<void> {
  const target = path.join(lock.dir, lock.name);
  const trash = await discard(lock.dir, target, lock.name, true);
  const owner = trash === null ? null : await readOwner(trash);
  if (owner === null || owner === 'unreadable' || owner.nonce !== lock.owner.nonce) {
    // Cannot happen while holder liveness is judged right; say so loudly if it ever does.
    process.emitWarning(`${target}: the lock released was not this process's (found ${JSON.stringify(owner)})`);
  }
  if (trash !== null) await removeTree(trash).catch(() => {});
}

/** Renames `from` to a trash name in `dir` (then deletes it, unless `keep`); null when it was gone. */
async function discard(dir: string, from: string, label: string, keep = false): Promise<string | null> {
  const trash = path.join(dir, stampedName(TRASH_PREFIX, label));
  try {
    await fs.rename(from, trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!keep) await removeTree(trash).catch(() => {});
  return trash;
}

interface Instance {
  build: DirBuild;
  owner: LockOwner;
}

/**
 * Lock instances appear by rename without an fsync of locks/: a lock means something
 * only while its holder lives, and a crash that could lose the rename kills the holder.
 */
const NOT_DURABLE = { durable: false };

/**
 * Temp and trash names in locks/ carry their maker's pid and start time, so check can
 * tell one in use from one a crash left, even when its owner.json was never written
 * or is already deleted.
 */
function stampedName(prefix: string, label: string): string {
  const { pid, start } = self();
  return `${prefix}${randomHex(6)}-${pid}-${start ?? 0}-${label}`;
}

export function makerOf(name: string): ProcessIdentity | null {
  const m = /^\.(?:tmp|rm)-[0-9a-f]{12}-(\d+)-(\d+)-/.exec(name);
  if (!m) return null;
  const here = self();
  return { ...here, pid: Number(m[1]), start: m[2] === '0' ? null : Number(m[2]) };
}

async function prepareInstance(dir: string): Promise<Instance> {
  const owner: LockOwner = { ...self(), nonce: randomHex(16), acquired: new Date().toISOString() };
  // Not `recursive`: on a full disk that reports ENOENT; one level at a time says ENOSPC.
  await fs.mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const build = await DirBuild.begin(dir, { name: stampedName(TEMP_PREFIX, 'lock'), mode: 0o700 });
  try {
    // fsynced before the lock can appear: after a power cut a lock never lacks its owner.
    const handle = await fs.open(path.join(build.path, OWNER_FILE), 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(owner)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    // A full disk fails the owner write: the half-made instance must not stay behind.
    await build.discard();
    throw err;
  }
  return { build, owner };
}

/** The owner of the lock instance at `dir`: null when there is none, 'unreadable' when damaged. */
export async function readOwner(dir: string): Promise<LockOwner | 'unreadable' | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, OWNER_FILE), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return fsSync.existsSync(dir) ? 'unreadable' : null;
    throw err;
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    if (typeof owner.pid === 'number' && typeof owner.nonce === 'string' && typeof owner.host === 'string') return owner;
  } catch {
    /* reported as unreadable */
  }
  return 'unreadable';
}

function lockedError(target: string, holder: LockOwner | 'unreadable'): StrataError {
  const who =
    holder === 'unreadable'
      ? `a lock whose ${OWNER_FILE} is unreadable (remove ${target} if no strata process is running)`
      : `strata process ${holder.pid} on ${holder.host} (since ${holder.acquired})${
          holder.host === self().host ? '' : `; a process on another host cannot be proven dead: remove ${target} by hand once it is gone`
        }`;
  return new StrataError('ELOCKED', `${target}: locked by ${who}`, { path: target });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- for check and repair (src/check/locks.ts) ----

/** Takes the lock at `target` away from its dead `owner`, by the protocol waiters use. True when it is gone. */
export async function breakDeadLock(store: Store, target: string, owner: LockOwner): Promise<boolean> {
  if (holderState(owner) !== 'dead') return false;
  await breakInstance(locksDir(store), target, owner, 0);
  const now = await readOwner(target);
  return now === null || now === 'unreadable' || now.nonce !== owner.nonce;
}

/** Removes a temp or trash entry of locks/: by rename first, so an acquirer racing for it simply retries. */
export async function discardLockEntry(store: Store, entry: string): Promise<void> {
  await discard(locksDir(store), entry, 'leftover');
}
