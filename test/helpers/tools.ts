/**
 * Probes for the programs some tests drive or make their test data with, answered once
 * when a test file loads, as the reason its tests skip (see skip.ts) or null.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Null when `command args` runs and exits 0 (and its output matches `output`), else `reason`. */
export async function commandSkipReason(command: string, args: string[], reason: string, output?: RegExp): Promise<string | null> {
  try {
    const { stdout } = await run(command, args);
    return output === undefined || output.test(stdout) ? null : reason;
  } catch {
    return reason;
  }
}

export function zstdSkipReason(): Promise<string | null> {
  return commandSkipReason('zstd', ['--version'], 'the zstd command is not installed, so no zstd test data can be made');
}

/** GNU tar, not any tar: its listing format and --xattrs are what these tests read. */
export function gnuTarSkipReason(): Promise<string | null> {
  return commandSkipReason('tar', ['--version'], 'GNU tar is not installed', /GNU tar/);
}

export function setprivSkipReason(): Promise<string | null> {
  return commandSkipReason('setpriv', ['--version'], 'setpriv (util-linux) is not installed');
}

/** Debian's chromium, which playwright-core drives for the report's browser tests (it ships no browser of its own). */
export const CHROMIUM = '/usr/bin/chromium';

export function chromiumSkipReason(): Promise<string | null> {
  return commandSkipReason(CHROMIUM, ['--version'], `chromium is not installed at ${CHROMIUM} (Debian package chromium)`, /Chromium/);
}
