/**
 * A process for the lock tests: `node dist/test/helpers/lock-worker.js '<job json>'`.
 * It takes a lock over and over and logs, with O_APPEND (one write each, so lines of
 * several processes never mix), when it entered and left: any overlap in the log
 * means two holders at once. "holding" on stdout says when it is inside.
 */
import fs from 'node:fs';
import { openStore } from '../../src/store/root.js';
import { withNamedLock } from '../../src/store/lock.js';
import { withContainerLock } from '../../src/container/lock.js';
import { findContainer } from '../../src/container/lookup.js';
import { containerView } from '../../src/container/view.js';

export interface LockJob {
  root: string;
  mode: 'mutex' | 'append';
  /** mutex: the lock's name (`store`, `container-<id>`); append: the container. */
  lock: string;
  rounds: number;
  log: string;
  holdMs?: number;
  /** Block the whole event loop this long while holding, as a stalled process would. */
  stallMs?: number;
  /**
   * mutex: in this round (1-based), hold on until killed. The test kills the worker when
   * it says it holds that round; without this, a worker on a busy machine could finish
   * every round before the kill arrived, and die holding nothing.
   */
  holdUntilKilledIn?: number;
  /** append: the container file each round appends a line to. */
  file?: string;
  tag?: string;
}

const job = JSON.parse(process.argv[2]!) as LockJob;
const store = await openStore({ root: job.root });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (what: string) => fs.appendFileSync(job.log, `${what} ${process.pid} ${Date.now()}\n`);

for (let i = 0; i < job.rounds; i++) {
  if (job.mode === 'mutex') {
    await withNamedLock(store, job.lock, async () => {
      log('enter');
      process.stdout.write(`holding ${i}\n`);
      if (job.stallMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, job.stallMs);
      await sleep(job.holdUntilKilledIn === i + 1 ? 600_000 : (job.holdMs ?? 0));
      log('exit');
    });
  } else {
    const record = await findContainer(store, job.lock);
    await withContainerLock(store, record.id, async () => {
      const view = await containerView(store, record);
      await view.appendFile(job.file!, `${job.tag} ${i}\n`);
    });
  }
}
process.stdout.write('done\n');
