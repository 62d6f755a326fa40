import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { removeTree } from '../../src/store/atomic.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import { addedPaths, buildPrunableStore, keptByRefusedRollback, type PrunableStore } from '../helpers/prunable-store.js';
import { handOver, sharedTempDir, strataUnprivileged, unprivilegedSkipReason } from '../helpers/unprivileged.js';
import type { CliResult } from '../helpers/cli.js';
import { testUnless } from '../helpers/skip.js';

/*
 * A store directory that cannot be listed is not an empty one. Each command that
 * decides from those listings what to remove (gc, prune, rmi, a failed load's
 * rollback) must refuse with one line naming the directory and remove nothing —
 * read as empty, images/ made a tagged image's content look unreferenced.
 *
 * The directory is made unlistable with mode 0300 (write and search, no read), as a
 * real permission error; permissions bind only an unprivileged user, so a root test
 * run drops to nobody with setpriv. fail-closed-injected.test.ts covers the same
 * table with other errors, in-process.
 */
const run = promisify(execFile);
const skipReason = await unprivilegedSkipReason();
const permissionTest = testUnless(skipReason);

/** Built once per test file and copied per test: the lease in it is this process's, so it stays live. */
let template: Promise<{ dir: string; store: PrunableStore }> | undefined;
function storeTemplate() {
  template ??= (async () => {
    const dir = await sharedTempDir('strata-fail-closed-');
    const store = await buildPrunableStore(dir);
    await handOver(store.root);
    return { dir, store };
  })();
  return template;
}

test.after.always(async () => {
  const built = await template?.catch(() => null);
  if (built) await removeTree(built.dir);
});

interface World {
  root: string;
  home: string;
  broken: PrunableStore['broken'];
}

async function world(t: ExecutionContext): Promise<World> {
  const tpl = await storeTemplate();
  const dir = await sharedTempDir('strata-fail-closed-');
  t.teardown(() => removeTree(dir));
  await run('cp', ['-a', tpl.store.root, path.join(dir, 'store')]);
  return { root: path.join(dir, 'store'), home: dir, broken: tpl.store.broken };
}

/** Runs `args` with `dir` at `mode`, then puts the directory's mode back. */
async function withMode(dir: string, mode: number, run: () => Promise<CliResult>): Promise<CliResult> {
  const was = (await fs.stat(dir)).mode & 0o7777;
  await fs.chmod(dir, mode);
  try {
    return await run();
  } finally {
    await fs.chmod(dir, was);
  }
}

/**
 * A load writes its lease (and fsyncs leases/, which needs read permission) until it
 * fails, so the directory turns unlistable only as the rollback begins: the load
 * pauses once it has released its lease, and the test changes the mode there.
 */
async function failedLoad(w: World, dir: string): Promise<CliResult> {
  const was = (await fs.stat(dir)).mode & 0o7777;
  let paused = false;
  try {
    const result = await strataUnprivileged(w.root, ['load', '-i', w.broken.archive], w.home, {
      env: { STRATA_TEST_PAUSE_AT: 'lease.released#1:3000' },
      onStderr: (text) => {
        if (paused || !/ lease\.released\n/.test(text)) return;
        paused = true;
        void fs.chmod(dir, 0o300);
      },
    });
    return {
      ...result,
      stderr: result.stderr
        .split('\n')
        .filter((l) => !l.startsWith('strata-fault-point '))
        .join('\n'),
    };
  } finally {
    await fs.chmod(dir, was);
  }
}

function refusedInOneLine(t: ExecutionContext, result: CliResult, dir: string): void {
  t.is(result.code, 1, result.stderr);
  t.deepEqual(result.stderr.split('\n').filter(Boolean), [`strata: ${dir}: cannot list the store directory (Permission denied)`]);
  t.is(result.stdout, '', 'nothing reported as removed');
}

const commands: Record<string, string[]> = {
  gc: ['gc'],
  'gc --dry-run': ['gc', '--dry-run'],
  'image prune': ['image', 'prune', '--all', '--force'],
  'container prune': ['container', 'prune', '--force'],
  'system prune': ['system', 'prune', '--all', '--volumes', '--force'],
  rmi: ['rmi', 'keep:1'],
};

const PARTS = ['images', 'containers', 'volumes', 'leases'];

const unlistable = test.macro({
  async exec(t, command: string, part: string) {
    const w = await world(t);
    const dir = path.join(w.root, part);
    const before = await snapshotContent(w.root);
    refusedInOneLine(t, await withMode(dir, 0o300, () => strataUnprivileged(w.root, commands[command]!, w.home)), dir);
    t.deepEqual(await snapshotContent(w.root), before, 'the store is byte for byte as it was');
  },
  title: (_title, command: string, part: string) =>
    `${command} with an unlistable ${part}/ refuses in one line naming it and removes nothing`,
});

for (const command of Object.keys(commands)) for (const part of PARTS) permissionTest(unlistable, command, part);

const rollback = test.macro({
  async exec(t, part: string) {
    const w = await world(t);
    const dir = path.join(w.root, part);
    const before = await snapshotContent(w.root);
    refusedInOneLine(t, await failedLoad(w, dir), dir);
    const after = await snapshotContent(w.root);
    // The load stored its first layer before the second failed; a rollback that cannot
    // tell what else needs them keeps them (gc takes them once the store is readable).
    t.deepEqual(addedPaths(before, after), keptByRefusedRollback(w.broken), 'only what the failed load stored is added, and it is kept');
    t.deepEqual(
      before.filter((row) => !after.includes(row)),
      [],
      'nothing that was there is removed or changed',
    );
  },
  title: (_title, part: string) =>
    `a failed load whose rollback finds ${part}/ unlistable refuses in one line naming it and removes nothing`,
});

for (const part of PARTS) permissionTest(rollback, part);

permissionTest('the reported case: gc --dry-run with images/ at mode 000 lists nothing for removal', async (t) => {
  const w = await world(t);
  const images = path.join(w.root, 'images');
  const before = await snapshotContent(w.root);
  refusedInOneLine(t, await withMode(images, 0o000, () => strataUnprivileged(w.root, ['gc', '--dry-run'], w.home)), images);
  t.deepEqual(await snapshotContent(w.root), before);
});

for (const args of [['check'], ['check', '--repair']]) {
  permissionTest(`${args.join(' ')} with images/ at mode 000 refuses in one line instead of dropping the tags as dangling`, async (t) => {
    const w = await world(t);
    const images = path.join(w.root, 'images');
    const before = await snapshotContent(w.root);
    refusedInOneLine(t, await withMode(images, 0o000, () => strataUnprivileged(w.root, args, w.home)), images);
    t.deepEqual(await snapshotContent(w.root), before);
    const clean = await strataUnprivileged(w.root, ['check'], w.home);
    t.is(clean.code, 0, `the store itself is sound: ${clean.stdout}${clean.stderr}`);
  });
}

permissionTest('gc with a lease file it cannot read refuses naming it, instead of sweeping what the lease protects', async (t) => {
  const w = await world(t);
  const leases = path.join(w.root, 'leases');
  const [name] = (await fs.readdir(leases)).filter((n) => n.endsWith('.json'));
  const lease = path.join(leases, name!);
  const before = await snapshotContent(w.root);
  const result = await withMode(lease, 0o000, () => strataUnprivileged(w.root, ['gc'], w.home));
  t.is(result.code, 1, result.stderr);
  t.deepEqual(result.stderr.split('\n').filter(Boolean), [`strata: ${lease}: Permission denied`]);
  t.is(result.stdout, '');
  t.deepEqual(await snapshotContent(w.root), before);
});
