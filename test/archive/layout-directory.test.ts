import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeImageDirectory } from '../../src/archive/image-builder.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { strata } from '../helpers/cli.js';
import { writeImage, type LayerEntry } from '../helpers/image-builder.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import { testUnless } from '../helpers/skip.js';
import { commandSkipReason } from '../helpers/tools.js';

// Probed before the first test is declared: ava takes no tests after that tick.
const skopeoMissing = await commandSkipReason('skopeo', ['--version'], 'skopeo is not installed');

const run = promisify(execFile);
const layers: LayerEntry[][] = [
  [
    { path: 'etc/', type: 'dir' },
    { path: 'etc/hostname', content: 'layout\n' },
  ],
  [{ path: 'bin/tool', size: 70_000, seed: 'tool' }],
];

async function world(t: ExecutionContext) {
  const { store, dir } = await tmpStore(t);
  const layout = path.join(dir, 'layout');
  await writeImageDirectory(layout, { format: 'oci', tags: [], layers });
  // One load first, so the store has every directory a load makes (leases/, locks/).
  const baseline = path.join(dir, 'baseline.tar');
  await writeImage(baseline, { format: 'docker', repoTags: ['baseline:1'], layers: [[{ path: 'etc/', type: 'dir' }]] });
  t.is((await strata(store.root, ['load', '-i', baseline])).code, 0);
  return { root: store.root, dir, layout };
}

/** The blob file a layout's manifest names for layer `n`. */
async function layerBlob(layout: string, n: number): Promise<string> {
  const index = JSON.parse(await fs.readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const blob = (digest: string) => path.join(layout, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(await fs.readFile(blob(index.manifests[0]!.digest), 'utf8')) as { layers: Array<{ digest: string }> };
  return blob(manifest.layers[n]!.digest);
}

test('load -i DIR reads an image layout directory in place: the same image as the tar of that layout', async (t) => {
  const { root, dir, layout } = await world(t);
  const tar = path.join(dir, 'layout.tar');
  await writeImage(tar, { format: 'oci', layers });
  const fromDir = await strata(root, ['load', '-i', layout]);
  t.is(fromDir.code, 0, fromDir.stderr);
  t.regex(fromDir.stdout, /^Loaded image ID: sha256:[0-9a-f]{64}\n$/);
  t.deepEqual(await fs.readdir(path.join(root, 'ingest')), [], 'nothing was spooled or copied');
  const fromTar = await strata(root, ['load', '-i', tar]);
  t.is(fromTar.stdout, fromDir.stdout);
  t.deepEqual(await strata(root, ['check']), {
    code: 0,
    stdout: '',
    stderr: 'checked 6 blobs, 3 layers, 2 images, 1 tags, 0 containers: no problems\n',
  });
});

test('a layer blob in a layout directory that is a symlink is refused by name, and the store is unchanged', async (t) => {
  const { root, dir, layout } = await world(t);
  const blob = await layerBlob(layout, 1);
  const outside = path.join(dir, 'outside');
  await fs.rename(blob, outside);
  await fs.symlink(outside, blob);
  const before = await snapshotContent(root);
  const rel = path.relative(layout, blob);
  t.deepEqual(await strata(root, ['load', '-i', layout]), {
    code: 1,
    stdout: '',
    stderr: `strata: ${layout}: ${rel}: is a symbolic link; an image layout directory must hold its files, not links to them\n`,
  });
  // A link that stays inside the directory is no better: tools that write layouts never make one.
  await fs.unlink(blob);
  await fs.rename(outside, path.join(layout, 'copy'));
  await fs.symlink('../../copy', blob);
  t.is(
    (await strata(root, ['load', '-i', layout])).stderr,
    `strata: ${layout}: ${rel}: is a symbolic link; an image layout directory must hold its files, not links to them\n`,
  );
  t.deepEqual(await snapshotContent(root), before);
});

test('a layer blob of a layout directory whose bytes changed is a digest mismatch, as in a tar', async (t) => {
  const { root, layout } = await world(t);
  const blob = await layerBlob(layout, 0);
  const bytes = await fs.readFile(blob);
  bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
  await fs.writeFile(blob, bytes);
  const before = await snapshotContent(root);
  const result = await strata(root, ['load', '-i', layout]);
  t.is(result.code, 1);
  t.regex(result.stderr, new RegExp(`^strata: ${layout}: .*${path.basename(blob)}.*\\n$`));
  t.is(result.stderr.split('\n').length, 2, 'one line');
  t.deepEqual(await snapshotContent(root), before);
});

test('a FIFO where a blob should be is refused, not read (it would block forever)', async (t) => {
  const { root, layout } = await world(t);
  const blob = await layerBlob(layout, 0);
  await fs.unlink(blob);
  await run('mkfifo', [blob]);
  const result = await strata(root, ['load', '-i', layout]);
  t.is(result.code, 1);
  // Listed as a special file, it is no blob the archive holds: never opened.
  t.regex(
    result.stderr,
    new RegExp(
      `^strata: ${layout}: manifest sha256:[0-9a-f]{64} layers\\[0\\]: blob ${path.relative(layout, blob)} is missing from the archive\n$`,
    ),
  );
});

testUnless(skopeoMissing)('a layout directory written by skopeo copy oci-archive:… oci:DIR loads with its name', async (t) => {
  const { root, dir } = await world(t);
  const tar = path.join(dir, 'app.tar');
  await writeImage(tar, { format: 'oci', layers });
  const layout = path.join(dir, 'skopeo');
  await run('skopeo', ['copy', '--quiet', `oci-archive:${tar}`, `oci:${layout}:app:3`]);
  t.deepEqual(await strata(root, ['load', '-i', layout]), { code: 0, stdout: 'Loaded image: app:3\n', stderr: '' });
  t.is((await strata(root, ['create', '--name', 'c1', 'app:3'])).code, 0);
  t.deepEqual(await strata(root, ['fs', 'cat', 'c1', '/etc/hostname']), { code: 0, stdout: 'layout\n', stderr: '' });
});

test('O_NOFOLLOW is for layout directories only: a tarball named through a symlink still loads', async (t) => {
  const { root, dir } = await world(t);
  const tar = path.join(dir, 'app.tar');
  await writeImage(tar, { format: 'oci', repoTags: ['app:1'], layers });
  const link = path.join(dir, 'link.tar');
  await fs.symlink(tar, link);
  t.deepEqual(await strata(root, ['load', '-i', link]), { code: 0, stdout: 'Loaded image: app:1\n', stderr: '' });
});
