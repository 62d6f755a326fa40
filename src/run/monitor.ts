/**
 * The detached monitor of a `-d` container (and of `strata start`): a small Node
 * process, detached from the terminal (setsid), that runs `runc run` with the container's output
 * going to containers/<id>/container.log, waits for it, and records the exit code —
 * what Docker's daemon and containerd's shim do, without a daemon. It tells the
 * strata that launched it how the start went on fd 3, one line: `started`, or
 * `failed <exit code> <message>`; that strata prints the ID (or the error) and exits.
 *
 *   node monitor.js STORE_ROOT CONTAINER_ID
 */
import fs from 'node:fs';
import { openStore } from '../store/root.js';
import { readEnvironment } from '../cli/environment.js';
import { isStrataError } from '../errors.js';
import { readContainerRecord } from '../container/record.js';
import { bundlePaths } from './bundle.js';
import { runContainerProcess } from './process.js';

const [root, id] = process.argv.slice(2) as [string, string];
const report = fs.createWriteStream('', { fd: 3 });
// The launcher may be gone by the time a late line is written: nothing to tell then.
report.on('error', () => undefined);

function tell(line: string): void {
  report.end(`${line}\n`);
}

async function monitor(): Promise<void> {
  const env = readEnvironment();
  const store = await openStore({ root, privileged: env.privileged, whiteoutFormat: env.whiteoutFormat, lockTimeoutMs: env.lockTimeoutMs });
  const log = fs.openSync(bundlePaths(store, id).containerLog, 'a', 0o640);
  try {
    const record = await readContainerRecord(store, id);
    await runContainerProcess(store, id, {
      stdio: ['ignore', log, log],
      // -t: the terminal's output goes to the log as one stream, with the pty's \r\n, as in Docker's.
      terminal: record.config?.tty === true,
      onStarted: () => tell('started'),
    });
  } catch (err) {
    const code = isStrataError(err, 'ECOMMAND') && typeof err.found === 'number' ? err.found : 125;
    tell(`failed ${code} ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
}

// The monitor must outlive a terminal's hangup and a Ctrl-C in the shell that ran `strata run -d`.
for (const signal of ['SIGHUP', 'SIGINT'] as const) process.on(signal, () => undefined);
void monitor().then(() => process.exit(0));
