import { main } from './main.js';

/**
 * Process entry: wires the real streams and signals to main(). SIGINT/SIGTERM abort
 * the running operation, which cleans up after itself; main maps it to 130/143.
 */
const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(signal));
}
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // `strata images | head` closes the pipe early; that is not an error.
  if (err.code === 'EPIPE') process.exit(0);
});

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  signal: controller.signal,
});
process.exitCode = code;
