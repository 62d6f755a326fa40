/**
 * A program using the library (containerView, src/index.ts) and strata CLI processes
 * on one store at once. The library takes the locks the CLI takes, so neither side
 * sees the other's change half done, no change is lost, and a removal by the CLI
 * leaves the library's writes whole before it and failing with the documented error
 * after it — never a piece of a removed container or volume.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkStore } from '../../src/check/check.js';
import { isFsError, isStrataError } from '../../src/errors.js';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { strataProcess } from '../helpers/cli.js';
import { filled, filledChunks, type CliLoopCommand, type CliLoopResult } from '../helpers/cli-loop-worker.js';

const workerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'cli-loop-worker.js');
/** 16 chunks, each written with a turn of the event loop between: a change that takes a while. */
const BYTES = 256 * 1024;
/** Enough library writes to be sure the removal meets some in flight, few enough to stay quick. */
const MAX_WRITES = 400;

/** A CLI process running `commands` one after another through the CLI's entry point. */
function cliLoop(root: string, commands: CliLoopCommand[]): Promise<CliLoopResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [workerScript, JSON.stringify({ root, commands })], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`CLI worker exited ${code}: ${Buffer.concat(err).toString()}`));
      else resolve(JSON.parse(Buffer.concat(out).toString()) as CliLoopResult[]);
    });
  });
}

/** The writer whose bytes `data` is, when it is exactly one writer's whole write; else a description of the tear. */
function wholeWrite(data: Buffer): { writer: string } | { torn: string } {
  const writer = data.subarray(0, data.indexOf(10)).toString();
  if (data.equals(filled(writer, BYTES))) return { writer };
  return { torn: `${data.length} bytes starting "${writer}", not ${BYTES} bytes of it` };
}

/** `ok ×6, ENOTFOUND ×5`: the outcomes in order, repeats folded. */
function runs(outcomes: string[]): string {
  const folded: [string, number][] = [];
  for (const o of outcomes) {
    const last = folded[folded.length - 1];
    if (last?.[0] === o) last[1]++;
    else folded.push([o, 1]);
  }
  return folded.map(([o, n]) => `${o} ×${n}`).join(', ');
}

function describe(err: unknown): string {
  return err instanceof Error ? `${(err as { code?: string }).code}: ${err.message}` : String(err);
}

test('library writes and CLI fs write/append on one file: no write is seen half done, every append lands once, gc beside', async (t) => {
  const { store, view } = await containerFromLayers(
    t,
    'oci',
    [
      [
        { path: 'shared', content: 'base\n' },
        { path: 'log', content: 'base\n' },
      ],
    ],
    { name: 'box' },
  );
  const rounds = 12;
  const cliLines = (w: number) => Array.from({ length: rounds }, (_, i) => `cli${w}-${i}`);
  const workers = [0, 1].map((w) =>
    cliLoop(
      store.root,
      cliLines(w).flatMap((line): CliLoopCommand[] => [
        { args: ['fs', 'write', 'box', '/shared'], stdin: { text: line, bytes: BYTES } },
        { args: ['fs', 'append', 'box', '/log'], stdin: { text: line, bytes: line.length + 1 } },
        ...(w === 1 ? [{ args: ['gc'] }] : []),
      ]),
    ),
  );
  let cliDone = false;
  const cli = Promise.all(workers).finally(() => {
    cliDone = true;
  });

  const torn: string[] = [];
  const libLines: string[] = [];
  for (let i = 0; !cliDone || i < 10; i++) {
    await view.writeFile('/shared', filledChunks(`lib-${i}`, BYTES));
    // The first append copies the lower /log up: racing a CLI append's copy-up, one of them would be lost.
    await view.appendFile('/log', `lib-${i}\n`);
    libLines.push(`lib-${i}`);
    // Under the container's lock no writer is midway: what is read is one whole write.
    const seen = wholeWrite(await view.batch(() => view.readFile('/shared')));
    if ('torn' in seen) torn.push(seen.torn);
  }
  const results = (await cli).flat();
  t.log(`${libLines.length} library write + append rounds beside ${results.length} CLI commands`);

  t.deepEqual(torn, [], 'every read under the lock saw one whole write');
  t.deepEqual(
    results.filter((r) => r.code !== 0).map((r) => `strata ${r.args.join(' ')} → ${r.code}: ${r.stderr}`),
    [],
  );
  const shared = wholeWrite(await view.readFile('/shared'));
  t.true('writer' in shared && (shared.writer.startsWith('lib-') || shared.writer.startsWith('cli')), JSON.stringify(shared));
  const log = (await view.readFile('/log', 'utf8')).trim().split('\n');
  t.deepEqual([...log].sort(), ['base', ...libLines, ...cliLines(0), ...cliLines(1)].sort(), 'every append is there, once');
  t.is(log[0], 'base');
  t.deepEqual(
    (await checkStore(store)).problems.map((p) => p.message),
    [],
  );
});

test('strata rm -f beside a library writer: writes before it are whole, every one after fails with ENOTFOUND, nothing of the container is left', async (t) => {
  const { store, record, view } = await containerFromLayers(
    t,
    'oci',
    [
      [
        { path: 'data/', type: 'dir' },
        { path: 'data/old', content: 'old\n' },
      ],
    ],
    { name: 'box' },
  );
  // Another CLI process writes into the same container meanwhile, and gc runs beside.
  const busy = cliLoop(
    store.root,
    Array.from({ length: 30 }, (_, i) => ({ args: ['fs', 'write', 'box', `/data/cli-${i}`], stdin: { text: `cli-${i}`, bytes: BYTES } })),
  );
  const gc = strataProcess(store.root, ['gc']);
  const gone = `No such container: ${record.id}`;
  const outcomes: string[] = [];
  let removal: ReturnType<typeof strataProcess> | undefined;
  for (let i = 0; i < MAX_WRITES; i++) {
    const file = `/data/lib-${i}`;
    try {
      await view.writeFile(file, filledChunks(`lib-${i}`, BYTES));
      // Read back under the lock: the whole write, unless the container went in between.
      const back = await view
        .batch(() => view.readFile(file))
        .then(
          (data) => (data.equals(filled(`lib-${i}`, BYTES)) ? 'whole' : `${data.length} bytes`),
          (err: unknown) => (isStrataError(err, 'ENOTFOUND') && err.message === gone ? 'removed' : describe(err)),
        );
      outcomes.push(back === 'whole' ? 'ok' : `ok, read back: ${back}`);
    } catch (err) {
      outcomes.push(isStrataError(err, 'ENOTFOUND') && err.message === gone ? 'ENOTFOUND' : describe(err));
    }
    if (i === 5) removal = strataProcess(store.root, ['rm', '-f', 'box']);
    if (outcomes.filter((o) => o === 'ENOTFOUND').length >= 5) break;
  }
  t.log(runs(outcomes));
  const rm = await removal!;
  t.deepEqual([rm.code, rm.stdout, rm.stderr], [0, 'box\n', '']);
  t.is((await gc).code, 0);

  // Whole writes, then (perhaps one whose read-back met the removal) only the documented error.
  const firstGone = outcomes.findIndex((o) => o !== 'ok');
  t.true(firstGone > 5, `writes before the removal succeeded: ${runs(outcomes)}`);
  const after = outcomes.slice(firstGone);
  if (after[0] === 'ok, read back: removed') after.shift();
  t.deepEqual([...new Set(after)], ['ENOTFOUND'], runs(outcomes));

  // The CLI writer: exit 0 until the container went, then exit 1 with the same documented error.
  const writes = await busy;
  const failed = writes.findIndex((r) => r.code !== 0);
  t.true(writes.slice(0, failed < 0 ? undefined : failed).every((r) => r.code === 0 && r.stderr === ''));
  for (const r of failed < 0 ? [] : writes.slice(failed))
    t.regex(`${r.code} ${r.stderr}`, new RegExp(`^1 strata: No such container: (box|${record.id})\\n$`));

  t.deepEqual(await fs.readdir(store.paths.containersDir), [], 'no piece of the container, no trash left behind');
  t.deepEqual(
    (await checkStore(store)).problems.map((p) => p.message),
    [],
  );
});

test('strata volume rm beside a library writer into the volume: refused while in use; with -f, writes before it are whole and later ones fail ENOENT', async (t) => {
  const { store, record, view } = await containerFromLayers(
    t,
    'oci',
    [
      [
        { path: 'etc/', type: 'dir' },
        { path: 'etc/hostname', content: 'box\n' },
      ],
    ],
    {
      name: 'box',
      mounts: [{ type: 'volume', name: 'vol', destination: '/vol', readOnly: false, anonymous: false }],
    },
  );
  const busy = cliLoop(
    store.root,
    Array.from({ length: 30 }, (_, i) => ({ args: ['fs', 'write', 'box', `/vol/cli-${i}`], stdin: { text: `cli-${i}`, bytes: BYTES } })),
  );
  const outcomes: string[] = [];
  let removal: Promise<[Awaited<ReturnType<typeof strataProcess>>, Awaited<ReturnType<typeof strataProcess>>]> | undefined;
  const missing = (err: unknown, file: string) => isFsError(err, 'ENOENT') && !isStrataError(err) && err.path === file;
  for (let i = 0; i < MAX_WRITES; i++) {
    const file = `/vol/lib-${i}`;
    try {
      await view.writeFile(file, filledChunks(`lib-${i}`, BYTES));
      const back = await view
        .batch(() => view.readFile(file))
        .then(
          (data) => (data.equals(filled(`lib-${i}`, BYTES)) ? 'whole' : `${data.length} bytes`),
          (err: unknown) => (missing(err, file) ? 'removed' : describe(err)),
        );
      outcomes.push(back === 'whole' ? 'ok' : `ok, read back: ${back}`);
    } catch (err) {
      outcomes.push(missing(err, file) ? 'ENOENT' : describe(err));
    }
    if (i === 5)
      removal = strataProcess(store.root, ['volume', 'rm', 'vol']).then(async (plain) => [
        plain,
        await strataProcess(store.root, ['volume', 'rm', '-f', 'vol']),
      ]);
    if (outcomes.filter((o) => o === 'ENOENT').length >= 5) break;
  }
  t.log(runs(outcomes));
  const [plain, forced] = await removal!;
  t.deepEqual([plain.code, plain.stderr], [1, `strata: remove vol: volume is in use - [${record.id}]\n`]);
  t.deepEqual([forced.code, forced.stdout, forced.stderr], [0, 'vol\n', '']);

  const firstGone = outcomes.findIndex((o) => o !== 'ok');
  t.true(firstGone > 5, `writes before the removal succeeded: ${runs(outcomes)}`);
  const after = outcomes.slice(firstGone);
  if (after[0] === 'ok, read back: removed') after.shift();
  t.deepEqual([...new Set(after)], ['ENOENT'], runs(outcomes));

  const writes = await busy;
  const failed = writes.findIndex((r) => r.code !== 0);
  t.true(writes.slice(0, failed < 0 ? undefined : failed).every((r) => r.code === 0 && r.stderr === ''));
  for (const [i, r] of writes.entries()) {
    if (failed >= 0 && i >= failed) t.is(`${r.code} ${r.stderr}`, `1 write: can't create /vol/cli-${i}: nonexistent directory\n`);
  }

  t.deepEqual(await fs.readdir(store.paths.volumesDir), [], 'no piece of the volume, no trash left behind');
  // The container itself is unharmed: its root still takes changes.
  await view.writeFile('/etc/hostname', 'after\n');
  t.is(await view.readFile('/etc/hostname', 'utf8'), 'after\n');
  t.deepEqual(
    (await checkStore(store)).problems.map((p) => p.message),
    [],
  );
});
