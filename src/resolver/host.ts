import fs from 'node:fs/promises';
import { lstatSync, type Stats } from 'node:fs';
import { fsError, isFsError } from '../errors.js';

/**
 * Runs a call on a host path and re-labels its error with the *container* path:
 * users and callers must never see where a layer lives on this machine.
 */
export async function onHost<T>(call: Promise<T>, syscall: string, containerPath: string): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (isFsError(err)) throw fsError(err.code, syscall, containerPath);
    throw err;
  }
}

/** lstat that answers null for "nothing there" (ENOENT, or ENOTDIR for a path under a file). */
export async function lstatOrNull(hostPath: string): Promise<Stats | null> {
  try {
    return await fs.lstat(hostPath);
  } catch (err) {
    if (isFsError(err, 'ENOENT') || isFsError(err, 'ENOTDIR')) return null;
    throw err;
  }
}

/**
 * lstatOrNull without the thread pool and without building an error for a miss: for
 * probing lower layers, where most layers do not have the name and a warm dentry
 * cache answers in a microsecond (an async lstat costs a pool round trip, and an
 * ENOENT a thrown Error).
 */
export function lstatOrNullSync(hostPath: string): Stats | null {
  try {
    return lstatSync(hostPath, { throwIfNoEntry: false }) ?? null;
  } catch (err) {
    if (isFsError(err, 'ENOTDIR')) return null;
    throw err;
  }
}
