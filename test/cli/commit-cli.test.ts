/** `strata commit` through the CLI: its output, its flags and its one-line errors. */
import test from 'ava';
import { containerFromLayers } from '../helpers/container-fixture.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { strata, strataProcess } from '../helpers/cli.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { readTags } from '../../src/image/tags.js';
import { findImage } from '../../src/image/lookup.js';
import { readImageConfig } from '../../src/image/inspect.js';
import { containerDirs } from '../../src/container/record.js';

const BASE: LayerInput[] = [[{ path: 'etc/' }, { path: 'etc/hostname', content: 'box\n' }]];

test('commit prints the new image ID as docker does, and tags it', async (t) => {
  const { store, view } = await containerFromLayers(t, 'oci', BASE);
  await view.writeFile('/etc/hostname', 'changed\n');
  const result = await strata(store.root, ['commit', 'app1', 'new:1']);
  t.is(result.stderr, '');
  t.is(result.code, 0);
  t.regex(result.stdout, /^sha256:[0-9a-f]{64}\n$/);
  t.is((await readTags(store))['new:1'], result.stdout.trim());
  const viaContainer = await strata(store.root, ['container', 'commit', 'app1']);
  t.regex(viaContainer.stdout, /^sha256:[0-9a-f]{64}\n$/);
});

test('commit of a container that does not exist is one line, exit 1, and the store is unchanged', async (t) => {
  const { store } = await containerFromLayers(t, 'oci', BASE);
  const before = await snapshotContent(store.root);
  const result = await strata(store.root, ['commit', 'nosuch', 'new:1']);
  t.deepEqual(result, { code: 1, stdout: '', stderr: 'strata: No such container: nosuch\n' });
  t.deepEqual(await snapshotContent(store.root), before);
});

const refusals: [string, string[], string][] = [
  [
    'an instruction commit does not take',
    ['-c', 'RUN make'],
    'RUN is not a supported change instruction (use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)',
  ],
  ['a bad EXPOSE', ['-c', 'EXPOSE http'], 'EXPOSE: invalid port "http"'],
  [
    'an epoch that is not whole seconds',
    ['--source-date-epoch', '1.5'],
    'invalid --source-date-epoch "1.5": want whole seconds since 1970-01-01 UTC (0 to 253402300799)',
  ],
  [
    'a negative epoch',
    ['--source-date-epoch=-1'],
    'invalid --source-date-epoch "-1": want whole seconds since 1970-01-01 UTC (0 to 253402300799)',
  ],
  ['an unknown compression', ['--compression', 'zstd'], 'invalid --compression "zstd": use gzip or none'],
  ['a bad reference', [], 'invalid reference format: repository name must be lowercase'],
];

for (const [what, flags, message] of refusals) {
  test(`commit with ${what} is one line, exit 1, and the store is unchanged`, async (t) => {
    const { store, view } = await containerFromLayers(t, 'oci', BASE);
    await view.writeFile('/etc/hostname', 'changed\n');
    const before = await snapshotContent(store.root);
    const result = await strata(store.root, ['commit', ...flags, 'app1', flags.length === 0 ? 'UPPER' : 'new:1']);
    t.deepEqual(result, { code: 1, stdout: '', stderr: `strata: ${message}\n` });
    t.deepEqual(await snapshotContent(store.root), before);
  });
}

test('a .wh. name the container made is one line naming it, and the store is unchanged', async (t) => {
  const { store, view } = await containerFromLayers(t, 'overlay', BASE);
  await view.writeFile('/etc/.wh.hostname', 'not a whiteout\n');
  const before = await snapshotContent(store.root);
  const result = await strata(store.root, ['commit', 'app1', 'new:1']);
  t.deepEqual(result, {
    code: 1,
    stdout: '',
    stderr:
      'strata: /etc/.wh.hostname: a name starting with .wh. cannot be committed (in a layer it would delete files of the image below); rename or remove it\n',
  });
  t.deepEqual(await snapshotContent(store.root), before);
});

test('a socket is left out with a warning on stderr; -a, -m and -c reach the config', async (t) => {
  const { store, record } = await containerFromLayers(t, 'oci', BASE);
  execFileSync('python3', ['-c', 'import socket; socket.socket(socket.AF_UNIX).bind("s")'], { cwd: containerDirs(store, record.id).upper });
  const result = await strata(store.root, ['commit', '-a', 'me', '-m', 'why', '-c', 'USER nobody', '-c', 'ENV A=1', 'app1', 'new:1']);
  t.is(result.stderr, 'strata: warning: skipped /s (socket): a tar archive cannot hold a socket\n');
  t.is(result.code, 0);
  const config = await readImageConfig(store, await findImage(store, 'new:1'));
  t.like(config, { author: 'me', comment: 'why', config: { User: 'nobody' } });
  t.deepEqual((config.config as { Env: string[] }).Env.at(-1), 'A=1');
  t.like(config.history!.at(-1), { author: 'me', comment: 'why', empty_layer: true });
});

test('$SOURCE_DATE_EPOCH works like --source-date-epoch, which wins over it; a bad value is one line', async (t) => {
  const { store, view } = await containerFromLayers(t, 'oci', BASE);
  await view.writeFile('/etc/hostname', 'changed\n');
  const fromEnv = await strataProcess(store.root, ['commit', 'app1', 'env:1'], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  t.is(fromEnv.stderr, '');
  const fromFlag = await strata(store.root, ['commit', '--source-date-epoch', '1700000000', 'app1', 'flag:1']);
  t.is(fromEnv.stdout, fromFlag.stdout, 'the same image');
  t.is((await findImage(store, 'env:1')).created, '2023-11-14T22:13:20Z');
  const both = await strataProcess(store.root, ['commit', '--source-date-epoch', '0', 'app1', 'zero:1'], {
    env: { SOURCE_DATE_EPOCH: '1700000000' },
  });
  t.is((await findImage(store, 'zero:1')).created, '1970-01-01T00:00:00Z');
  t.is(both.code, 0);
  const before = await snapshotContent(store.root);
  const bad = await strataProcess(store.root, ['commit', 'app1', 'bad:1'], { env: { SOURCE_DATE_EPOCH: 'yesterday' } });
  t.deepEqual(
    [bad.code, bad.stdout, bad.stderr],
    [1, '', 'strata: invalid SOURCE_DATE_EPOCH "yesterday": want whole seconds since 1970-01-01 UTC (0 to 253402300799)\n'],
  );
  t.deepEqual(await snapshotContent(store.root), before);
});

test('--compression none stores the layer as a plain tar whose digest is its diffID', async (t) => {
  const { store, view } = await containerFromLayers(t, 'oci', BASE);
  await view.writeFile('/etc/hostname', 'changed\n');
  const result = await strata(store.root, ['commit', '--compression', 'none', 'app1', 'plain:1']);
  t.is(result.stderr, '');
  const top = (await findImage(store, 'plain:1')).layers.at(-1)!;
  t.is(top.blobDigest, top.diffId);
  t.is(top.blobMediaType, 'application/vnd.oci.image.layer.v1.tar');
  t.is((await fs.stat(store.paths.blob(top.blobDigest))).size, top.blobSize!);
  const gz = await strata(store.root, ['commit', 'app1', 'gz:1']);
  t.is(gz.stderr, '');
  const gzTop = (await findImage(store, 'gz:1')).layers.at(-1)!;
  t.deepEqual([gzTop.diffId, gzTop.chainId], [top.diffId, top.chainId], 'one layer, two blobs');
  t.is(gzTop.blobMediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  t.deepEqual(await fs.readdir(path.dirname(store.paths.layerDir(top.chainId))).then((d) => d.length), 2);
});
