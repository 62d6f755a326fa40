import path from 'node:path';

/** Docker's `certs.d` of a root daemon: where a registry's own CA and client certificate live. */
export const ROOT_CERTS_DIR = '/etc/docker/certs.d';

/**
 * Docker's `certs.d` for whoever runs strata: the root daemon's for root, rootless
 * dockerd's (`$XDG_CONFIG_HOME/docker/certs.d`, else `~/.config/docker/certs.d`)
 * otherwise. Its own module so the CLI can name it from its environment without
 * loading the TLS code (src/registry/tls-trust.ts) at start-up.
 */
export function defaultCertsDir(options: { privileged: boolean; xdgConfigHome?: string | undefined; home: string }): string {
  if (options.privileged) return ROOT_CERTS_DIR;
  return path.join(options.xdgConfigHome || path.join(options.home, '.config'), 'docker', 'certs.d');
}
