import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { strata } from '../helpers/cli.js';
import { strataPeakRss } from '../helpers/peak-rss.js';
import { testUnless } from '../helpers/skip.js';
import { zstdSkipReason } from '../helpers/tools.js';
import { snapshotTree } from '../helpers/store-snapshot.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { exportContainerToFile } from '../../src/container/export.js';
import { createContainer } from '../../src/container/create.js';
import { findImage } from '../../src/image/lookup.js';
import { readBlob } from '../../src/content/read.js';
import { readTags } from '../../src/image/tags.js';
import { hostPlatform } from '../../src/archive/platform.js';
import type { Store } from '../../src/store/root.js';

const zstdMissing = await zstdSkipReason();
const MiB = 1024 * 1024;

const LAYERS: LayerInput[] = [
  [
    { path: 'bin/' },
    { path: 'bin/sh', content: '#!sh\n', mode: 0o755 },
    { path: 'bin/ash', type: 'symlink', linkname: 'sh' },
    { path: 'etc/' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { path: 'etc/gone', content: 'removed above\n' },
  ],
  [{ path: 'etc/.wh.gone' }, { path: 'etc/hostname', content: 'box\n' }, { path: 'home/user/', mode: 0o700, uid: 1000, gid: 1000 }],
];

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A store with container `app1` and its export at `dir/export.tar`. */
async function exported(t: Parameters<typeof containerFromLayers>[0]) {
  const fixture = await containerFromLayers(t, 'oci', LAYERS);
  const file = path.join(fixture.dir, 'export.tar');
  await exportContainerToFile(fixture.store, fixture.record, file);
  return { ...fixture, file, tar: await fs.readFile(file) };
}

async function configOf(store: Store, name: string): Promise<Record<string, unknown>> {
  const image = await findImage(store, name);
  return JSON.parse((await readBlob(store, image.configDigest)).toString()) as Record<string, unknown>;
}

test('importing the export of a container gives an image whose merged view exports to the same tar, named by its diffID', async (t) => {
  const { store, dir, file, tar } = await exported(t);
  const result = await strata(store.root, ['import', file, 'copy:1']);
  t.is(result.stderr, '');
  t.is(result.code, 0);
  t.regex(result.stdout, /^sha256:[0-9a-f]{64}\n$/);
  const id = result.stdout.trim();
  t.is((await readTags(store))['copy:1'], id);

  const image = await findImage(store, 'copy:1');
  t.is(image.id, id);
  t.deepEqual(
    image.layers.map((l) => l.diffId),
    [sha256(tar)],
  );
  const config = await configOf(store, 'copy:1');
  t.is(sha256(await readBlob(store, image.configDigest)), id);
  const platform = hostPlatform();
  t.deepEqual(config, {
    architecture: platform.architecture,
    config: {},
    created: config.created,
    history: [{ created: config.created, comment: `Imported from ${file}` }],
    os: platform.os,
    rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    ...(platform.variant ? { variant: platform.variant } : {}),
  });
  t.regex(String(config.created), /^\d{4}-\d\d-\d\dT/);

  const again = await createContainer(store, 'copy:1', { name: 'copy1' });
  const second = path.join(dir, 'again.tar');
  await exportContainerToFile(store, again, second);
  t.deepEqual(await fs.readFile(second), tar, 'the imported image exports byte for byte as the container it came from');
});

test('a gzip tar from stdin has the diffID of the plain tar, and Docker\'s "Imported from -" comment', async (t) => {
  const { store, tar } = await exported(t);
  const result = await strata(store.root, ['import', '-'], { stdin: zlib.gzipSync(tar) });
  t.is(result.stderr, '');
  const id = result.stdout.trim();
  const config = (await configOf(store, id)) as { rootfs: { diff_ids: string[] }; history: unknown[] };
  t.deepEqual(config.rootfs.diff_ids, [sha256(tar)]);
  t.deepEqual(config.history, [{ created: (config as { created?: string }).created, comment: 'Imported from -' }]);
  t.deepEqual(await readTags(store), { 'app:1': (await findImage(store, 'app:1')).id });
});

testUnless(zstdMissing)('a zstd tar imports with the diffID of the plain tar', async (t) => {
  const { store, dir, tar } = await exported(t);
  const file = path.join(dir, 'export.tar.zst');
  execFileSync('zstd', ['-q', '-o', file, path.join(dir, 'export.tar')]);
  const result = await strata(store.root, ['import', '-m', 'from zstd', file, 'z']);
  t.is(result.stderr, '');
  const config = (await configOf(store, 'z:latest')) as { rootfs: { diff_ids: string[] }; history: { comment: string }[] };
  t.deepEqual(config.rootfs.diff_ids, [sha256(tar)]);
  t.is(config.history[0]!.comment, 'from zstd');
});

test('-c instructions land in the image config (through `image import`)', async (t) => {
  const { store, file } = await exported(t);
  const result = await strata(store.root, [
    'image',
    'import',
    '-c',
    'ENV PATH=/usr/bin:/bin "GREETING=hello world"',
    '-c',
    'ENV HOME /root',
    '-c',
    'CMD echo hi',
    '-c',
    'ENTRYPOINT ["/bin/sh", "-e"]',
    '-c',
    'WORKDIR /srv',
    '-c',
    'USER 1000:1000',
    '-c',
    'EXPOSE 80 53/udp',
    '-c',
    'LABEL a=1 b="two words"',
    file,
    'configured',
  ]);
  t.is(result.stderr, '');
  t.deepEqual((await configOf(store, 'configured')).config, {
    Env: ['PATH=/usr/bin:/bin', 'GREETING=hello world', 'HOME=/root'],
    Cmd: ['/bin/sh', '-c', 'echo hi'],
    Entrypoint: ['/bin/sh', '-e'],
    WorkingDir: '/srv',
    User: '1000:1000',
    ExposedPorts: { '80/tcp': {}, '53/udp': {} },
    Labels: { a: '1', b: 'two words' },
  });
});

test('an unknown instruction is one line naming it, before anything is stored', async (t) => {
  const { store, file } = await exported(t);
  const before = await snapshotTree(store.root);
  const result = await strata(store.root, ['import', '-c', 'RUN make', file]);
  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.is(
    result.stderr,
    'strata: RUN is not a supported change instruction (use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR)\n',
  );
  t.deepEqual(await snapshotTree(store.root), before);
});

test('input that is not a tar is one line and leaves the store as it was', async (t) => {
  const { store, dir } = await exported(t);
  const file = path.join(dir, 'notes.txt');
  await fs.writeFile(file, 'these are not the bytes of a tar archive\n'.repeat(40));
  const before = await snapshotTree(store.root);
  const result = await strata(store.root, ['import', file, 'bad']);
  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.is(result.stderr, `strata: ${file}: tar header at byte 0: not a valid tar stream (checksum field "f a tar " is not an octal number)\n`);
  t.deepEqual(await snapshotTree(store.root), before);
});

test('a gzip stream cut short is one line and leaves the store as it was', async (t) => {
  const { store, tar } = await exported(t);
  const gz = zlib.gzipSync(tar);
  const before = await snapshotTree(store.root);
  const result = await strata(store.root, ['import', '-', 'cut'], { stdin: gz.subarray(0, gz.length - 40) });
  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.is(result.stderr.split('\n').length, 2, result.stderr);
  t.true(result.stderr.startsWith('strata: -: '), result.stderr);
  t.deepEqual(await snapshotTree(store.root), before);
});

test('a failure after the layer is stored (tags cannot be read) takes the layer and blobs back', async (t) => {
  const { store, file } = await exported(t);
  const tags = path.join(store.root, 'tags.json');
  await fs.rm(tags, { force: true });
  await fs.mkdir(tags);
  const before = await snapshotTree(store.root);
  const result = await strata(store.root, ['import', file, 'late']);
  t.is(result.code, 1);
  t.is(result.stdout, '');
  // Only the publish step reads tags.json: the layer and config were stored by then.
  t.is(result.stderr, `strata: ${file}: EISDIR: illegal operation on a directory, read\n`);
  t.deepEqual(await snapshotTree(store.root), before);
});

test('importing the same tar twice makes two images on one stored layer, and removing one keeps the other whole', async (t) => {
  const { store, file, tar } = await exported(t);
  const first = (await strata(store.root, ['import', file, 'one'])).stdout.trim();
  const second = await strata(store.root, ['import', file, 'two']);
  t.is(second.stderr, '');
  const one = await findImage(store, 'one');
  const two = await findImage(store, 'two');
  t.is(one.id, first);
  t.is(two.id, second.stdout.trim());
  t.deepEqual(one.layers, two.layers);
  t.is((await strata(store.root, ['rmi', 'one'])).code, 0);
  const box = await createContainer(store, 'two', { name: 'two1' });
  const out = path.join(path.dirname(file), 'two.tar');
  await exportContainerToFile(store, box, out);
  t.deepEqual(await fs.readFile(out), tar);
});

test('a terminal on stdin is refused with one line', async (t) => {
  const { store } = await exported(t);
  const stdin = Object.assign(new (await import('node:stream')).PassThrough(), { isTTY: true });
  const result = await strata(store.root, ['import', '-'], { stdin });
  t.is(result.code, 1);
  t.is(result.stderr, 'strata: requested import from stdin, but stdin is a terminal: pipe a tar in or name a file\n');
});

/**
 * moby's TestImportExtremelyLargeImageWorks: an empty tar followed by 8 GiB of zeros.
 * The full 8 GiB runs where STRATA_IMPORT_ZEROS_GIB=8 is set (.ci/run sets it): on two
 * shared cores it took 89 s (1 GiB: 7 s), more than a developer's `npm test` should
 * spend on one test, which runs 1 GiB instead. Either way the zeros come from a
 * generator through stdin: no file of that size exists, and the store must stream them
 * (and stores the 8 GiB blob: the input is a plain tar, kept as given).
 */
const ZEROS_GIB = Number(process.env.STRATA_IMPORT_ZEROS_GIB ?? 1);
if (!Number.isInteger(ZEROS_GIB) || ZEROS_GIB < 1) throw new Error('STRATA_IMPORT_ZEROS_GIB must be a whole number of GiB, at least 1');

async function* emptyTarThenZeros(gib: number, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  const chunk = Buffer.alloc(MiB);
  const emptyTar = Buffer.alloc(1024);
  hash.update(emptyTar);
  yield emptyTar;
  for (let i = 0; i < gib * 1024; i++) {
    hash.update(chunk);
    yield chunk;
  }
}

const fullSizeNote = ZEROS_GIB < 8 ? ' (8 GiB where STRATA_IMPORT_ZEROS_GIB=8, as .ci/run sets it)' : '';
test(`a 1024-byte empty tar followed by ${ZEROS_GIB} GiB of zeros${fullSizeNote} imports from stdin with peak RSS under 300 MiB`, async (t) => {
  const { store } = await exported(t);
  const hash = createHash('sha256');
  const run = await strataPeakRss(store.root, ['import', '-', 'zeros'], { stdin: emptyTarThenZeros(ZEROS_GIB, hash) });
  t.log(`${ZEROS_GIB} GiB imported in ${run.wallS.toFixed(1)} s, peak RSS ${run.peakRssMiB.toFixed(0)} MiB`);
  t.is(run.stderr, '');
  t.is(run.code, 0);
  t.true(run.peakRssMiB < 300, `peak RSS ${Math.round(run.peakRssMiB)} MiB, limit 300 MiB`);
  t.regex(run.stdout, /^sha256:[0-9a-f]{64}\n$/);
  const config = (await configOf(store, 'zeros')) as { rootfs: { diff_ids: string[] } };
  t.deepEqual(config.rootfs.diff_ids, [`sha256:${hash.digest('hex')}`]);
  const image = await findImage(store, 'zeros');
  t.is(image.layers[0]!.blobSize, 1024 + ZEROS_GIB * 1024 * MiB);
});
