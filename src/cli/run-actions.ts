import type { ChildProcess } from 'node:child_process';
import { InvalidArgumentError } from 'commander';
import type { CliContext } from './context.js';
import { createFromFlags, type CreateFlags } from './container-actions.js';
import { ExitStatus } from './main.js';

export interface RunFlags extends CreateFlags {
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
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
  if (opts.detach && opts.tty) {
    // runc hands a detached container's pty over a unix socket (SCM_RIGHTS), which Node cannot receive without a native addon.
    throw new InvalidArgumentError('-t with -d is not supported: the pty of a detached container cannot be received without native code');
  }
  const record = await createFromFlags(ctx, image, command, opts);
  const store = await ctx.store();
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
    onStarted: ctx.io.signal ? (runtime) => forwardSignals(store, record.id, runtime) : undefined,
  });
  if (code !== 0) throw new ExitStatus(code);
}

/**
 * Signals to strata go to the container (runc passes what it receives to the
 * container's first process), as Docker's --sig-proxy. Ctrl-C and SIGTERM stop it:
 * a PID 1 that ignores them is killed STOP_GRACE_MS later, or at once on a second one.
 * bin.ts's own handlers (abort and exit) are replaced: the run ends when the container does.
 */
function forwardSignals(store: import('../store/root.js').Store, id: string, runtime: ChildProcess): void {
  let stopping = false;
  const killNow = async () => {
    const { killContainer, runtimeFor } = await import('../run/runtime.js');
    await killContainer(runtimeFor(store), id, 'KILL').catch(() => undefined);
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
