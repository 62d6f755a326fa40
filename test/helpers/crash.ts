/**
 * Crash and signal harness: runs the real bin/strata.js, watches the fault points it
 * passes (src/store/fault-points.ts prints each one on stderr when
 * STRATA_TEST_PAUSE_AT is set), and kills or signals it at a chosen one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { repoRoot } from './cli.js';
import { openStore } from '../../src/store/root.js';
import { checkStore } from '../../src/check/check.js';
import { repairStore } from '../../src/check/repair.js';

export interface Marker {
  seq: number;
  name: string;
  at: number;
}
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Run {
  child: ChildProcess;
  markers: Marker[];
  /** Resolves with the first marker that matches, or null if the process exited first. */
  waitFor(match: (m: Marker) => boolean): Promise<Marker | null>;
  exit: Promise<Exit>;
}

const MARKER = /^strata-fault-point (\d+) (\S+)$/;

export function startStrata(
  root: string,
  args: string[],
  options: { pauseAt?: string; env?: NodeJS.ProcessEnv; stdin?: Buffer | 'pipe' } = {},
): Run {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'strata.js'), '--root', root, ...args], {
    env: { ...process.env, ...options.env, STRATA_TEST_PAUSE_AT: options.pauseAt ?? 'trace' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const markers: Marker[] = [];
  const waiters: { match: (m: Marker) => boolean; resolve: (m: Marker | null) => void }[] = [];
  const out: Buffer[] = [];
  const err: string[] = [];
  let partial = '';
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => {
    const lines = (partial + c.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const m = MARKER.exec(line);
      if (!m) {
        err.push(line);
        continue;
      }
      const marker = { seq: Number(m[1]), name: m[2]!, at: Date.now() };
      markers.push(marker);
      for (const w of [...waiters]) {
        if (w.match(marker)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(marker);
        }
      }
    }
  });
  child.stdin!.on('error', () => {}); // a killed child closes its end; that is the point
  if (options.stdin !== 'pipe') child.stdin!.end(options.stdin ?? Buffer.alloc(0));
  const exit = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w.resolve(null);
      if (partial) err.push(partial);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: err.join('\n') });
    });
  });
  return {
    child,
    markers,
    exit,
    waitFor: (match) => {
      const seen = markers.find(match);
      if (seen) return Promise.resolve(seen);
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(null);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

/**
 * Where to kill: exactly at the n-th fault point (the process is frozen there), or a
 * number of milliseconds after the CLI started its work — between points, mid-write.
 */
export type KillPoint = { hit: number } | { afterMs: number };

export interface Trace {
  hits: number;
  durationMs: number;
  names: string[];
}

/** One uninterrupted run, to learn how many fault points the operation passes and how long it takes. */
export async function traceOperation(
  root: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: Buffer | 'pipe'; feed?: (child: ChildProcess) => void } = {},
): Promise<Trace & Exit> {
  const run = startStrata(root, args, options);
  void feedOnStart(run, options.feed);
  const started = await run.waitFor((m) => m.name === 'cli.start');
  const exit = await run.exit;
  const end = Date.now();
  return { ...exit, hits: run.markers.length, durationMs: started ? end - started.at : 0, names: run.markers.map((m) => m.name) };
}

/**
 * `count` kill points spread over the operation: half frozen at fault points spread
 * evenly over every one it passes (each distinct), the rest at times spread evenly
 * over its duration, so kills also land between points and inside long writes.
 */
export function spreadKillPoints(trace: Trace, count: number): KillPoint[] {
  const atHits = Math.min(Math.ceil(count / 2), Math.max(trace.hits - 1, 0));
  const points: KillPoint[] = [];
  for (let i = 0; i < atHits; i++) points.push({ hit: 2 + Math.floor((i * (trace.hits - 1)) / atHits) }); // hit 1 is cli.start
  const timed = count - points.length;
  // The last stretch of a run is process teardown: nothing left to kill there.
  const span = trace.durationMs * 0.8;
  for (let i = 0; i < timed; i++) points.push({ afterMs: Math.round(((i + 0.5) * span) / timed) });
  return points;
}

export interface KillResult extends Exit {
  /** True when SIGKILL ended it; false when it finished before the kill point. */
  killed: boolean;
  point: KillPoint;
}

export async function killAt(
  root: string,
  args: string[],
  point: KillPoint,
  options: { env?: NodeJS.ProcessEnv; stdin?: Buffer | 'pipe'; feed?: (child: ChildProcess) => void } = {},
): Promise<KillResult> {
  const pauseAt = 'hit' in point ? String(point.hit) : 'trace';
  const run = startStrata(root, args, { ...options, pauseAt });
  void feedOnStart(run, options.feed);
  if ('hit' in point) {
    if (await run.waitFor((m) => m.seq === point.hit)) run.child.kill('SIGKILL');
  } else if (await run.waitFor((m) => m.name === 'cli.start')) {
    await new Promise((resolve) => setTimeout(resolve, point.afterMs));
    run.child.kill('SIGKILL');
  }
  const exit = await run.exit;
  return { ...exit, killed: exit.signal === 'SIGKILL', point };
}

/** Input is fed once the CLI runs, not into the pipe's buffer while node is still starting. */
async function feedOnStart(run: Run, feed?: (child: ChildProcess) => void): Promise<void> {
  if (feed && (await run.waitFor((m) => m.name === 'cli.start'))) feed(run.child);
}

/** Runs `tasks` with at most `parallel` at once, in order. */
export async function inBatches<T, R>(items: T[], parallel: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += parallel) {
    results.push(...(await Promise.all(items.slice(i, i + parallel).map((item, j) => task(item, i + j)))));
  }
  return results;
}

export function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return process.env[name] && Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * The acceptance rule after a crash: everything check reports, --repair can fix, and
 * afterwards check is clean. Returns the fixes made, for the test log.
 */
export async function assertRepairable(t: ExecutionContext, root: string, where: string): Promise<string[]> {
  const store = await openStore({ root });
  const before = await checkStore(store);
  const unfixable = before.problems.filter((p) => !p.fix);
  t.deepEqual(
    unfixable.map((p) => p.message),
    [],
    `${where}: check reports what --repair cannot fix`,
  );
  const repaired = await repairStore(store);
  t.deepEqual(
    repaired.problems.map((p) => p.message),
    [],
    `${where}: problems left after --repair`,
  );
  const after = await checkStore(store);
  t.deepEqual(
    after.problems.map((p) => p.message),
    [],
    `${where}: check is not clean after --repair`,
  );
  return repaired.fixed;
}
