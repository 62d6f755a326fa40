/**
 * Crash consistency: every mutating command is SIGKILLed at many points (frozen at
 * each of its fault points, and at times spread over its run), then: everything
 * `check` reports, `check --repair` fixes; check is clean after; an image whose load
 * printed success is complete; no container data written before the kill is lost;
 * and the store still works. STRATA_CRASH_POINTS (default 50) kill points per
 * operation, STRATA_CRASH_PARALLEL (default 3) processes at once.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { openStore, type Store } from '../../src/store/root.js';
import { removeTree } from '../../src/store/atomic.js';
import { loadImages } from '../../src/transfer/load.js';
import { findImage } from '../../src/image/lookup.js';
import { imageView } from '../../src/image/view.js';
import { removeImageRecord } from '../../src/image/record.js';
import { readTags, writeTags } from '../../src/image/tags.js';
import { createContainer } from '../../src/container/create.js';
import { findContainer } from '../../src/container/lookup.js';
import { listContainerRecords } from '../../src/container/record.js';
import { containerView } from '../../src/container/view.js';
import { checkStore } from '../../src/check/check.js';
import { isStrataError } from '../../src/errors.js';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import {
  assertRepairable,
  envNumber,
  killAt,
  spreadKillPoints,
  traceOperation,
  type KillPoint,
  type KillResult,
  type Trace,
} from '../helpers/crash.js';

const POINTS = envNumber('STRATA_CRASH_POINTS', 50);
const PARALLEL = envNumber('STRATA_CRASH_PARALLEL', 3);

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/os-release', content: 'ID=crash\n' },
  ...Array.from({ length: 4 }, (_, i): LayerEntry => ({ path: `usr/lib/big${i}`, size: 120_000, seed: i })),
];
const top = (variant: string): LayerEntry[] => [
  { path: 'app/', type: 'dir' },
  { path: 'app/variant', content: `${variant}\n` },
  ...Array.from({ length: 4 }, (_, i): LayerEntry => ({ path: `app/note${i}`, content: `note ${i}\n` })),
  { path: 'app/data', size: 200_000, seed: variant },
];

async function workDir(t: ExecutionContext): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-crash-'));
  t.teardown(() => removeTree(dir));
  return dir;
}

async function writeImage(dir: string, tag: string, variant: string, format: 'oci' | 'docker' = 'oci'): Promise<string> {
  const file = path.join(dir, `${variant}-${format}.tar`);
  await fs.writeFile(file, await buildImage({ format, repoTags: [tag], layers: [base, top(variant)] }));
  return file;
}

async function readText(view: { readFile(p: string): Promise<Buffer> }, p: string): Promise<string> {
  return (await view.readFile(p)).toString();
}

async function assertImageComplete(t: ExecutionContext, store: Store, ref: string, variant: string, where: string): Promise<void> {
  const image = await findImage(store, ref);
  const view = await imageView(
    store,
    image.layers.map((l) => l.chainId),
  );
  t.is(await readText(view, '/app/variant'), `${variant}\n`, `${where}: ${ref} reads back`);
  t.is((await view.stat('/usr/lib/big3')).size, 120_000, `${where}: ${ref}'s base layer is whole`);
}

/** A container and its data that no operation under test may touch. */
async function bystander(store: Store): Promise<(t: ExecutionContext, where: string) => Promise<void>> {
  const record = await createContainer(store, 'app:1', { name: 'bystander' });
  const view = await containerView(store, record);
  await view.writeFile('/bystander.txt', 'kept\n');
  await view.appendFile('/app/note0', 'appended\n');
  return async (t, where) => {
    const again = await containerView(store, await findContainer(store, 'bystander'));
    t.is(await readText(again, '/bystander.txt'), 'kept\n', `${where}: bystander data`);
    t.is(await readText(again, '/app/note0'), 'note 0\nappended\n', `${where}: bystander copy-up`);
    await assertImageComplete(t, store, 'app:1', 'app', where);
  };
}

/** Which of the PARALLEL processes of a batch runs kill point `i` (trace runs have negative `i`). */
function slot(i: number): number {
  return ((i % PARALLEL) + PARALLEL) % PARALLEL;
}

function describe(point: KillPoint, result: KillResult): string {
  const at = 'hit' in point ? `fault point #${point.hit}` : `${point.afterMs} ms`;
  return `${at} (${result.killed ? 'killed' : `finished, exit ${result.code}`})`;
}

interface Scenario {
  /**
   * Makes what one kill point's command works on; returns its arguments (and its
   * store, if not the shared one). A scenario with several `kinds` of command gets
   * each kill point's kind as `i % kinds`; trace runs get negative `i`.
   */
  setup(store: Store, i: number): Promise<string[] | { root: string; args: string[] }>;
  /** What must hold after the kill and the repair. */
  verify(t: ExecutionContext, store: Store, i: number, result: KillResult, where: string): Promise<void>;
  kinds?: number;
  /** Added to the environment of every run. */
  env?: NodeJS.ProcessEnv;
  stdin?: 'pipe';
  feed?: (child: ChildProcess, i: number) => void;
}

/**
 * One store for the whole operation: kill points run PARALLEL at a time on it, and
 * after each batch the store must recover. Crashes accumulate, as on a real machine.
 */
async function crashOperation(t: ExecutionContext, name: string, store: Store, scenario: Scenario): Promise<void> {
  const prepare = async (i: number) => {
    const made = await scenario.setup(store, i);
    return Array.isArray(made) ? { root: store.root, args: made } : made;
  };
  const kinds = scenario.kinds ?? 1;
  const byKind: KillPoint[][] = [];
  for (let k = 0; k < kinds; k++) {
    // Three uninterrupted runs; the fastest sets the time scale, so timed kills land
    // before the end even when a run is quicker than a slow first one.
    let fastest: Trace | undefined;
    for (let rep = 1; rep <= 3; rep++) {
      const i = k - kinds * rep; // ≡ k (mod kinds), and negative: never a kill point's own objects
      const traced = await prepare(i);
      const trace = await traceOperation(traced.root, traced.args, {
        ...(scenario.env ? { env: scenario.env } : {}),
        ...(scenario.stdin ? { stdin: scenario.stdin } : {}),
        ...(scenario.feed ? { feed: (child: ChildProcess) => scenario.feed!(child, i) } : {}),
      });
      t.is(trace.code, 0, trace.stderr);
      if (!fastest || trace.durationMs < fastest.durationMs) fastest = trace;
      if (rep === 3)
        t.log(
          `${name}${kinds > 1 ? ` (${traced.args.slice(0, 2).join(' ')})` : ''}: ${fastest.hits} fault points in ${fastest.durationMs} ms`,
        );
    }
    byKind.push(spreadKillPoints(fastest!, Math.ceil(POINTS / kinds)));
  }
  const points = Array.from({ length: POINTS }, (_, i) => byKind[i % kinds]![Math.floor(i / kinds)]!);
  let killed = 0;
  for (let first = 0; first < points.length; first += PARALLEL) {
    const batch = points.slice(first, first + PARALLEL).map((point, j) => ({ point, i: first + j }));
    const runs = await Promise.all(batch.map(({ i }) => prepare(i)));
    const results = await Promise.all(
      batch.map(({ point, i }, j) =>
        killAt(runs[j]!.root, runs[j]!.args, point, {
          ...(scenario.env ? { env: scenario.env } : {}),
          ...(scenario.stdin ? { stdin: scenario.stdin } : {}),
          ...(scenario.feed ? { feed: (child: ChildProcess) => scenario.feed!(child, i) } : {}),
        }),
      ),
    );
    const where = `${name} batch ${first / PARALLEL}: ${batch.map(({ point }, j) => describe(point, results[j]!)).join(', ')}`;
    for (const r of results) {
      if (r.killed) killed++;
      else t.is(r.code, 0, `${where}: ${r.stderr}`);
    }
    if (process.env.STRATA_CRASH_VERBOSE) t.log(where);
    await assertRepairable(t, store.root, where);
    for (const [j, { i }] of batch.entries()) await scenario.verify(t, store, i, results[j]!, where);
  }
  t.log(`${name}: ${killed} of ${points.length} runs killed before they finished`);
  t.true(killed >= Math.min(POINTS, 50) * 0.85, `${name}: only ${killed} runs were killed before they finished`);
  t.deepEqual((await checkStore(store)).problems, []);
}

/** Kills `load` anywhere; with `env`, as that environment runs it (the import pool's size). */
const loadKilled = test.macro(async (t, name: string, env?: NodeJS.ProcessEnv) => {
  const dir = await workDir(t);
  const store = await openStore({ root: path.join(dir, 'store'), whiteoutFormat: 'oci' });
  const tars = { oci: await writeImage(dir, 'app:1', 'app', 'oci'), docker: await writeImage(dir, 'other:1', 'other', 'docker') };
  const tarOf = (i: number) => (i % 2 === 0 ? tars.oci : tars.docker);
  const tagOf = (i: number) => (i % 2 === 0 ? ['app:1', 'app'] : ['other:1', 'other']);
  await crashOperation(t, name, store, {
    ...(env ? { env } : {}),
    // Every kill point loads into an empty store: the layers are unpacked, not reused.
    setup: async (_store, i) => {
      const root = path.join(dir, `load-${i}`);
      await openStore({ root, whiteoutFormat: 'oci' });
      return { root, args: ['load', '-i', tarOf(i)] };
    },
    verify: async (t2, _store, i, result, where) => {
      const root = path.join(dir, `load-${i}`);
      await assertRepairable(t2, root, `${where} [load-${i}]`);
      const own = await openStore({ root });
      const [ref, variant] = tagOf(i) as [string, string];
      if (result.stdout.includes(`Loaded image: ${ref}`)) await assertImageComplete(t2, own, ref, variant, where);
      await loadImages(own, { path: tarOf(i) });
      await assertImageComplete(t2, own, ref, variant, `${where}, loaded again`);
      t2.deepEqual((await checkStore(own)).problems, [], `${where}: after loading again`);
      await removeTree(root);
    },
  });
});

test.serial('load killed anywhere: repair recovers, a load that said so is complete, and loading again works', loadKilled, 'load');
// Both layers staged at once on import workers: kill points also land inside the workers.
test.serial(
  'load on two import workers killed anywhere, workers included: repair recovers, a load that said so is complete, and loading again works',
  loadKilled,
  'load (2 import workers)',
  { STRATA_IMPORT_WORKERS: '2' },
);

test.serial('create killed anywhere: repair recovers, and a container create reported exists whole', async (t) => {
  const dir = await workDir(t);
  const store = await openStore({ root: path.join(dir, 'store'), whiteoutFormat: 'oci' });
  await loadImages(store, { path: await writeImage(dir, 'app:1', 'app') });
  const intact = await bystander(store);
  await crashOperation(t, 'create', store, {
    setup: async (_s, i) => ['create', '--name', `c${i + 1}`, '-v', `vol${i + 1}:/data`, 'app:1'],
    verify: async (t2, s, i, result, where) => {
      const created = result.stdout.trim();
      const found = await findContainer(s, `c${i + 1}`).catch((err) => (isStrataError(err, 'ENOTFOUND') ? null : Promise.reject(err)));
      if (/^[0-9a-f]{64}$/.test(created)) t2.is(found?.id, created, `${where}: the container create printed exists`);
      if (found) t2.is(await readText(await containerView(s, found), '/app/variant'), 'app\n', `${where}: c${i + 1} reads its image`);
      await intact(t2, where);
    },
  });
});

test.serial('rm killed anywhere: repair recovers; the container is whole or gone, and others keep their data', async (t) => {
  const dir = await workDir(t);
  const store = await openStore({ root: path.join(dir, 'store'), whiteoutFormat: 'oci' });
  await loadImages(store, { path: await writeImage(dir, 'app:1', 'app') });
  const intact = await bystander(store);
  await crashOperation(t, 'rm', store, {
    setup: async (s, i) => {
      const record = await createContainer(s, 'app:1', { name: `r${i + 1}` });
      const view = await containerView(s, record);
      for (let f = 0; f < 40; f++) await view.writeFile(`/f${f}`, `r${i + 1} file ${f}\n`);
      return ['rm', `r${i + 1}`];
    },
    verify: async (t2, s, i, _result, where) => {
      const found = await findContainer(s, `r${i + 1}`).catch(() => null);
      if (found) t2.is(await readText(await containerView(s, found), '/f39'), `r${i + 1} file 39\n`, `${where}: r${i + 1} survived whole`);
      await intact(t2, where);
    },
  });
});

test.serial('rmi killed anywhere: repair recovers; the image is whole or gone, and what others use stays', async (t) => {
  const dir = await workDir(t);
  const store = await openStore({ root: path.join(dir, 'store'), whiteoutFormat: 'oci' });
  await loadImages(store, { path: await writeImage(dir, 'app:1', 'app') });
  const intact = await bystander(store);
  const variants = await Promise.all([0, 1, 2].map((j) => writeImage(dir, `v${j}:1`, `v${j}`)));
  await crashOperation(t, 'rmi', store, {
    setup: async (s, i) => {
      const j = slot(i); // each batch slot has its own image
      await loadImages(s, { path: variants[j]! });
      return ['rmi', `v${j}:1`];
    },
    verify: async (t2, s, i, _result, where) => {
      const j = slot(i);
      const found = await findImage(s, `v${j}:1`).catch(() => null);
      if (found) await assertImageComplete(t2, s, `v${j}:1`, `v${j}`, where);
      await intact(t2, where);
    },
  });
});

test.serial('fs writes killed anywhere: repair recovers and nothing written before the kill is lost', async (t) => {
  const dir = await workDir(t);
  const store = await openStore({ root: path.join(dir, 'store'), whiteoutFormat: 'oci' });
  await loadImages(store, { path: await writeImage(dir, 'app:1', 'app') });
  const intact = await bystander(store);
  const record = await createContainer(store, 'app:1', { name: 'writer' });
  /** What the container must still hold: files whose write finished, and appends' prefixes. */
  const written = new Map<string, string>();
  const chunk = (i: number, n: number) => `write ${i} chunk ${n} `.padEnd(4096, '.');
  // Even kill points write a new file (copying /app up first), odd ones append to a
  // lower file; writers never share a file: the batch slot picks which one.
  const target = (i: number) => (i % 2 === 0 ? `/app/w${i + 2}` : `/app/note${slot(i) + 1}`);
  await crashOperation(t, 'fs write', store, {
    kinds: 2,
    stdin: 'pipe',
    setup: async (_s, i) => ['fs', i % 2 === 0 ? 'write' : 'append', 'writer', target(i)],
    // stdin arrives in 16 pieces over ~50 ms, so timed kills land inside the write.
    feed: (child, i) => {
      let n = 0;
      const next = () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (n === 16) {
          child.stdin!.end();
          return;
        }
        child.stdin!.write(chunk(i, n++), () => setTimeout(next, 3));
      };
      next();
    },
    verify: async (t2, s, i, result, where) => {
      const view = await containerView(s, record);
      for (const [p, content] of written) {
        const now = await readText(view, p);
        if (p.startsWith('/app/note')) t2.true(now.startsWith(content), `${where}: ${p} lost data appended before the kill`);
        else t2.is(now, content, `${where}: ${p} lost data written before the kill`);
      }
      const file = target(i);
      const full = Array.from({ length: 16 }, (_, n) => chunk(i, n)).join('');
      if (result.code === 0) {
        const now = await readText(view, file);
        t2.true(now.endsWith(full), `${where}: ${file} has what the finished write wrote`);
        written.set(file, now);
      } else if (i % 2 === 1) {
        written.set(file, await readText(view, file)); // whatever got appended is now data to keep
      }
      await intact(t2, where);
    },
  });
  t.true(written.size > 0);
  t.is((await listContainerRecords(store)).length, 2);
});

test.serial('gc killed anywhere: repair recovers and gc never takes what images and containers use', async (t) => {
  const dir = await workDir(t);
  const store = await openStore({ root: path.join(dir, 'store'), whiteoutFormat: 'oci' });
  await loadImages(store, { path: await writeImage(dir, 'app:1', 'app') });
  const intact = await bystander(store);
  const variants = await Promise.all([0, 1, 2].map((j) => writeImage(dir, `g${j}:1`, `g${j}`)));
  await crashOperation(t, 'gc', store, {
    // Garbage to sweep: an image's content without its record (as a crash before the
    // record leaves it), and an old leftover.
    setup: async (s, i) => {
      const j = slot(i);
      const [loaded] = await loadImages(s, { path: variants[j]! });
      const tags = await readTags(s);
      delete tags[`g${j}:1`];
      await writeTags(s, tags);
      await removeImageRecord(s, loaded!.id);
      const leftover = path.join(s.paths.layersDir, `.tmp-crash${i + 1}`);
      await fs.mkdir(path.join(leftover, 'diff'), { recursive: true });
      await fs.writeFile(path.join(leftover, 'diff', 'half'), 'x'.repeat(1000));
      const old = new Date(Date.now() - 2 * 3600_000);
      await fs.utimes(leftover, old, old);
      return ['gc'];
    },
    verify: async (t2, _s, _i, _result, where) => intact(t2, where),
  });
});
