import fs from 'node:fs';
import { randomHex } from '../store/random.js';
import type { Store } from '../store/root.js';
import { containerUsageFiles } from './record.js';

/**
 * The change token of a container's upper dir. Every change strata makes to the upper
 * (through the container's Resolver, start and stop) writes a fresh random token; the
 * usage cache records the token it read before walking and is trusted only while the
 * file still holds it. A plain write, not an atomic one: any difference, a torn or
 * missing file included, only makes the cache miss, so there is nothing to fsync.
 */
const TOKEN = /^[0-9a-f]{32}$/;

/** What the token file held: a token, `null` when there is none yet, or `'unreadable'` (never matches). */
export type UsageToken = string | null | 'unreadable';

export async function bumpUsageToken(store: Store, id: string): Promise<void> {
  const files = containerUsageFiles(store, id);
  try {
    writeToken(files.token, randomHex(16));
  } catch (err) {
    // A full disk or a read-only token file must not leave a stale cache behind:
    // removing the cache needs no space. Without either, the change must not happen.
    try {
      fs.unlinkSync(files.cache);
    } catch (rmErr) {
      if ((rmErr as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * Overwrites the token in place, synchronously. It runs twice around every change
 * (each `fs write`, each file a `cp` puts in): truncating and rewriting the file cost
 * ~0.4 ms on ext4 (a block freed and allocated again) and made a small write 2–3x
 * slower; a same-length pwrite is microseconds. A reader that catches it half-written
 * sees neither token, which is a miss like any other.
 */
function writeToken(file: string, token: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    fs.writeFileSync(file, token, { flag: 'wx' });
    return;
  }
  try {
    fs.writeSync(fd, token, 0);
  } finally {
    fs.closeSync(fd);
  }
}

/** Read synchronously: df reads one per container, and a thread-pool round trip costs more than the read. */
export function readUsageToken(store: Store, id: string): UsageToken {
  let text: string;
  try {
    text = fs.readFileSync(containerUsageFiles(store, id).token, 'latin1');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : 'unreadable';
  }
  // Caught between truncate and write, the file is empty: that is no token at all.
  return TOKEN.test(text) ? text : 'unreadable';
}
