import os from 'node:os';
import path from 'node:path';

/**
 * Where mount holds live, for all stores of one user: a tmpfs, so a reboot (which
 * drops every mount) drops the holds with them, as containers/storage keeps its
 * mount counts under its run root. `/run/strata` for root, `$XDG_RUNTIME_DIR/strata`
 * for anyone else, and without a runtime dir (a `setpriv`ed or `su`ed shell) a
 * private directory in the temp dir (checked before use: src/mount/run-dir.ts).
 * Its own module so the CLI can name it from its environment.
 */
export function defaultRunBase(options: { privileged: boolean; xdgRuntimeDir?: string | undefined }): string {
  if (options.privileged) return '/run/strata';
  if (options.xdgRuntimeDir !== undefined && path.isAbsolute(options.xdgRuntimeDir)) return path.join(options.xdgRuntimeDir, 'strata');
  return privateRunBase();
}

/** The temp-dir fallback: `strata-run-<uid>/strata`, the first part of which must be ours alone. */
export function privateRunBase(): string {
  return path.join(os.tmpdir(), `strata-run-${os.userInfo().uid}`, 'strata');
}
