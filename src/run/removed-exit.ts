import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/root.js';
import { ensureRunDir, runDir } from '../mount/run-dir.js';

/**
 * The exit code of an --rm container, kept after its record is gone so a `wait`
 * begun while it ran still learns it (as Docker's wait on a `run -d --rm` does). A
 * plain file in the run directory, a tmpfs: a few bytes a run, cleared at reboot.
 */
export function noteRemovedExit(store: Store, id: string, exitCode: number): void {
  const dir = path.join(ensureRunDir(store), 'exits');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, id), `${exitCode}\n`);
}

/** The code noteRemovedExit kept for `id`, or null. */
export function removedExit(store: Store, id: string): number | null {
  try {
    const text = fs.readFileSync(path.join(runDir(store), 'exits', id), 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}
