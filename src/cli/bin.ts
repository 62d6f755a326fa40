import { main, EXIT } from './main.js';
import { StrataError } from '../errors.js';
import { faultPoint } from '../store/fault-points.js';
import { standardOutput } from './standard-output.js';

/**
 * Process entry: wires the real streams and signals to main().
 *
 * The first SIGINT/SIGTERM aborts the running operation, which stops at its next
 * step and removes what it made (a load: spool, ingest files, unpacked layers it
 * created, its lease); main maps that to 130/143. stdin is destroyed at once, so a
 * load spooling a pipe stops now, not when the writer closes it. Once interrupted,
 * the exit is 130/143 whatever the command made of it — also when it was past its
 * last step and finished: it was interrupted, as a shell would report. A second signal exits at once, leaving
 * whatever was in flight to `strata check --repair` and gc — both recognise it.
 *
 * One signal must be enough, though: an operation may be stuck where no abort
 * reaches it (a file-system call that never returns, a wait with no signal passed
 * down). So the first signal also arms a timer, and a command that has not wound
 * down by then exits as a second signal would. That is always safe: every store
 * change is crash-safe by construction, and an exit is no worse than a crash.
 */
const CLEANUP_GRACE_MS = 800;
const controller = new AbortController();
// process.stdin is created on first access (several milliseconds); most commands never read it.
let stdinUsed = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (controller.signal.aborted) {
      process.stderr.write('strata: interrupted again; exiting without cleaning up (`strata check --repair` finishes it)\n');
      dieBy(signal);
      return;
    }
    controller.abort(signal);
    // unref: a command that finishes its cleanup in time exits as usual, at once.
    setTimeout(() => {
      process.stderr.write(
        'strata: interrupted; still stopping after 0.8 s, exiting without cleaning up (`strata check --repair` finishes it)\n',
      );
      dieBy(signal);
    }, CLEANUP_GRACE_MS).unref();
    const interrupted = new StrataError('EINTERRUPTED', `stdin: interrupted by ${signal}`);
    // Without a reader listening for errors, an error would only crash the process.
    if (!stdinUsed) return;
    if (process.stdin.listenerCount('error') > 0) process.stdin.destroy(interrupted);
    else process.stdin.destroy();
  });
}
/**
 * Ends the process by the signal itself, as a shell expects (it reports 130/143).
 * Not process.exit(): Node's exit waits for its thread pool, and a thread blocked
 * in open(2) of a FIFO nobody writes would hold the process forever. With its
 * handler gone the signal's default action applies, which the kernel carries out.
 */
function dieBy(signal: 'SIGINT' | 'SIGTERM'): void {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}

const stdout = standardOutput();
stdout.on('error', (err: NodeJS.ErrnoException) => {
  // `strata images | head` closes the pipe early; that is not an error.
  if (err.code === 'EPIPE') process.exit(0);
});

faultPoint('cli.start');
void main(process.argv.slice(2), {
  stdout,
  stderr: process.stderr,
  get stdin() {
    stdinUsed = true;
    return process.stdin;
  },
  signal: controller.signal,
}).then((code) => {
  process.exitCode = controller.signal.aborted ? (controller.signal.reason === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint) : code;
});
