import fs from 'node:fs';
import path from 'node:path';
import { StrataError } from '../errors.js';

/**
 * Which OCI runtime runs a container: Docker's `--runtime NAME`, recorded at create
 * as HostConfig.Runtime. strata has no daemon to configure runtimes in, so the names
 * are fixed: runc (the default, as Docker's) and crun, each the Debian package and
 * binary of that name, found on PATH when the container is created.
 */
export const RUNTIME_NAMES = ['runc', 'crun'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** A name `--runtime` or $STRATA_RUNTIME gave; anything else is refused as Docker's daemon refuses a runtime it does not know. */
export function parseRuntimeName(value: string): RuntimeName {
  if ((RUNTIME_NAMES as readonly string[]).includes(value)) return value as RuntimeName;
  throw new StrataError('EUSAGE', `unknown or invalid runtime name: ${value} (strata runs ${RUNTIME_NAMES.join(' or ')})`, { path: value });
}

export function notInstalled(name: RuntimeName): string {
  return `${name}: the OCI runtime is not installed (Debian package ${name})`;
}

/** Throws unless the runtime's binary is an executable file in one of `searchPath`'s directories (PATH's syntax). */
export function assertInstalled(name: RuntimeName, searchPath: string): void {
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return;
    } catch {
      // not in this directory
    }
  }
  throw new StrataError('EUSAGE', notInstalled(name), { path: name });
}
