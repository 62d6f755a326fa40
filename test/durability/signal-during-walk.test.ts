import test from 'ava';
import fsSync from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { repoRoot, strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';

const BIN = path.join(repoRoot, 'bin', 'strata.js');

/** Runs the real binary; with `termAfterMs`, one SIGTERM that long after the start. */
function run(
  root: string,
  args: string[],
  termAfterMs?: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; sentAt: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let sentAt = 0;
    const child = spawn(process.execPath, [BIN, '--root', root, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.resume();
    if (termAfterMs !== undefined) {
      setTimeout(() => {
        sentAt = Date.now();
        child.kill('SIGTERM');
      }, termAfterMs);
    }
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, ms: Date.now() - started, sentAt: sentAt === 0 ? 0 : sentAt - started }));
  });
}

// df measures every volume with a synchronous walk (several times faster than thread-pool
// lstats). Over a volume of 450,000 files that walk takes seconds; one SIGTERM in the
// middle of it must still end the command within a second.
test('one SIGTERM ends a system df that is walking a volume of 450,000 files within a second', async (t) => {
  const { store } = await tmpStore(t);
  t.is((await strata(store.root, ['volume', 'create', 'big'])).code, 0);
  const data = path.join(store.paths.volumeDir('big'), '_data');
  for (let d = 0; d < 450; d++) {
    const dir = path.join(data, `d${d}`);
    fsSync.mkdirSync(dir);
    for (let f = 0; f < 1000; f++) fsSync.closeSync(fsSync.openSync(path.join(dir, `f${f}`), 'w'));
  }
  const whole = await run(store.root, ['system', 'df']);
  t.is(whole.code, 0);
  t.true(whole.ms > 1500, `the uninterrupted df must outlast the signal by far for this to mean anything (took ${whole.ms} ms)`);
  const stopped = await run(store.root, ['system', 'df'], Math.min(600, whole.ms / 3));
  t.log(`uninterrupted ${whole.ms} ms; SIGTERM at ${stopped.sentAt} ms, ended at ${stopped.ms} ms`);
  t.true(stopped.code === 143 || stopped.signal === 'SIGTERM', `ended by the signal (code ${stopped.code}, signal ${stopped.signal})`);
  t.true(stopped.ms - stopped.sentAt < 1000, `ended ${stopped.ms - stopped.sentAt} ms after the signal`);
});
