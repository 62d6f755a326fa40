import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hash } from 'node:crypto';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { defaultRunBase, privateRunBase } from './run-base.js';

/**
 * The store's directory under the run base (src/mount/run-base.ts), named by a hash
 * of the store's real path: two stores never share holds, and a store reached
 * through a symlink is still one store. Only the path: nothing is created until a
 * hold is written (ensureRunDir).
 */
export function runDir(store: Store): string {
  // One-shot crypto.hash: createHash's stream machinery costs ~5 ms to set up on first use.
  const key = hash('sha256', fs.realpathSync(store.root)).slice(0, 20);
  return path.join(runBaseOf(store), key);
}

/** runDir(store), created (mode 0700) with a `root` file naming the store, for a human looking in. */
export function ensureRunDir(store: Store): string {
  const dir = runDir(store);
  if (runBaseOf(store) === privateRunBase()) assertPrivate(path.dirname(privateRunBase()));
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rootFile = path.join(dir, 'root');
  if (!fs.existsSync(rootFile)) fs.writeFileSync(rootFile, `${fs.realpathSync(store.root)}\n`);
  return dir;
}

function runBaseOf(store: Store): string {
  return store.runBase ?? defaultRunBase({ privileged: store.privileged });
}

/**
 * Anyone may create names in the temp dir, so ours must be a real directory owned by
 * us and closed to others, or another user could plant holds or a symlink.
 */
function assertPrivate(dir: string): void {
  const uid = os.userInfo().uid;
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new StrataError('ESTORE', `${dir}: not a private directory of user ${uid}; set XDG_RUNTIME_DIR`, { path: dir });
  }
}
