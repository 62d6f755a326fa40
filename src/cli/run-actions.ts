import type { ChildProcess } from 'node:child_process';
import { InvalidArgumentError } from 'commander';
import type { CliContext } from './context.js';
import { chosenRuntime, createFromFlags, type CreateFlags } from './container-actions.js';
import { ExitStatus } from './main.js';
import { StrataError } from '../errors.js';
import { eachName } from './output.js';
import type { Store } from '../store/root.js';
import type { ContainerRecord } from '../container/record.js';

export interface RunFlags extends CreateFlags {
  detach?: boolean;
  interactive?: boolean;
}

/** What a foreground run does with the signals strata receives. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/** A container's PID 1 that ignores the first SIGINT or SIGTERM (sh does) is killed this long after it. */
const STOP_GRACE_MS = 2000;

/**
 * `docker run` = create + start, the process through runc. The container's exit
 * status is strata's; 125 for strata's own failures, 126 and 127 for a command that
 * cannot run or is not there (main.ts maps them).
 */
export async function run(ctx: CliContext, image: string, command: string[], opts: RunFlags): Promise<void> {
  if (!opts.detach) assertInputIsTerminal(ctx, opts);
  const store = await ctx.store();
  const reason = cannotRun(store);
  if (reason !== null) throw new StrataError('EUSAGE', reason);
  const { assertInstalled } = await import('../run/runtime-choice.js');
  // Before the container is made: a run whose runtime is missing leaves nothing behind.
  assertInstalled(chosenRuntime(ctx, opts) ?? 'runc', process.env.PATH ?? '');
  const record = await createFromFlags(ctx, image, command, opts);
  if (opts.detach) {
    const { startDetached } = await import('../run/detach.js');
    await startDetached(store, record.id);
    ctx.print(record.id);
    return;
  }
  const { runContainerProcess } = await import('../run/process.js');
  const code = await runContainerProcess(store, record.id, {
    stdio: [opts.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
    terminal: opts.tty === true,
    // Only the real process owns its signals: an in-process caller (a test) keeps its own.
    onStarted: ctx.io.signal ? (runtime) => forwardSignals(store, record, runtime) : undefined,
  });
  if (code !== 0) throw new ExitStatus(code);
}

/**
 * Signals to strata go to the container (runc passes what it receives to the
 * container's first process), as Docker's --sig-proxy. Ctrl-C and SIGTERM stop it:
 * a PID 1 that ignores them is killed STOP_GRACE_MS later, or at once on a second one.
 * bin.ts's own handlers (abort and exit) are replaced: the run ends when the container does.
 */
function forwardSignals(store: Store, record: ContainerRecord, runtime: ChildProcess): void {
  let stopping = false;
  const killNow = async () => {
    const { killContainer, containerRuntime } = await import('../run/runtime.js');
    await killContainer(containerRuntime(store, record), record.id, 'KILL').catch(() => undefined);
  };
  for (const signal of FORWARDED) {
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (signal !== 'SIGINT' && signal !== 'SIGTERM') {
        runtime.kill(signal);
        return;
      }
      if (stopping) {
        void killNow();
        return;
      }
      stopping = true;
      runtime.kill(signal);
      setTimeout(() => void killNow(), STOP_GRACE_MS).unref();
    });
  }
}

export interface StartFlags {
  attach?: boolean;
  interactive?: boolean;
}

/**
 * Whether this store can run processes: as root, with the kernel's whiteout encoding
 * (which overlayfs reads) and runc or crun installed (a container whose own runtime is
 * missing then fails to start, saying so). Elsewhere start and stop keep their
 * meaning without a process — they change the state, and stop empties --tmpfs.
 */
async function runsProcesses(store: Store): Promise<boolean> {
  return cannotRun(store) === null && (await runtimeInstalled());
}

/** Why this store cannot run processes, or null: root and the kernel's whiteout encoding. */
function cannotRun(store: Store): string | null {
  if (process.geteuid?.() !== 0) return 'running containers needs root (runc and kernel overlayfs mounts); strata has no rootless runs';
  if (store.whiteoutFormat !== 'overlay')
    return `the store at ${store.root} keeps whiteouts as .wh. files, which the kernel's overlayfs does not read: containers run only from a store in the overlay encoding`;
  return null;
}

async function runtimeInstalled(): Promise<boolean> {
  const { RUNTIME_NAMES, assertInstalled } = await import('../run/runtime-choice.js');
  return RUNTIME_NAMES.some((name) => {
    try {
      assertInstalled(name, process.env.PATH ?? '');
      return true;
    } catch {
      return false;
    }
  });
}

export async function start(ctx: CliContext, names: string[], opts: StartFlags): Promise<void> {
  const store = await ctx.store();
  if (!(await runsProcesses(store))) {
    const { startContainer } = await import('../container/lifecycle.js');
    await eachName(ctx, names, async (n) => {
      await startContainer(store, n);
      ctx.print(n);
    });
    return;
  }
  if (opts.attach || opts.interactive) {
    if (names.length > 1) throw new InvalidArgumentError('you cannot start and attach multiple containers at once');
    const { runContainerProcess } = await import('../run/process.js');
    const { findContainer } = await import('../container/lookup.js');
    const record = await findContainer(store, names[0]!);
    const code = await runContainerProcess(store, record.id, {
      stdio: [opts.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
      terminal: record.config?.tty === true,
      onStarted: ctx.io.signal ? (runtime) => forwardSignals(store, record, runtime) : undefined,
    });
    if (code !== 0) throw new ExitStatus(code);
    return;
  }
  const { startDetached } = await import('../run/detach.js');
  const { findContainer } = await import('../container/lookup.js');
  const { hasLiveProcess } = await import('../run/control.js');
  await eachName(ctx, names, async (n) => {
    const record = await findContainer(store, n);
    // Docker's start of a running container does nothing and names it.
    if (!hasLiveProcess(record)) await startDetached(store, record.id);
    ctx.print(n);
  });
}

export async function stopOrRestart(ctx: CliContext, verb: 'stop' | 'restart', names: string[], seconds: number): Promise<void> {
  const store = await ctx.store();
  const control = await import('../run/control.js');
  const lifecycle = await import('../container/lifecycle.js');
  const { findContainer } = await import('../container/lookup.js');
  const processes = await runsProcesses(store);
  await eachName(ctx, names, async (n) => {
    const record = await findContainer(store, n);
    // A process strata supervises, or did until its supervisor died (stopRunning then cleans up after it).
    if (record.state.status === 'running' && record.state.supervisor !== undefined) await control.stopRunning(store, record.id, seconds);
    else if (verb === 'stop' || !processes) await (verb === 'stop' ? lifecycle.stopContainer : lifecycle.restartContainer)(store, n);
    if (verb === 'restart' && processes) await (await import('../run/detach.js')).startDetached(store, record.id);
    ctx.print(n);
  });
}

export async function kill(ctx: CliContext, names: string[], signal: string): Promise<void> {
  const store = await ctx.store();
  const { killRunning, parseSignal } = await import('../run/control.js');
  parseSignal(signal);
  await eachName(ctx, names, async (n) => {
    await killRunning(store, n, signal);
    ctx.print(n);
  });
}

export async function wait(ctx: CliContext, names: string[]): Promise<void> {
  const store = await ctx.store();
  const { waitForExit } = await import('../run/control.js');
  await eachName(ctx, names, async (n) => ctx.print(String(await waitForExit(store, n))));
}

export async function logs(ctx: CliContext, name: string, opts: { follow?: boolean }): Promise<void> {
  const { copyLogs } = await import('../run/control.js');
  await copyLogs(await ctx.store(), name, ctx.io.stdout, opts.follow === true);
}

export interface ExecFlags {
  interactive?: boolean;
  tty?: boolean;
  env: string[];
  workdir?: string;
  user?: string;
}

export async function exec(ctx: CliContext, name: string, command: string[], opts: ExecFlags): Promise<void> {
  assertInputIsTerminal(ctx, opts);
  const { execInContainer } = await import('../run/exec.js');
  const { envFlagEntry } = await import('../container/run-config.js');
  const code = await execInContainer(await ctx.store(), name, {
    command,
    env: opts.env.map((e) => envFlagEntry(e, (key) => process.env[key])),
    workingDir: opts.workdir,
    user: opts.user,
    terminal: opts.tty === true,
    stdio: [opts.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
  });
  if (code !== 0) throw new ExitStatus(code);
}

/** Docker's check, before anything is made: -it reads the user's keys through the terminal, so stdin must be one. */
function assertInputIsTerminal(ctx: CliContext, opts: { interactive?: boolean; tty?: boolean }): void {
  if (opts.interactive && opts.tty && (ctx.io.stdin as { isTTY?: boolean }).isTTY !== true)
    throw new StrataError('ENOTTY', 'the input device is not a TTY');
}
