import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { tmpStore } from '../helpers/tmp-store.js';
import { writeImage } from '../helpers/image-builder.js';
import { strata } from '../helpers/cli.js';
import { findContainer } from '../../src/container/lookup.js';
import { containerView } from '../../src/container/view.js';
import { containerChanges } from '../../src/container/diff.js';
import { exportView } from '../../src/container/export.js';

/*
 * A container whose image layer (or own upper directory) went missing from the store
 * is damage: every command that needs it says which layer, and to run `strata
 * check` — not "/: No such file or directory", and not a silent exit 0.
 */
async function world(t: ExecutionContext) {
  const { store, dir } = await tmpStore(t);
  const tar = path.join(dir, 'app.tar');
  await writeImage(tar, {
    format: 'docker',
    repoTags: ['app:1'],
    layers: [
      [
        { path: 'etc/', type: 'dir' },
        { path: 'etc/hostname', content: 'app\n' },
      ],
      [{ path: 'srv/', type: 'dir' }],
    ],
  });
  t.is((await strata(store.root, ['load', '-i', tar])).code, 0);
  t.is((await strata(store.root, ['create', '--name', 'c1', 'app:1'])).code, 0);
  const record = await findContainer(store, 'c1');
  return { store, dir, record };
}

const commands = (dir: string) => [
  ['fs', 'ls', 'c1', '/'],
  ['fs', 'cat', 'c1', '/etc/hostname'],
  ['diff', 'c1'],
  ['export', '-o', path.join(dir, 'out.tar'), 'c1'],
  ['cp', 'c1:/etc', path.join(dir, 'copied')],
  ['start', 'c1'],
];

for (const [what, remove] of [
  ['its files (diff/)', 'diff'],
  ['its whole directory', 'dir'],
] as const) {
  test(`an image layer missing ${what}: each command names the layer and says to run check`, async (t) => {
    const { store, dir, record } = await world(t);
    const chainId = record.layers[0]!;
    await fs.rm(remove === 'diff' ? store.paths.layerDiff(chainId) : store.paths.layerDir(chainId), { recursive: true });
    const why = remove === 'diff' ? 'no diff directory' : 'no layer record';
    for (const args of commands(dir)) {
      // start checks the files a runtime would mount, before any record is read.
      const reason = args[0] === 'start' ? 'no diff directory' : why;
      t.deepEqual(
        await strata(store.root, args),
        {
          code: 1,
          stdout: '',
          stderr: `strata: layer ${chainId} is missing from the store (${reason}); run \`strata check\`\n`,
        },
        args.join(' '),
      );
    }
    t.is((await strata(store.root, ['ps', '-a', '--format', '{{.Status}}'])).stdout, 'Created\n', 'start did not mark it Up');
  });
}

test("a container's own layer (its upper directory) missing: each command says so and to run check", async (t) => {
  const { store, dir, record } = await world(t);
  await fs.rm(path.join(store.paths.containerDir(record.id), 'upper'), { recursive: true });
  for (const args of commands(dir)) {
    t.deepEqual(
      await strata(store.root, args),
      {
        code: 1,
        stdout: '',
        stderr: `strata: container ${record.id}: its layer (upper directory) is missing from the store; run \`strata check\`\n`,
      },
      args.join(' '),
    );
  }
  t.false(
    await fs.stat(path.join(store.paths.containerDir(record.id), 'upper')).then(
      () => true,
      () => false,
    ),
    'nothing made it again, empty',
  );
});

test('a container removed between reading its record and opening its layer is "No such container", not damage', async (t) => {
  const { store, record } = await world(t);
  // What another process's `strata rm` leaves for a command that had already read the record.
  await fs.rm(store.paths.containerDir(record.id), { recursive: true });
  const gone = `No such container: ${record.id}`;
  const attempts = {
    view: containerView(store, record),
    diff: containerChanges(store, record),
    export: exportView(store, record),
  };
  for (const [what, attempt] of Object.entries(attempts)) {
    await t.throwsAsync(attempt, { message: gone }, what);
  }
  t.deepEqual(await fs.readdir(store.paths.containersDir), [], 'nothing of the container made again');
});
