/**
 * Loading the layers of one archive at once on the import pool
 * (src/layer/import-pool.ts): the layers really overlap, a corrupt layer among
 * layers being imported fails the load with its own one-line error and leaves the
 * store as it was, errors cross the thread boundary unchanged, and a SIGKILL while
 * workers are inside the import stage leaves a store that repair restores.
 */
import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { openStore } from '../../src/store/root.js';
import { removeTree } from '../../src/store/atomic.js';
import { loadImages } from '../../src/transfer/load.js';
import { checkStore } from '../../src/check/check.js';
import { deepCheckStore } from '../../src/check/deep.js';
import { digestHex } from '../../src/content/digest.js';
import { buildImageWithInfo, type LayerEntry, type OuterEntry } from '../helpers/image-builder.js';
import { strataProcess } from '../helpers/cli.js';
import { assertRepairable, startStrata } from '../helpers/crash.js';
import { snapshotContent } from '../helpers/store-snapshot.js';

const LAYERS = 6;
const CORRUPT = 3;
const ALL_AT_ONCE = { STRATA_IMPORT_WORKERS: String(LAYERS) };

/** Layer `n`: a few incompressible files, so each keeps a worker busy for a while. */
const layer = (n: number): LayerEntry[] => [
  { path: `l${n}/`, type: 'dir' },
  ...Array.from({ length: 4 }, (_, i): LayerEntry => ({ path: `l${n}/f${i}`, size: 600_000, seed: `${n}-${i}` })),
];
/** The corrupt layer is small: it is found out while the others are still being read. */
const small = (n: number): LayerEntry[] => [{ path: `l${n}`, content: `layer ${n}\n` }];

async function workDir(t: ExecutionContext): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-parallel-'));
  t.teardown(() => removeTree(dir));
  return dir;
}

interface Archive {
  file: string;
  /** The corrupt layer's blob, and the digest it is named by. */
  blob?: { entry: string; digest: string };
}

/** An OCI archive of LAYERS layers; with `corrupt`, layer CORRUPT's blob bytes are not its digest. */
async function archive(dir: string, corrupt: boolean): Promise<Archive> {
  const spec = {
    format: 'oci' as const,
    repoTags: ['par:1'],
    layers: Array.from({ length: LAYERS }, (_, n) => (n === CORRUPT ? small(n) : layer(n))),
  };
  const file = path.join(dir, corrupt ? 'corrupt.tar' : 'good.tar');
  const { image, tar } = await buildImageWithInfo(spec);
  if (!corrupt) {
    await fs.writeFile(file, tar);
    return { file };
  }
  const digest = image.layers[CORRUPT]!.digest;
  const entry = `blobs/sha256/${digestHex(digest)}`;
  const flipNearEnd = (entries: OuterEntry[]) => {
    const target = entries.find((e) => e.name === entry)!;
    const bytes = target.file ? readFileSync(target.file) : Buffer.from(target.content ?? '');
    delete target.file;
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff; // in the gzip trailer
    target.content = bytes;
    return entries;
  };
  await fs.writeFile(file, (await buildImageWithInfo({ ...spec, editEntries: flipNearEnd })).tar);
  return { file, blob: { entry, digest } };
}

test('the layers of one archive are imported at once: two workers are inside the import stage together, each frozen there', async (t) => {
  const dir = await workDir(t);
  const { file } = await archive(dir, false);
  const root = path.join(dir, 'store');
  await openStore({ root, whiteoutFormat: 'oci' });
  // The first two layers to enter the stage freeze there (the whole thread, not just its event loop).
  const run = startStrata(root, ['load', '-i', file], { pauseAt: 'layer.stage#1,layer.stage#2', env: { STRATA_IMPORT_WORKERS: '2' } });
  const stages = (): number => run.markers.filter((m) => m.name === 'layer.stage').length;
  const second = await run.waitFor((m) => m.name === 'layer.stage' && stages() === 2);
  // One layer after the other, the second stage could only begin after the first had
  // finished (layer.staged) — and the first never finishes while frozen.
  t.truthy(second, 'the second layer entered the import stage');
  t.deepEqual(
    run.markers.filter((m) => m.name === 'layer.staged'),
    [],
    'no layer finished its stage before the second began',
  );
  t.is(run.child.exitCode, null, 'still running, both frozen');
  run.child.kill('SIGKILL');
  await run.exit;
  await assertRepairable(t, root, 'after the kill');
  const again = await strataProcess(root, ['load', '-i', file], { env: { STRATA_IMPORT_WORKERS: '2' } });
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, 'Loaded image: par:1\n');
  t.deepEqual(await deepCheckStore(await openStore({ root })), []);
});

test('a corrupt layer in the middle of a many-layer archive fails the load with its one-line error while the others import, and the store is unchanged', async (t) => {
  const dir = await workDir(t);
  const { file, blob } = await archive(dir, true);
  const root = path.join(dir, 'store');
  const store = await openStore({ root, whiteoutFormat: 'oci' });
  // A store in use (its leases/ and locks/ made), holding another image.
  const baseline = path.join(dir, 'baseline.tar');
  await fs.writeFile(baseline, (await buildImageWithInfo({ format: 'oci', repoTags: ['base:1'], layers: [small(9)] })).tar);
  await loadImages(store, { path: baseline });
  const before = await snapshotContent(root);
  const run = startStrata(root, ['load', '-i', file], { env: ALL_AT_ONCE });
  const result = await run.exit;
  t.is(result.code, 1);
  const found = result.stderr.match(/found (sha256:[0-9a-f]{64})\)/)?.[1];
  t.is(result.stderr, `strata: ${file}: ${blob!.entry}: digest mismatch (expected ${blob!.digest}, found ${found})`);
  t.not(found, blob!.digest);
  t.is(result.stdout, '');
  // Every layer began its stage, and the import of at least one good layer was
  // stopped part-way: they were being imported when the corrupt one failed.
  const names = run.markers.map((m) => m.name);
  t.is(names.filter((n) => n === 'layer.stage').length, LAYERS);
  t.true(
    names.filter((n) => n === 'layer.staged').length < LAYERS - 1,
    `stages finished: ${names.filter((n) => n === 'layer.staged').length}`,
  );
  t.deepEqual(await snapshotContent(root), before, 'the store is byte-for-byte as it was');
  t.deepEqual((await checkStore(store)).problems, []);
});

test('an error from a worker is the error the same load gives on one thread: code, one-line message, file and digests', async (t) => {
  const dir = await workDir(t);
  const { file } = await archive(dir, true);
  const errors = [];
  for (const workers of [1, LAYERS]) {
    const store = await openStore({ root: path.join(dir, `store-${workers}`), whiteoutFormat: 'oci' });
    const err = (await t.throwsAsync(loadImages(store, { path: file }, { workers }))) as Error & Record<string, unknown>;
    errors.push({ name: err.name, code: err.code, message: err.message, path: err.path, expected: err.expected, found: err.found });
  }
  t.deepEqual(errors[1], errors[0]);
  t.is(errors[0]!.code, 'EINTEGRITY');
  t.false(String(errors[0]!.message).includes('\n'));
});

/** Fault points that only import workers pass, with a hit that lands in a worker's stage. */
for (const point of ['layer.stage#3', 'ingest.chunk#40', 'layer.staged#2']) {
  test(`SIGKILL while a worker is at ${point}: repair restores the store, and loading again works`, async (t) => {
    const dir = await workDir(t);
    const { file } = await archive(dir, false);
    const root = path.join(dir, 'store');
    await openStore({ root, whiteoutFormat: 'oci' });
    const [name, nth] = point.split('#') as [string, string];
    const run = startStrata(root, ['load', '-i', file], { pauseAt: point, env: { STRATA_IMPORT_WORKERS: '3' } });
    const reached = await run.waitFor((m) => m.name === name && run.markers.filter((x) => x.name === name).length === Number(nth));
    t.truthy(reached, `the load passed ${point}`);
    run.child.kill('SIGKILL');
    t.is((await run.exit).signal, 'SIGKILL');
    await assertRepairable(t, root, `killed at ${point}`);
    const again = await strataProcess(root, ['load', '-i', file], { env: { STRATA_IMPORT_WORKERS: '3' } });
    t.is(again.code, 0, again.stderr);
    t.deepEqual(await deepCheckStore(await openStore({ root })), []);
  });
}

test('a gzipped archive on stdin is spooled once and its layers are imported at once from the spool', async (t) => {
  const dir = await workDir(t);
  const { file } = await archive(dir, false);
  const root = path.join(dir, 'store');
  const run = startStrata(root, ['load'], { stdin: gzipSync(await fs.readFile(file)), env: { STRATA_IMPORT_WORKERS: '3' } });
  const result = await run.exit;
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'Loaded image: par:1\n');
  t.is(run.markers.filter((m) => m.name === 'layer.stage').length, LAYERS);
  t.deepEqual(await deepCheckStore(await openStore({ root })), []);
  t.deepEqual((await checkStore(await openStore({ root }))).problems, []);
});

test('STRATA_IMPORT_WORKERS must be a whole number: anything else is one line and exit 1, before anything is read', async (t) => {
  const dir = await workDir(t);
  const { file } = await archive(dir, false);
  const root = path.join(dir, 'store');
  for (const value of ['0', 'two', '1.5']) {
    const result = await strataProcess(root, ['load', '-i', file], { env: { STRATA_IMPORT_WORKERS: value } });
    t.is(result.code, 1);
    t.is(result.stderr, `strata: STRATA_IMPORT_WORKERS must be a whole number from 1 to 256, not "${value}"\n`);
    t.is(result.stdout, '');
  }
  await t.throwsAsync(fs.access(root), { code: 'ENOENT' }, 'no store was made');
});

test('with one lane (STRATA_IMPORT_WORKERS=1) the layers are staged one after the other: each ends before the next begins', async (t) => {
  const dir = await workDir(t);
  const { file } = await archive(dir, false);
  const root = path.join(dir, 'store');
  const run = startStrata(root, ['load', '-i', file], { env: { STRATA_IMPORT_WORKERS: '1' } });
  t.is((await run.exit).code, 0);
  const stages = run.markers.map((m) => m.name).filter((n) => n === 'layer.stage' || n === 'layer.staged');
  t.deepEqual(stages, Array.from({ length: LAYERS }, () => ['layer.stage', 'layer.staged']).flat());
});

test('Ctrl-C while workers import layers: exit 130, every worker stops, nothing is left behind', async (t) => {
  const dir = await workDir(t);
  const { file } = await archive(dir, false);
  const root = path.join(dir, 'store');
  const store = await openStore({ root, whiteoutFormat: 'oci' });
  const baseline = path.join(dir, 'baseline.tar');
  await fs.writeFile(baseline, (await buildImageWithInfo({ format: 'oci', repoTags: ['base:1'], layers: [small(9)] })).tar);
  await loadImages(store, { path: baseline });
  const before = await snapshotContent(root);
  // The second layer to start is frozen for a moment: the signal arrives while one worker reads and one is frozen.
  const run = startStrata(root, ['load', '-i', file], { pauseAt: 'layer.stage#2:200', env: { STRATA_IMPORT_WORKERS: '3' } });
  t.truthy(await run.waitFor((m) => m.name === 'layer.stage' && run.markers.filter((x) => x.name === 'layer.stage').length === 2));
  run.child.kill('SIGINT');
  const exit = await run.exit;
  t.is(exit.code, 130, exit.stderr);
  t.regex(exit.stderr, /interrupted/);
  t.is(exit.stdout, '');
  t.deepEqual(await snapshotContent(root), before, 'the store is byte-for-byte as it was');
});
