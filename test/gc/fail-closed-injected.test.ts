import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openStore, type Store } from '../../src/store/root.js';
import { removeTree } from '../../src/store/atomic.js';
import { collectGarbage } from '../../src/gc/sweep.js';
import { pruneContainers, pruneImages } from '../../src/gc/prune.js';
import { removeImage } from '../../src/gc/remove-image.js';
import { loadImages } from '../../src/transfer/load.js';
import { isStrataError } from '../../src/errors.js';
import { strata } from '../helpers/cli.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import { addedPaths, buildPrunableStore, keptByRefusedRollback, type PrunableStore } from '../helpers/prunable-store.js';

/*
 * fail-closed.test.ts with an I/O error instead of a permission error, injected into
 * readdir in-process: it runs as root too, and the library calls must throw a
 * StrataError naming the directory. Serial, since the injection patches the shared
 * node:fs/promises default export that strata's modules call through.
 */
const run = promisify(execFile);

let template: Promise<{ dir: string; store: PrunableStore }> | undefined;
function storeTemplate() {
  template ??= (async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-fail-closed-'));
    return { dir, store: await buildPrunableStore(dir) };
  })();
  return template;
}

test.after.always(async () => {
  const built = await template?.catch(() => null);
  if (built) await removeTree(built.dir);
});

async function world(t: ExecutionContext): Promise<{ store: Store; broken: PrunableStore['broken'] }> {
  const tpl = await storeTemplate();
  const dir = await fs.mkdtemp(path.join(tpl.dir, 'copy-'));
  t.teardown(() => removeTree(dir));
  await run('cp', ['-a', tpl.store.root, path.join(dir, 'store')]);
  return { store: await openStore({ root: path.join(dir, 'store') }), broken: tpl.store.broken };
}

/** Until the returned function runs, listing `dir` fails with EIO. */
function readdirFails(t: ExecutionContext, dir: string): () => void {
  const readdir = fs.readdir;
  const restore = () => {
    fs.readdir = readdir;
  };
  t.teardown(restore);
  fs.readdir = (async (target: string, ...rest: unknown[]) => {
    if (path.resolve(String(target)) === dir) {
      throw Object.assign(new Error(`EIO: i/o error, scandir '${dir}'`), { code: 'EIO', errno: -5, syscall: 'scandir', path: dir });
    }
    return (readdir as (...args: unknown[]) => Promise<unknown>)(target, ...rest);
  }) as typeof fs.readdir;
  return restore;
}

const operations: Record<string, (store: Store, broken: PrunableStore['broken']) => Promise<unknown>> = {
  gc: (store) => collectGarbage(store),
  'gc --dry-run': (store) => collectGarbage(store, { dryRun: true }),
  'image prune': (store) => pruneImages(store, { all: true }),
  'container prune': (store) => pruneContainers(store),
  // The CLI composes system prune from the others; its refusal is an exit code and a line.
  'system prune': async (store) => {
    const result = await strata(store.root, ['system', 'prune', '--all', '--volumes', '--force']);
    if (result.code !== 1 || result.stdout !== '')
      throw new Error(`system prune: exit ${result.code}, stdout ${JSON.stringify(result.stdout)}`);
    const lines = result.stderr.split('\n').filter(Boolean);
    if (lines.length !== 1 || !lines[0]!.startsWith('strata: ')) throw new Error(`system prune: stderr ${JSON.stringify(result.stderr)}`);
    throw Object.assign(new Error(lines[0]!.slice('strata: '.length)), { cli: true });
  },
  rmi: (store) => removeImage(store, 'keep:1'),
  "a failed load's rollback": (store, broken) => loadImages(store, { path: broken.archive }),
};

const failing = test.macro({
  async exec(t, operation: string, part: string) {
    const { store, broken } = await world(t);
    const dir = path.join(store.root, part);
    const before = await snapshotContent(store.root);
    const restore = readdirFails(t, dir);
    const err = await operations[operation]!(store, broken).then(
      () => null,
      (e: unknown) => e as Error,
    );
    restore();
    const message = `${dir}: cannot list the store directory (Input/output error)`;
    t.is(err?.message, message);
    if (!(err as { cli?: boolean } | null)?.cli) t.true(isStrataError(err, 'EBADRECORD'), String(err));
    const after = await snapshotContent(store.root);
    if (operation === "a failed load's rollback") {
      t.deepEqual(addedPaths(before, after), keptByRefusedRollback(broken), 'only what the failed load stored is added, and it is kept');
      t.deepEqual(
        before.filter((row) => !after.includes(row)),
        [],
        'nothing that was there is removed or changed',
      );
    } else {
      t.deepEqual(after, before, 'the store is byte for byte as it was');
    }
  },
  title: (_title, operation: string, part: string) =>
    `${operation} with an I/O error listing ${part}/ throws naming it and removes nothing`,
});

for (const operation of Object.keys(operations)) {
  for (const part of ['images', 'containers', 'volumes', 'leases']) test.serial(failing, operation, part);
}
