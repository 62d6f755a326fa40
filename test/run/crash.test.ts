import fs from 'node:fs/promises';
import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runSkipReason, runStore } from '../helpers/run-fixture.js';
import { testUnless } from '../helpers/skip.js';
import { assertRepairable, killAt, spreadKillPoints, traceOperation, type KillPoint } from '../helpers/crash.js';
import { runtimeFor } from '../../src/run/runtime.js';
import { findContainer } from '../../src/container/lookup.js';

const run = promisify(execFile);
const maybe = testUnless(await runSkipReason());

/**
 * Every fault point of the run itself and of its mount, and this many kills spread
 * over the rest (store locks and record writes, which their own tests cover), half
 * of them at times, so some land inside mount(8) or runc.
 */
const SPREAD_KILLS = 6;
const ARGS = ['run', '--name', 'c1', '--tmpfs', '/scratch', 'bb:1', 'sh', '-c', 'sleep 0.3'];

maybe.serial(
  'SIGKILL anywhere in a foreground run: check --repair fixes all; no process, mount, runtime state or mount point is left',
  (t) => killEverywhere(t, ARGS, { autoRemove: false }),
);

maybe.serial(
  'SIGKILL anywhere in a foreground --rm run (removed straight after its process, mounted volatile): check --repair fixes all, as for a kept one',
  (t) => killEverywhere(t, ['run', '--rm', ...ARGS.slice(1)], { autoRemove: true }),
);

async function killEverywhere(t: ExecutionContext, args: string[], how: { autoRemove: boolean }): Promise<void> {
  const traced = await runStore(t);
  const trace = await traceOperation(traced.root, args);
  t.is(trace.code, 0, trace.stderr);
  t.log(`${trace.hits} fault points: ${trace.names.join(' ')}`);
  const own = trace.names.flatMap((name, i) => (/^(run|mount|umount|rm)\./.test(name) ? [{ hit: i + 1 }] : []));
  const kills: KillPoint[] = [...own, ...spreadKillPoints(trace, SPREAD_KILLS)];
  for (const point of kills) {
    const s = await runStore(t);
    const where = `run killed ${'hit' in point ? `at ${trace.names[point.hit - 1]} (#${point.hit})` : `${point.afterMs} ms in`}`;
    const killed = await killAt(s.root, args, point);
    if ('hit' in point) t.true(killed.killed, `${where}: not killed`);
    await assertRepairable(t, s.root, where);
    t.false((await fs.readFile('/proc/self/mountinfo', 'utf8')).includes(s.root), `${where}: a mount of the store is left`);
    const { stdout } = await run('runc', ['--root', runtimeFor(s.store).stateRoot, 'list', '-q']).catch(() => ({ stdout: '' }));
    t.is(stdout, '', `${where}: runc still knows the container`);
    const record = await findContainer(s.store, 'c1').catch(() => null);
    if (record !== null) {
      t.not(record.state.status, 'running', `${where}: still recorded running`);
      t.deepEqual(await fs.readdir(s.store.paths.container(record.id).upper), [], `${where}: mount points left in the upper`);
      // An --rm container that got as far as running is removed by the repair; only one never started is left.
      if (how.autoRemove) t.is(record.state.status, 'created', `${where}: an --rm container that ran is left`);
    }
  }
}
