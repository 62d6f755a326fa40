import test from 'ava';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { measureTree } from '../../src/layer/size.js';
import { Yielder } from '../../src/event-loop.js';

/*
 * One SIGINT/SIGTERM must end any command within a second (bin.ts re-raises it 0.8 s
 * after the first). A signal handler and that timer run only between turns of the
 * event loop, so the synchronous tree walks df, unpack, check and gc make must let the
 * loop in while they run, not only when they end.
 */
test('measureTree lets timers run while it walks, and still sums every file', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-walk-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  for (let d = 0; d < 40; d++) {
    fsSync.mkdirSync(path.join(root, `d${d}`));
    for (let f = 0; f < 500; f++) fsSync.writeFileSync(path.join(root, `d${d}`, `f${f}`), 'x');
  }
  let ticks = 0;
  let walking = true;
  const tick = () => {
    if (!walking) return;
    ticks++;
    setImmediate(tick);
  };
  setImmediate(tick);
  // A yield every millisecond: 20,000 lstat calls take far longer than that on any machine.
  const sizes = await measureTree(root, undefined, new Yielder(1));
  walking = false;
  t.is(sizes.size, 20_000);
  t.true(ticks > 1, `the event loop turned ${ticks} times during the walk`);
});
