import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { withStoreLock, withNamedLock, locksDir, type LockOwner } from '../../src/store/lock.js';
import { self, holderState } from '../../src/store/process-identity.js';
import { withContainerLock, containerLockName } from '../../src/container/lock.js';
import { containerView } from '../../src/container/view.js';
import { checkStore } from '../../src/check/check.js';
import { repairStore } from '../../src/check/repair.js';
import { isStrataError } from '../../src/errors.js';
import type { Store } from '../../src/store/root.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { startStrata } from '../helpers/crash.js';
import type { LockJob } from '../helpers/lock-worker.js';

const workerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'lock-worker.js');

interface Worker {
  pid: number;
  holding: Promise<void>;
  done: Promise<number | null>;
  killedAt: number | null;
}

/** `killWhileHolding`: SIGKILL the worker the moment it says it holds the lock for the n-th time. */
function startWorker(job: LockJob, killWhileHolding?: number): Worker {
  const full: LockJob = killWhileHolding === undefined ? job : { ...job, holdUntilKilledIn: killWhileHolding };
  const child = spawn(process.execPath, [workerScript, JSON.stringify(full)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let onHolding!: () => void;
  const worker: Worker = {
    pid: child.pid!,
    holding: new Promise<void>((resolve) => {
      onHolding = resolve;
    }),
    done: new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))),
    killedAt: null,
  };
  let held = 0;
  child.stdout.on('data', (c: Buffer) => {
    held += c.toString().split('holding').length - 1;
    if (held > 0) onHolding();
    if (killWhileHolding !== undefined && held >= killWhileHolding && worker.killedAt === null) {
      worker.killedAt = Date.now();
      child.kill('SIGKILL');
    }
  });
  return worker;
}

/** Plants a lock as another process would have left it. */
async function plantLock(store: Store, name: string, owner: Partial<LockOwner>): Promise<string> {
  const target = path.join(locksDir(store), name);
  await fs.mkdir(target, { recursive: true });
  const full: LockOwner = { ...self(), nonce: randomBytes(16).toString('hex'), acquired: new Date().toISOString(), ...owner };
  await fs.writeFile(path.join(target, 'owner.json'), JSON.stringify(full));
  return target;
}

/** A pid that belonged to a process that has exited (and was reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('close', resolve));
  return child.pid!;
}

/** Reads the enter/exit log and fails on any moment with two holders. */
async function assertNeverTwoHolders(t: ExecutionContext, log: string, killedAt: Map<number, number>): Promise<number> {
  const lines = (await fs.readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .map(([what, pid, at]) => ({ what: what!, pid: Number(pid), at: Number(at) }));
  let holder = null as { pid: number; at: number } | null;
  let entries = 0;
  for (const line of lines) {
    if (line.what === 'enter') {
      entries++;
      if (holder !== null) {
        const died = killedAt.get(holder.pid);
        t.true(
          died !== undefined && line.at >= died,
          `process ${line.pid} entered at ${line.at} while ${holder.pid} (entered ${holder.at}) still held the lock`,
        );
      }
      holder = line;
    } else {
      t.is(holder?.pid, line.pid, `process ${line.pid} left a lock it did not hold`);
      holder = null;
    }
  }
  return entries;
}

test('in one process, lock holders queue and a nested call from the holder just runs', async (t) => {
  const { store } = await tmpStore(t);
  const order: string[] = [];
  const one = withStoreLock(store, async () => {
    order.push('one in');
    await withStoreLock(store, async () => order.push('one nested'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    order.push('one out');
  });
  const two = withStoreLock(store, async () => {
    order.push('two in');
  });
  await Promise.all([one, two]);
  t.deepEqual(order, ['one in', 'one nested', 'one out', 'two in']);
  t.deepEqual(await fs.readdir(locksDir(store)), [], 'released locks leave nothing behind');
});

test('a live holder is waited for, never taken over, however long it has held the lock', async (t) => {
  const { store } = await tmpStore(t);
  // Held by this very process (pid and start time), written long ago.
  await plantLock(store, 'store', { acquired: new Date(0).toISOString() });
  const err = await t.throwsAsync(withNamedLock(store, 'store', async () => 'taken', { timeoutMs: 300 }));
  t.true(isStrataError(err, 'ELOCKED'));
  t.regex(err!.message, new RegExp(`locked by strata process ${process.pid} on `));
  // A holder on another host, or in another pid namespace, cannot be judged: waited for too.
  await fs.rm(path.join(locksDir(store), 'store'), { recursive: true });
  await plantLock(store, 'store', { pid: await deadPid(), host: `${os.hostname()}-elsewhere` });
  t.true(isStrataError(await t.throwsAsync(withNamedLock(store, 'store', async () => 'taken', { timeoutMs: 200 })), 'ELOCKED'));
});

test("a dead holder's lock is taken over: exited pid, reused pid, rebooted machine", async (t) => {
  const { store } = await tmpStore(t);
  const cases: Partial<LockOwner>[] = [
    { pid: await deadPid() },
    { start: (self().start ?? 0) + 12345 }, // this pid, but a process that started at another time
    { bootId: '00000000-0000-0000-0000-000000000000', pid: 1 },
  ];
  for (const owner of cases) {
    t.is(holderState({ ...self(), ...owner }), 'dead', JSON.stringify(owner));
    await plantLock(store, 'store', owner);
    // No waiting for a timeout: with 1 s to spare, taking it over must succeed.
    t.is(await withNamedLock(store, 'store', async () => 'taken', { timeoutMs: 1000 }), 'taken');
  }
  t.deepEqual(await fs.readdir(locksDir(store)), []);
});

test('a process that died while taking over a dead lock is taken over in turn; a live one is waited for', async (t) => {
  const { store } = await tmpStore(t);
  const dead = await deadPid();
  const nonce = 'd'.repeat(32);
  const target = await plantLock(store, 'store', { pid: dead, nonce });
  // Its claim (`break-<nonce of the dead owner>`) is there, and its maker is dead too.
  const claim = path.join(target, `break-${nonce}`);
  await fs.mkdir(claim);
  await fs.writeFile(
    path.join(claim, 'owner.json'),
    JSON.stringify({ ...self(), pid: dead, nonce: 'e'.repeat(32), acquired: new Date().toISOString() }),
  );
  t.is(await withNamedLock(store, 'store', async () => 'taken', { timeoutMs: 1000 }), 'taken');
  // A claim whose maker lives (this process, as another would be) means someone is at work: wait.
  await plantLock(store, 'store', { pid: dead, nonce });
  await fs.mkdir(claim);
  await fs.writeFile(
    path.join(claim, 'owner.json'),
    JSON.stringify({ ...self(), nonce: 'f'.repeat(32), acquired: new Date().toISOString() }),
  );
  t.true(isStrataError(await t.throwsAsync(withNamedLock(store, 'store', async () => 'taken', { timeoutMs: 300 })), 'ELOCKED'));
});

test('a holder whose event loop stalls past 10 s keeps its lock (the old mtime lock lost it)', async (t) => {
  const { store, dir } = await tmpStore(t);
  const log = path.join(dir, 'log');
  const staller = startWorker({ root: store.root, mode: 'mutex', lock: 'store', rounds: 1, log, stallMs: 11_000 });
  await staller.holding;
  const waiter = startWorker({ root: store.root, mode: 'mutex', lock: 'store', rounds: 1, log });
  t.is(await staller.done, 0);
  t.is(await waiter.done, 0);
  const lines = (await fs.readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => l.split(' '));
  t.deepEqual(
    lines.map(([what, pid]) => `${what} ${pid}`),
    [`enter ${staller.pid}`, `exit ${staller.pid}`, `enter ${waiter.pid}`, `exit ${waiter.pid}`],
  );
  t.true(Number(lines[2]![2]) - Number(lines[0]![2]) >= 11_000);
});

for (const kind of ['store', 'container'] as const) {
  test(`${kind} lock: many processes, holders killed while holding, a dead holder at the start — never two holders`, async (t) => {
    const { store, dir } = await tmpStore(t);
    const name = kind === 'store' ? 'store' : containerLockName('c'.repeat(64));
    await plantLock(store, name, { pid: await deadPid() });
    const log = path.join(dir, 'log');
    // Two of them die while holding the lock; the others must break it, one at a time.
    const workers = Array.from({ length: 6 }, (_, w) =>
      startWorker({ root: store.root, mode: 'mutex', lock: name, rounds: 6, log, holdMs: 5 }, w === 1 || w === 4 ? 2 : undefined),
    );
    const codes = await Promise.all(workers.map((w) => w.done));
    t.deepEqual(
      codes.filter((c) => c !== null),
      [0, 0, 0, 0],
    );
    const killedAt = new Map(workers.filter((w) => w.killedAt !== null).map((w) => [w.pid, w.killedAt!]));
    t.is(killedAt.size, 2);
    t.true((await assertNeverTwoHolders(t, log, killedAt)) >= 4 * 6 + 2);
    // A holder killed inside its release leaves trash: a leftover check names and repair
    // removes. Under load a killed worker can be the last to hold the lock, with nobody
    // left to take it over: then check names a stale lock, which repair breaks.
    const problems = (await checkStore(store)).problems;
    t.true(
      problems.every((p) => (p.kind === 'leftover' || p.kind === 'lock-stale') && p.fix !== undefined),
      JSON.stringify(problems),
    );
    t.deepEqual((await repairStore(store)).problems, []);
    t.deepEqual(await fs.readdir(locksDir(store)), []);
  });
}

test('processes appending to the same lower file of one container under its lock lose nothing', async (t) => {
  const { store, dir, record } = await containerFromLayers(t, 'oci', [[{ path: 'shared.log', content: 'base\n' }]], { name: 'box' });
  const workers = Array.from({ length: 4 }, (_, w) =>
    startWorker({
      root: store.root,
      mode: 'append',
      lock: 'box',
      rounds: 10,
      log: path.join(dir, 'unused'),
      file: '/shared.log',
      tag: `w${w}`,
    }),
  );
  t.deepEqual(await Promise.all(workers.map((w) => w.done)), [0, 0, 0, 0]);
  const lines = (await (await containerView(store, record)).readFile('/shared.log')).toString().trim().split('\n');
  t.is(lines[0], 'base');
  t.deepEqual(
    lines.slice(1).sort(),
    Array.from({ length: 4 }, (_, w) => Array.from({ length: 10 }, (_, i) => `w${w} ${i}`))
      .flat()
      .sort(),
  );
});

test('a container lock held by a killed fs command does not block the next one, and check --repair clears it', async (t) => {
  const { store, record } = await containerFromLayers(t, 'oci', [[{ path: 'f', content: 'x' }]], { name: 'box' });
  // As an fs command killed inside withContainerLock would leave it.
  const stale = await plantLock(store, containerLockName(record.id), { pid: await deadPid() });
  const report = await checkStore(store);
  t.deepEqual(
    report.problems.map((p) => [p.kind, p.path]),
    [['lock-stale', stale]],
  );
  t.is(await withContainerLock(store, record.id, async () => 'mine', { timeoutMs: 1000 }), 'mine');
  await plantLock(store, containerLockName(record.id), { pid: await deadPid() });
  const repaired = await repairStore(store);
  t.deepEqual(
    repaired.fixed.map((l) => l.replace(/\d+/g, 'N')),
    [`broke stale lock ${stale.replace(/\d+/g, 'N')} (held by process N, which is gone)`],
  );
  t.deepEqual(repaired.problems, []);
  // The CLI takes the store lock the same way: a gc killed while holding it blocks nobody.
  const gc = startStrata(store.root, ['gc'], { pauseAt: 'lock.acquired' });
  await gc.waitFor((m) => m.name === 'lock.acquired');
  gc.child.kill('SIGKILL');
  await gc.exit;
  t.is(await withStoreLock(store, async () => 'after gc'), 'after gc');
});

test('rm waits for an fs write in flight on the container, which then succeeds; the container goes after it', async (t) => {
  const { store } = await containerFromLayers(t, 'oci', [[{ path: 'f', content: 'x' }]], { name: 'box' });
  // The write freezes for 1.5 s right after it took the container lock.
  const write = startStrata(store.root, ['fs', 'write', 'box', '/f'], { pauseAt: 'lock.acquired#1:1500', stdin: Buffer.from('written\n') });
  t.truthy(await write.waitFor((m) => m.name === 'lock.acquired'));
  const rm = startStrata(store.root, ['rm', 'box']);
  const [wrote, removed] = await Promise.all([write.exit, rm.exit]);
  // Had rm not waited, the write would have resumed into a container already gone.
  t.is(wrote.code, 0, wrote.stderr);
  t.is(removed.code, 0, removed.stderr);
  t.deepEqual(await fs.readdir(store.paths.containersDir), []);
  t.deepEqual(await fs.readdir(locksDir(store)), []);
  t.deepEqual((await checkStore(store)).problems, []);
});
