import os from 'node:os';
import path from 'node:path';

/**
 * The per-user store location: /var/lib/strata for root, else under the XDG data home.
 * Its own module so the CLI can name it before it loads the store code.
 */
export function defaultRoot(options: { privileged: boolean; xdgDataHome?: string | undefined }): string {
  if (options.privileged) return '/var/lib/strata';
  const dataHome = options.xdgDataHome || path.join(os.homedir(), '.local', 'share');
  return path.join(dataHome, 'strata');
}
