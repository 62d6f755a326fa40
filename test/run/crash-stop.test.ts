import fs from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { runSkipReason, runStore, type RunStore } from '../helpers/run-fixture.js';
import { testUnless } from '../helpers/skip.js';
import { assertRepairable, killAt, spreadKillPoints, traceOperation, type KillPoint } from '../helpers/crash.js';
import { runtimeFor } from '../../src/run/runtime.js';
import { findContainer } from '../../src/container/lookup.js';

const exec = promisify(execFile);
const maybe = testUnless(await runSkipReason());

/**
 * SIGKILL inside the commands that end a detached container's process: stop (the
 * process honours SIGTERM, or -t 0 makes it SIGKILL), rm -f, kill, and stop and rm -f
 * of a container whose monitor was SIGKILLed first (they then finish the run
 * themselves: kill, unmount, record). Killed frozen at every fault point of its own (stop, rm, kill,
 * recover, and the run's and mount's ones it passes), and at one moment between.
 * Then: check reports only what --repair fixes; the command run again finishes the
 * job; and nothing is left — no mount of the store, no runc state, no process of the
 * container, not recorded running (or gone, for rm -f).
 */
const TIMED_KILLS = 1;
const OWN_POINT = /^(stop|rm|kill|recover|run|mount|umount)\./;
// PID 1 of a pid namespace ignores signals it has no handler for: this one exits on SIGTERM.
const HONOURS_TERM = ['sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait'];
const IGNORES_TERM = ['sleep', '1000'];

interface Case {
  title: string;
  command: string[];
  /** The monitor is SIGKILLed before the operation runs. */
  orphan: boolean;
  args: string[];
  /** Run after the repair: what a user would do to end the container. */
  again: string[];
  /** The command removes the container. */
  removes: boolean;
}

const CASES: Case[] = [
  { title: 'stop', command: HONOURS_TERM, orphan: false, args: ['stop', 'c1'], again: ['stop', 'c1'], removes: false },
  {
    title: 'stop -t 0',
    command: IGNORES_TERM,
    orphan: false,
    args: ['stop', '-t', '0', 'c1'],
    again: ['stop', '-t', '0', 'c1'],
    removes: false,
  },
  { title: 'rm -f', command: IGNORES_TERM, orphan: false, args: ['rm', '-f', 'c1'], again: ['rm', '-f', 'c1'], removes: true },
  { title: 'kill', command: IGNORES_TERM, orphan: false, args: ['kill', 'c1'], again: ['stop', '-t', '0', 'c1'], removes: false },
  {
    title: 'stop of a container whose monitor died',
    command: IGNORES_TERM,
    orphan: true,
    args: ['stop', 'c1'],
    again: ['stop', 'c1'],
    removes: false,
  },
  {
    title: 'rm -f of a container whose monitor died',
    command: IGNORES_TERM,
    orphan: true,
    args: ['rm', '-f', 'c1'],
    again: ['rm', '-f', 'c1'],
    removes: true,
  },
];

interface Started {
  s: RunStore;
  /** The container's process (runc's init, PID 1 inside), as the host sees it. */
  pid: number;
}

async function startDetached(t: ExecutionContext, c: Case): Promise<Started> {
  const s = await runStore(t);
  const started = await s.cli(['run', '-d', '--name', 'c1', 'bb:1', ...c.command]);
  if (started.code !== 0) throw new Error(`run -d failed: ${started.stderr}`);
  const record = await findContainer(s.store, 'c1');
  const pid = await runningPid(s, record.id);
  if (c.orphan) {
    process.kill(record.state.supervisor!.pid, 'SIGKILL');
    // runc and the container's process outlive the monitor: that is what stop has to clean up.
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (!alive(pid)) throw new Error('the container process died with its monitor');
  }
  return { s, pid };
}

/** The monitor reports the start once runc is spawned; runc's state appears a moment later. */
async function runningPid(s: RunStore, id: string): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const state = await exec('runc', ['--root', runtimeFor(s.store).stateRoot, 'state', id]).catch(() => null);
    const parsed = state === null ? null : (JSON.parse(state.stdout) as { pid: number; status: string });
    if (parsed?.status === 'running') return parsed.pid;
    if (Date.now() > deadline) throw new Error(`container ${id} is not running under runc`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A killed process stays a zombie until its parent (runc, then init) reaps it: give that a moment. */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  return !alive(pid);
}

for (const c of CASES) {
  maybe.serial(`SIGKILL anywhere in ${c.title}: check --repair fixes all; no process, mount or runtime state is left`, async (t) => {
    const traced = await startDetached(t, c);
    const trace = await traceOperation(traced.s.root, c.args);
    t.is(trace.code, 0, trace.stderr);
    t.log(`${trace.hits} fault points: ${trace.names.join(' ')}`);
    const own = trace.names.flatMap((name, i) => (OWN_POINT.test(name) ? [{ hit: i + 1 }] : []));
    t.true(own.length > 0, `${c.title} passes none of its own fault points`);
    const kills: KillPoint[] = [...own, ...spreadKillPoints({ ...trace, hits: 0 }, TIMED_KILLS)];
    for (const point of kills) {
      const { s, pid } = await startDetached(t, c);
      const where = `${c.title} killed ${'hit' in point ? `at ${trace.names[point.hit - 1]} (#${point.hit})` : `${point.afterMs} ms in`}`;
      const killed = await killAt(s.root, c.args, point);
      if ('hit' in point) t.true(killed.killed, `${where}: not killed`);
      await assertRepairable(t, s.root, where);
      const again = await s.cli(c.again);
      t.true(again.code === 0 || again.stderr === 'strata: No such container: c1\n', `${where}: ${c.again.join(' ')}: ${again.stderr}`);
      const checked = await s.cli(['check']);
      t.is(checked.code, 0, `${where}: check after ${c.again.join(' ')}: ${checked.stdout}`);
      t.false((await fs.readFile('/proc/self/mountinfo', 'utf8')).includes(s.root), `${where}: a mount of the store is left`);
      const { stdout } = await exec('runc', ['--root', runtimeFor(s.store).stateRoot, 'list', '-q']).catch(() => ({ stdout: '' }));
      t.is(stdout, '', `${where}: runc still knows the container`);
      t.true(await goneWithin(pid, 2000), `${where}: the container's process ${pid} is alive`);
      const record = await findContainer(s.store, 'c1').catch(() => null);
      if (c.removes) t.is(record, null, `${where}: the container is still there`);
      else t.not(record?.state.status, 'running', `${where}: still recorded running`);
    }
  });
}
