/**
 * Running the CLI as a user that file permissions apply to. Root reads and writes
 * through any mode bits, so a root test run drops to uid/gid 65534 (nobody) with
 * setpriv, on a store chowned to it; any other user is already unprivileged and
 * runs the CLI as itself.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot, type CliResult } from './cli.js';

const run = promisify(execFile);
export const NOBODY = 65534;
const privileged = process.geteuid?.() === 0;

let skipReason: Promise<string | null> | undefined;

/** Why permission tests cannot run here, or null when they can. */
export function unprivilegedSkipReason(): Promise<string | null> {
  skipReason ??= (async () => {
    if (!privileged) return null;
    if (process.platform !== 'linux') return 'needs Linux to drop root with setpriv';
    if (
      !(await run('setpriv', ['--version']).then(
        () => true,
        () => false,
      ))
    )
      return 'setpriv (util-linux) is not installed';
    // nobody must be able to read the built CLI: a checkout under a private home would not be.
    const probe = await unprivileged(
      [process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'cli', 'bin.js'))})`],
      os.tmpdir(),
    );
    return probe.code === 0 ? null : `user ${NOBODY} cannot read the repository (${probe.stderr.trim().split('\n')[0]})`;
  })();
  return skipReason;
}

/** Gives `dir` and everything under it to the user the CLI runs as (a no-op unless root). */
export async function handOver(dir: string): Promise<void> {
  if (privileged) await run('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
}

export interface UnprivilegedOptions {
  env?: NodeJS.ProcessEnv;
  /** Sees stderr as it arrives (e.g. fault points the process pauses at). */
  onStderr?: (text: string) => void;
}

/** `strata --root ROOT …args` as the unprivileged user, in a child process. */
export function strataUnprivileged(root: string, args: string[], home: string, options: UnprivilegedOptions = {}): Promise<CliResult> {
  return unprivileged([process.execPath, path.join(repoRoot, 'bin', 'strata.js'), '--root', root, ...args], home, options);
}

function unprivileged(argv: string[], home: string, options: UnprivilegedOptions = {}): Promise<CliResult> {
  const [command, ...rest] = privileged ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...argv] : argv;
  return new Promise((resolve, reject) => {
    const child = spawn(command!, rest, {
      env: { ...process.env, HOME: home, XDG_DATA_HOME: path.join(home, 'data'), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      err.push(c);
      options.onStderr?.(Buffer.concat(err).toString());
    });
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
  });
}

/** A temp directory every user may enter, for a store handed over to the CLI's user. */
export async function sharedTempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, 0o755);
  return dir;
}
