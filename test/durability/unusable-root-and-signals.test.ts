import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { repoRoot, strataProcess } from '../helpers/cli.js';
import { sharedTempDir, strataUnprivileged, unprivilegedSkipReason } from '../helpers/unprivileged.js';
import { removeTree } from '../../src/store/atomic.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import { startStrata } from '../helpers/crash.js';
import { testUnless } from '../helpers/skip.js';

// Probed before the first test is declared: ava takes no tests after that tick.
const unprivilegedReason = await unprivilegedSkipReason();

/*
 * A root where no store can be made ends in one line and exit 1, at once. Node's
 * recursive mkdir used to spin forever under /proc (mkdir says ENOENT there for
 * ever), in the thread pool where no signal handler reaches it.
 */
const linuxOnly = process.platform === 'linux' ? test : test.skip;

async function timed<T>(work: Promise<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await work;
  return { result, ms: Date.now() - started };
}

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-root-'));
  t.teardown(() => removeTree(dir));
  return dir;
}

for (const root of ['/proc', '/proc/self/fd/x']) {
  linuxOnly(`--root ${root}: one line, exit 1, within a couple of seconds`, async (t) => {
    const { result, ms } = await timed(strataProcess(root, ['images']));
    t.deepEqual(
      { code: result.code, stdout: result.stdout, stderr: result.stderr },
      { code: 1, stdout: '', stderr: `strata: cannot create store ${root}: no such file or directory\n` },
    );
    t.true(ms < 3000, `took ${ms} ms`);
  });
}

test('a root below a regular file, or a regular file itself: one line, exit 1, and the file untouched', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'file');
  await fs.writeFile(file, 'not a directory\n');
  for (const root of [path.join(file, 'store'), file]) {
    const { result, ms } = await timed(strataProcess(root, ['images']));
    t.deepEqual(
      { code: result.code, stdout: result.stdout, stderr: result.stderr },
      { code: 1, stdout: '', stderr: `strata: cannot create store ${root}: not a directory\n` },
    );
    t.true(ms < 3000, `took ${ms} ms`);
  }
  t.is(await fs.readFile(file, 'utf8'), 'not a directory\n');
});

testUnless(unprivilegedReason)('a root the user cannot write to: one line naming the store, exit 1, nothing made', async (t) => {
  const dir = await sharedTempDir('strata-root-');
  t.teardown(() => removeTree(dir));
  // Owned by root, mode 0755: the unprivileged user may look but not write.
  for (const root of [dir, path.join(dir, 'store')]) {
    const { result, ms } = await timed(strataUnprivileged(root, ['images'], dir));
    t.deepEqual(result, { code: 1, stdout: '', stderr: `strata: cannot create store ${root}: permission denied\n` });
    t.true(ms < 3000, `took ${ms} ms`);
  }
  t.deepEqual(await fs.readdir(dir), []);
});

linuxOnly('one SIGTERM ends a command stuck where no abort reaches (opening a FIFO nobody writes), within a second', async (t) => {
  const dir = await tempDir(t);
  const fifo = path.join(dir, 'fifo');
  await new Promise<void>((resolve, reject) =>
    spawn('mkfifo', [fifo]).on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo: ${code}`)))),
  );
  const root = path.join(dir, 'store');
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'strata.js'), '--root', root, 'load', '-i', fifo], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  // Once the spool directory exists the load is blocked in open(2) of the FIFO.
  const ingest = path.join(root, 'ingest');
  for (let i = 0; i < 300 && (await fs.readdir(ingest).catch(() => [])).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  const sent = Date.now();
  child.kill('SIGTERM');
  const exit = await exited;
  const ms = Date.now() - sent;
  // Ended by the signal itself (a shell reports 143): Node's own exit would wait for the blocked open(2).
  t.deepEqual(exit, { code: null, signal: 'SIGTERM' });
  t.true(ms < 1500, `exited ${ms} ms after the signal`);
  t.is(stderr, 'strata: interrupted; still stopping after 0.8 s, exiting without cleaning up (`strata check --repair` finishes it)\n');
});

test('a SIGTERM to a load paused at a fault point ends it within a second of the pause', async (t) => {
  const { store, dir } = await tmpStore(t);
  const file = path.join(dir, 'app.tar.gz');
  await fs.writeFile(
    file,
    await buildImage({
      format: 'oci',
      repoTags: ['app:1'],
      outerGzip: true,
      layers: [Array.from({ length: 20 }, (_, j): LayerEntry => ({ path: `f${j}`, size: 20_000, seed: j }))],
    }),
  );
  // A frozen process (a synchronous stretch) runs no handler until it wakes; from then on, one second at most.
  const PAUSE_MS = 400;
  const run = startStrata(store.root, ['load', '-i', file], { pauseAt: `ingest.chunk#2:${PAUSE_MS}` });
  t.truthy(await run.waitFor((m) => m.name === 'ingest.chunk' && run.markers.filter((x) => x.name === 'ingest.chunk').length === 2));
  const sent = Date.now();
  run.child.kill('SIGTERM');
  const exit = await run.exit;
  const ms = Date.now() - sent;
  t.true(exit.code === 143 || exit.signal === 'SIGTERM', `ended by the signal: ${JSON.stringify(exit)}`);
  t.true(ms < PAUSE_MS + 1000, `exited ${ms} ms after the signal`);
});
