/**
 * How every contender of every benchmark is timed: as a child process under GNU time,
 * so wall time, CPU time and peak RSS come from one place for strata, the coreutils
 * baseline and umoci alike. Wall time is our own monotonic clock around the spawn;
 * peak RSS is GNU time's %M, i.e. the kernel's ru_maxrss for the child — for a
 * pipeline of processes, the largest single process, not their sum.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';

/** GNU time; the Debian package `time` installs it here (a shell's `time` keyword has no %M). */
export const GNU_TIME = '/usr/bin/time';

export interface Sample {
  wallS: number;
  peakRssMiB: number;
  userS: number;
  sysS: number;
}

export interface Command {
  file: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Null when GNU time is usable, else why not (printed as the reason the benchmark cannot run). */
export async function gnuTimeProblem(): Promise<string | null> {
  const { code, stdout, stderr } = await capture({ file: GNU_TIME, args: ['--version'] }).catch(() => ({
    code: -1,
    stdout: '',
    stderr: '',
  }));
  if (code === 0 && /GNU/.test(stdout + stderr)) return null;
  return `${GNU_TIME} is missing or not GNU time (Debian: apt-get install time)`;
}

/** True when `file` can be run (e.g. `umoci --version`). */
export async function available(file: string, args: string[] = ['--version']): Promise<boolean> {
  return capture({ file, args }).then(
    (r) => r.code === 0,
    () => false,
  );
}

/**
 * Runs `command` once under GNU time and measures it. A non-zero exit is an error
 * carrying the command's stderr: a contender that failed has no time worth reporting.
 */
export async function measure(command: Command, scratch: string): Promise<Sample> {
  const timeFile = path.join(scratch, `time-${process.pid}-${Date.now()}.txt`);
  const started = process.hrtime.bigint();
  const result = await capture({ ...command, file: GNU_TIME, args: ['-f', '%M %U %S', '-o', timeFile, command.file, ...command.args] });
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const report = await fsp.readFile(timeFile, 'utf8').finally(() => fsp.rm(timeFile, { force: true }));
  if (result.code !== 0) {
    throw new Error(
      `${path.basename(command.file)} ${command.args.join(' ')} exited with ${result.code}: ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`,
    );
  }
  // GNU time prepends "Command exited with non-zero status N" on failure; the figures are the last line.
  const [maxRssKiB, user, sys] = report.trim().split('\n').at(-1)!.split(' ').map(Number);
  if (![maxRssKiB, user, sys].every((n) => Number.isFinite(n))) throw new Error(`unexpected GNU time output: ${JSON.stringify(report)}`);
  return { wallS, peakRssMiB: maxRssKiB! / 1024, userS: user!, sysS: sys! };
}

/** Runs a setup or check step (not measured); throws with its stderr when it fails. */
export async function run(command: Command): Promise<string> {
  const result = await capture(command);
  if (result.code !== 0) {
    throw new Error(`${command.file} ${command.args.join(' ')} exited with ${result.code}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

function capture(command: Command): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command.file, command.args, {
      cwd: command.cwd,
      env: command.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    // Only the tail matters for an error message; a chatty child must not grow our RSS.
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-8192);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
}

/**
 * Flushes dirty pages before a measured run, so no contender pays for the previous
 * one's writeback. Caches cannot be dropped without privileges we should not assume;
 * a warm-up pass puts every input in the page cache instead.
 */
export async function settleDisk(): Promise<void> {
  await run({ file: 'sync', args: [] });
}

/** Bytes free for an unprivileged writer on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const st = await fsp.statfs(dir);
  return st.bavail * st.bsize;
}

/**
 * ext4 without a journal (common on VMs and CI disks, and this machine kind's root) will
 * not hand out an inode freed in the last 60 s, or in the last 360 s while its
 * inode-table block is dirty (fs/ext4/ialloc.c, recently_deleted). A sync does not help
 * for long: each inode the next run creates dirties its table block again, and with it
 * every freed inode beside it. So creating 40,000 files within six minutes of deleting
 * 40,000 skips past each freed one in turn: measured here, a load's system time went
 * from 7 s to 11–16 s and a pull bench run after another one's clean-up paid twice the
 * CPU for each load and pull, with `recently_deleted` and the block lookup under it 41 %
 * of all CPU (perf). A benchmark that writes trees starts only once the last delete is
 * this old (waitOutRecentDeletes).
 */
export const INODE_REUSE_COOLDOWN_S = 365;

/** When removeTree last deleted a tree, kept in a file so a second bench invocation sees the first one's clean-up. */
const LAST_DELETE_STAMP = path.join(os.tmpdir(), 'strata-bench-last-delete');

/** Sleeps until the last tree removeTree deleted, in this process or an earlier one, is INODE_REUSE_COOLDOWN_S old. */
export async function waitOutRecentDeletes(log: (line: string) => void): Promise<void> {
  const last = Number(await fsp.readFile(LAST_DELETE_STAMP, 'utf8').catch(() => '0'));
  const waitS = (last + INODE_REUSE_COOLDOWN_S * 1000 - Date.now()) / 1000;
  if (!(waitS > 0)) return;
  log(`cool-down: ${waitS.toFixed(0)} s until the last deleted tree is ${INODE_REUSE_COOLDOWN_S} s old (see INODE_REUSE_COOLDOWN_S)`);
  await sleep(waitS);
}

export function sleep(seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function makeScratchDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
}

/**
 * rm -rf of a contender's output; when a 000 directory stops a non-root rm, it is opened
 * up and retried. Notes the time for waitOutRecentDeletes.
 */
export async function removeTree(dir: string): Promise<void> {
  try {
    await run({ file: 'rm', args: ['-rf', dir] });
  } catch {
    await run({ file: 'chmod', args: ['-R', 'u+rwX', dir] }).catch(() => {});
    await run({ file: 'rm', args: ['-rf', dir] });
  }
  await fsp.writeFile(LAST_DELETE_STAMP, String(Date.now()));
}
