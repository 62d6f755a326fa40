import fs from 'node:fs';

/**
 * A store made without root owns every file of its layers and upper dirs, but an
 * image's 0000 file or 0500 directory locks its owner out as it locks out anyone,
 * while root in the container (CAP_DAC_OVERRIDE) would still reach it. What strata
 * must reach anyway is opened up for the moment of the access: the owner bits it
 * needs are added, and the exact mode is put back as soon as the access is done
 * (the unpack does the same for 000 directories, umoci#222).
 *
 * Opened paths are counted per process: two accesses at once open a path once and
 * the last one out restores it, so one never takes the other's opened mode for the
 * original and leaves it behind. The chmods are synchronous for the same reason:
 * nothing else of this process runs between looking at a mode and changing it.
 * Between processes there is no such count: a second process that needs other bits
 * of a path the first holds open could take the opened mode for the original. Only
 * the rare fallback pays this (owner-fallback.ts), never the fast path.
 */
export interface AccessNeed {
  path: string;
  /** Owner bits the access needs (0o400 read, 0o200 write, 0o100 search/execute). */
  bits: number;
}

interface Opened {
  original: number;
  granted: number;
  users: number;
}

// Per process, not per store: a file's mode is one for every Store and view in this process.
const opened = new Map<string, Opened>();

/** Runs `fn` with `needs` opened, in order (parents first); restores each, last first, whatever `fn` did. */
export async function withOwnerAccess<T>(needs: AccessNeed[], fn: () => Promise<T>): Promise<T> {
  const held: string[] = [];
  try {
    for (const need of needs) if (openUp(need)) held.push(need.path);
    return await fn();
  } finally {
    for (const p of held.reverse()) restore(p);
  }
}

/** Adds the bits when the path is ours and lacks them; true when it is now held (and must be restored). */
function openUp({ path: p, bits }: AccessNeed): boolean {
  const held = opened.get(p);
  if (held !== undefined) {
    held.users += 1;
    if ((held.granted & bits) !== bits) {
      held.granted |= bits;
      fs.chmodSync(p, held.original | held.granted);
    }
    return true;
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return false; // not there (or not reachable): the access itself reports it
  }
  if (st.isSymbolicLink() || (st.mode & bits) === bits) return false;
  const original = st.mode & 0o7777;
  try {
    fs.chmodSync(p, original | bits);
  } catch {
    return false; // not ours to open (EPERM): the access fails as it would have
  }
  opened.set(p, { original, granted: bits, users: 1 });
  return true;
}

function restore(p: string): void {
  const held = opened.get(p);
  if (held === undefined) return;
  held.users -= 1;
  if (held.users > 0) return;
  opened.delete(p);
  try {
    fs.chmodSync(p, held.original);
  } catch {
    // Removed or renamed by the access itself (an unlink, a copy-up's rename): nothing to put back.
  }
}
