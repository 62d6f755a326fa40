import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tty from 'node:tty';
import { promisify } from 'node:util';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { runDir } from '../mount/run-dir.js';
import type { ContainerRecord } from '../container/record.js';
import { notInstalled, type RuntimeName } from './runtime-choice.js';

const execFileP = promisify(execFile);

/**
 * The OCI runtime that runs a container (runtime-choice.ts: runc or crun). Each keeps
 * its state in a root of strata's own under the run directory (a tmpfs: /run/strata
 * as root, $XDG_RUNTIME_DIR/strata otherwise), one root per runtime since their state
 * formats differ: strata never sees or leaves containers in another tool's state, and
 * a reboot clears it. runc and crun take the same command line for everything strata
 * asks of them (run, exec --process, kill, delete --force, --log-format json).
 */
export interface Runtime {
  name: RuntimeName;
  binary: string;
  /** `--root` for every call. */
  stateRoot: string;
}

/** A runtime with its state under the store's run directory (src/mount/run-dir.ts). */
export function runtimeFor(store: Store, name: RuntimeName = 'runc'): Runtime {
  return { name, binary: name, stateRoot: path.join(runDir(store), name) };
}

/** The runtime a container was created with; records made before `--runtime` ran under runc. */
export function containerRuntime(store: Store, record: ContainerRecord): Runtime {
  return runtimeFor(store, record.runtime ?? 'runc');
}

/** The container's runtime id: strata's container id, so `runc --root … list` names them as strata does. */
export function runtimeId(containerId: string): string {
  return containerId;
}

/**
 * `runc run` in the foreground: runc stays the parent of the container's first
 * process and exits with its status (128+N when a signal N killed it), which is how
 * strata learns the exit code without being a subreaper. With a terminal, runc makes
 * the pty and copies between it and its own stdio — but only when one of them is a
 * terminal (it opens /dev/tty otherwise). A detached `-t` container has none: its
 * runc then runs under script(1) of util-linux, whose pty stands in for the user's
 * terminal. (`runc run -d` would hand the pty over a unix socket as SCM_RIGHTS,
 * which Node cannot receive without native code.)
 */
export async function spawnRun(
  runtime: Runtime,
  id: string,
  bundle: string,
  stdio: StdioOptions,
  logFile: string,
  terminal: boolean,
): Promise<ChildProcess> {
  await fs.mkdir(runtime.stateRoot, { recursive: true, mode: 0o700 });
  const args = ['--root', runtime.stateRoot, '--log', logFile, '--log-format', 'json', 'run', '--bundle', bundle, runtimeId(id)];
  return spawnForeground(runtime, args, stdio, terminal);
}

/** `runc exec` of a process file in the foreground, on a terminal as `spawnRun`'s: `exec -t` with its output piped runs under script(1). */
export function spawnExec(
  runtime: Runtime,
  id: string,
  processFile: string,
  stdio: StdioOptions,
  terminal: boolean,
): Promise<ChildProcess> {
  return spawnForeground(runtime, ['--root', runtime.stateRoot, 'exec', '--process', processFile, runtimeId(id)], stdio, terminal);
}

async function spawnForeground(runtime: Runtime, args: string[], stdio: StdioOptions, terminal: boolean): Promise<ChildProcess> {
  const child = terminal && !hasTerminal(stdio) ? spawnUnderScript(runtime.binary, args, stdio) : spawn(runtime.binary, args, { stdio });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new StrataError('EUSAGE', notInstalled(runtime.name), { path: runtime.binary }) : err),
    );
  });
  return child;
}

/** True when `stdio` hands the runtime a terminal (see spawnRun). */
function hasTerminal(stdio: StdioOptions): boolean {
  const fds = Array.isArray(stdio) ? stdio.slice(0, 3) : [stdio, stdio, stdio];
  return fds.some((entry, fd) => (entry === 'inherit' ? tty.isatty(fd) : typeof entry === 'number' && tty.isatty(entry)));
}

/**
 * runc under `script -qefc … /dev/null`: -e passes the exit status on, -f flushes
 * output as it comes. script's stdin stays an open pipe nobody writes: at end of
 * input it would type an end-of-file into the container's terminal.
 */
function spawnUnderScript(binary: string, args: string[], stdio: StdioOptions): ChildProcess {
  const [, ...rest] = Array.isArray(stdio) ? stdio : [stdio, stdio, stdio];
  const command = [binary, ...args].map(shellQuote).join(' ');
  return spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['pipe', ...rest] });
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** The exit status of a `runc run`: the process's, as the shell reports it. */
export function waitExit(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + signalNumber(signal))));
}

/**
 * `runc kill`; a container that has already gone is not an error. crun says so as
 * "error opening file `<root>/<id>/status`: No such file or directory".
 */
export async function killContainer(runtime: Runtime, id: string, signal: string): Promise<void> {
  try {
    await execFileP(runtime.binary, ['--root', runtime.stateRoot, 'kill', runtimeId(id), signal]);
  } catch (err) {
    const text = String((err as { stderr?: string }).stderr ?? '');
    if (/does not exist|not running|status`: No such file/i.test(text)) return;
    throw new StrataError('EUSAGE', `cannot kill container ${id}: ${text.trim().split('\n').pop() ?? 'runtime failed'}`, { path: id });
  }
}

/**
 * The host PID of a running container's first process, as `docker inspect` shows it in
 * State.Pid (what nsenter and /proc/PID/root are used with); 0 when the runtime has no
 * running process for it.
 */
export async function runningPid(runtime: Runtime, id: string): Promise<number> {
  try {
    const { stdout } = await execFileP(runtime.binary, ['--root', runtime.stateRoot, 'state', runtimeId(id)]);
    const state = JSON.parse(stdout) as { status?: unknown; pid?: unknown };
    return state.status === 'running' && typeof state.pid === 'number' ? state.pid : 0;
  } catch {
    return 0;
  }
}

/**
 * Removes what the runtime keeps about a container that has stopped. `runc run`
 * does it itself on a normal exit, so runc is only called (tens of ms) when its
 * state directory is still there.
 */
export async function deleteRuntimeState(runtime: Runtime, id: string): Promise<void> {
  if (!(await fs.stat(path.join(runtime.stateRoot, runtimeId(id))).catch(() => null))) return;
  await execFileP(runtime.binary, ['--root', runtime.stateRoot, 'delete', '--force', runtimeId(id)]).catch(() => undefined);
}

/** The runtime's own error, if its log has one: how a failed start is told apart from a command that failed. */
export async function runtimeError(logFile: string): Promise<string | null> {
  const text = await fs.readFile(logFile, 'utf8').catch(() => '');
  let message: string | null = null;
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) message = entry.msg;
    } catch {
      // not a JSON line
    }
  }
  return message;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : os.constants.signals[signal];
}
