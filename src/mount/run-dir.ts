import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';

/**
 * Where mount holds live: a tmpfs, so a reboot (which drops every mount) drops the
 * holds with them, as containers/storage keeps `mountpoints.json` under its run root.
 * `/run/strata` for root, `$XDG_RUNTIME_DIR/strata` for anyone else (a private
 * fallback under the temp dir when no runtime dir is set), then one directory per
 * store, named by a hash of the store's real path: two stores never share holds,
 * and a store reached through a symlink is still one store.
 */
export function runDir(store: Store): string {
  const real = fs.realpathSync(store.root);
  const key = createHash('sha256').update(real).digest('hex').slice(0, 20);
  return path.join(runBase(), key);
}

/** runDir(store), created (mode 0700) with a `root` file naming the store, for a human looking in. */
export function ensureRunDir(store: Store): string {
  const dir = runDir(store);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rootFile = path.join(dir, 'root');
  if (!fs.existsSync(rootFile)) fs.writeFileSync(rootFile, `${fs.realpathSync(store.root)}\n`);
  return dir;
}

function runBase(): string {
  if (process.geteuid?.() === 0) return '/run/strata';
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && path.isAbsolute(runtime)) return path.join(runtime, 'strata');
  return privateTempDir();
}

/**
 * No runtime dir (a `setpriv`ed or `su`ed shell): a directory of our own in the temp
 * dir. Anyone may create names there, so it must be a real directory owned by us and
 * closed to others, or holds could be planted by another user.
 */
function privateTempDir(): string {
  const uid = process.geteuid?.() ?? 0;
  const dir = path.join(os.tmpdir(), `strata-run-${uid}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new StrataError('ESTORE', `${dir}: not a private directory of user ${uid}; set XDG_RUNTIME_DIR`, { path: dir });
  }
  return path.join(dir, 'strata');
}
