import fs from 'node:fs';

/**
 * strata's version, from the package.json it ships with (read when asked, not at
 * every start). From dist/src/cli/ the package root is three levels up.
 */
export function strataVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `strata version`, shaped like the client half of `docker version`. */
export function versionText(): string {
  return [`Version:    ${strataVersion()}`, `Node:       ${process.version}`, `OS/Arch:    ${process.platform}/${process.arch}`].join('\n');
}
