/** The committed layer's entries, rule by rule: xattrs, names, ownership, devices, times, sockets, mounts, refusals. */
import test from 'ava';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { bothFormats } from '../helpers/both-formats.js';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { entryLine, layerLines, topLayerTar } from '../helpers/layer-listing.js';
import { parseTar } from '../helpers/raw-tar.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { commitContainer } from '../../src/transfer/commit.js';
import { findImage } from '../../src/image/lookup.js';
import { WORKER_MIN_BYTES } from '../../src/archive/gzip-stream.js';
import { containerDirs } from '../../src/container/record.js';
import type { SkippedEntry } from '../../src/container/tree-tar.js';
import type { StrataError } from '../../src/errors.js';
import { xattr } from '../../src/xattr.js';

const BASE: LayerInput[] = [
  [
    { path: 'etc/' },
    { path: 'etc/hostname', content: 'box\n' },
    { path: 'etc/motd', content: 'welcome\n' },
    { path: 'opt/' },
    { path: 'opt/cache/' },
  ],
];

/** A v2 file capability (CAP_SETUID | CAP_NET_BIND_SERVICE): binary, with a byte past 0x7f. */
const CAPABILITY = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

const xattrRecords = (pax: Map<string, Buffer>) => [...pax].filter(([k]) => k.startsWith('SCHILY.xattr.'));

bothFormats('xattrs go in byte-exact as pax records; overlay’s and strata’s own never do', async (t, format) => {
  const { store, record, view } = await containerFromLayers(t, format, BASE);
  await view.writeFile('/cap', 'x', { mode: 0o755 });
  await view.writeFile('/etc/hostname', 'web\n');
  const upper = containerDirs(store, record.id).upper;
  const set = (rel: string, name: string, value: Buffer | string) => xattr().setAttributeSync(path.join(upper, rel), name, value);
  set('cap', 'security.capability', CAPABILITY);
  set('cap', 'user.note', Buffer.from([0xff, 0x00, 0x41]));
  set('cap', 'trusted.overlay.origin', 'handle');
  set('cap', 'user.overlay.origin', 'handle');
  set('cap', 'user.strata.meta', '{"uid":5,"gid":6}');
  set('etc', 'trusted.overlay.impure', 'y');
  set('etc', 'user.overlay.impure', 'y');
  set('', 'trusted.overlay.uuid', 'abc');

  await commitContainer(store, record, { reference: 'x:1' });
  const entries = parseTar(await topLayerTar(store, 'x:1'));
  t.deepEqual(entries.map(entryLine), ['cap file 0755 0:0 "x"', 'etc/ dir 0755 0:0', 'etc/hostname file 0644 0:0 "web\\n"']);
  t.deepEqual(xattrRecords(entries[0]!.pax), [
    ['SCHILY.xattr.security.capability', CAPABILITY],
    ['SCHILY.xattr.user.note', Buffer.from([0xff, 0x00, 0x41])],
  ]);
  t.deepEqual(xattrRecords(entries[1]!.pax), []);
});

bothFormats('long and non-ASCII names and big ids take pax records; uname and gname stay empty', async (t, format) => {
  const { store, record, view } = await containerFromLayers(t, format, BASE);
  const long = 'l'.repeat(150);
  await view.mkdir('/opt/cache/日本', { mode: 0o755 });
  await view.writeFile(`/opt/cache/日本/${long}`, 'deep\n', { mode: 0o644 });
  await view.writeFile('/big-id', 'b', { mode: 0o600 });
  await view.chown('/big-id', 3000000, 2097152);
  await commitContainer(store, record, { reference: 'x:1' });
  const entries = parseTar(await topLayerTar(store, 'x:1'));
  t.deepEqual(entries.map(entryLine), [
    'big-id file 0600 3000000:2097152 "b"',
    'opt/ dir 0755 0:0',
    'opt/cache/ dir 0755 0:0',
    'opt/cache/日本/ dir 0755 0:0',
    `opt/cache/日本/${long} file 0644 0:0 "deep\\n"`,
  ]);
  t.deepEqual(
    entries.map((e) => [...e.pax.keys()]),
    [['uid', 'gid'], [], [], ['path'], ['path']],
  );
  t.deepEqual(
    entries.map((e) => e.uname + e.gname),
    ['', '', '', '', ''],
  );
});

bothFormats('devices and fifos are kept; sockets are left out and reported', async (t, format) => {
  const { store, record, view } = await containerFromLayers(t, format, BASE);
  await view.mkdir('/dev', { mode: 0o755 });
  const upper = containerDirs(store, record.id).upper;
  execFileSync('mknod', ['-m', '666', path.join(upper, 'dev', 'null'), 'c', '1', '3']);
  execFileSync('mknod', ['-m', '660', path.join(upper, 'dev', 'loop0'), 'b', '7', '0']);
  execFileSync('mkfifo', ['-m', '600', path.join(upper, 'dev', 'pipe')]);
  // Bound by a relative name: the full path is longer than a socket address can be.
  execFileSync('python3', ['-c', 'import socket; socket.socket(socket.AF_UNIX).bind("sock")'], { cwd: path.join(upper, 'dev') });
  const skipped: SkippedEntry[] = [];
  await commitContainer(store, record, { reference: 'x:1', onSkipped: (s) => skipped.push(s) });
  t.deepEqual(await layerLines(store, 'x:1'), [
    'dev/ dir 0755 0:0',
    'dev/loop0 block 0660 0:0 7,0',
    'dev/null char 0666 0:0 1,3',
    'dev/pipe fifo 0600 0:0',
  ]);
  t.deepEqual(skipped, [{ path: '/dev/sock', type: 'socket', reason: 'a tar archive cannot hold a socket' }]);
});

bothFormats(
  'mtimes are whole seconds; with a source date epoch later ones are clamped; whiteouts and opaque markers are 0',
  async (t, format) => {
    const { store, record, view } = await containerFromLayers(t, format, BASE);
    const epoch = Date.parse('2022-01-23T12:34:56Z') / 1000;
    await view.writeFile('/before', 'b');
    await view.utimes('/before', new Date('2022-01-01T00:00:00.750Z'), new Date('2022-01-01T00:00:00.750Z'));
    await view.writeFile('/after', 'a');
    await view.rm('/etc/motd');
    await view.rm('/opt/cache', { recursive: true });
    await view.mkdir('/opt/cache');
    await commitContainer(store, record, { reference: 'x:1', sourceDateEpoch: epoch });
    const entries = parseTar(await topLayerTar(store, 'x:1'));
    t.deepEqual(
      entries.map((e) => `${e.name} ${e.mtime}`),
      [
        `after ${epoch}`,
        `before ${Date.parse('2022-01-01T00:00:00Z') / 1000}`,
        `etc/ ${epoch}`,
        'etc/.wh.motd 0',
        `opt/ ${epoch}`,
        `opt/cache/ ${epoch}`,
        'opt/cache/.wh..wh..opq 0',
      ],
    );
  },
);

bothFormats('volume and tmpfs contents and the mount targets made only for them stay out of the layer', async (t, format) => {
  const { store, record, view } = await containerFromLayers(t, format, BASE, {
    mounts: [
      { type: 'volume', name: 'data', destination: '/data', readOnly: false, anonymous: false },
      { type: 'tmpfs', destination: '/run/t' },
      { type: 'tmpfs', destination: '/opt/cache' },
      // strata binds directories only; a runtime binding a file would make a file mount point.
      { type: 'bind', source: os.tmpdir(), destination: '/etc/resolv.conf', readOnly: true },
    ],
  });
  await view.writeFile('/data/v', 'in the volume');
  await view.writeFile('/run/t/f', 'in the tmpfs');
  await view.writeFile('/keep', 'k');
  // What a runtime leaves in the upper dir: mount points it made, and files a mount hides.
  const upper = containerDirs(store, record.id).upper;
  await fs.mkdir(path.join(upper, 'data'));
  await fs.writeFile(path.join(upper, 'data', 'hidden'), 'under the mount');
  await fs.mkdir(path.join(upper, 'run', 't'), { recursive: true });
  await fs.mkdir(path.join(upper, 'opt', 'cache'), { recursive: true });
  await fs.writeFile(path.join(upper, 'opt', 'cache', 'stale'), 'under the mount');
  await fs.writeFile(path.join(upper, 'opt', 'cache', '.wh.hidden'), 'a name nothing will see');
  await fs.mkdir(path.join(upper, 'etc'), { mode: 0o755 });
  await fs.writeFile(path.join(upper, 'etc', 'resolv.conf'), '');
  await commitContainer(store, record, { reference: 'x:1' });
  // /etc and /opt/cache are the image's: they stay as parents, without what the mounts hid.
  t.deepEqual(await layerLines(store, 'x:1'), [
    'etc/ dir 0755 0:0',
    'keep file 0644 0:0 "k"',
    'opt/ dir 0755 0:0',
    'opt/cache/ dir 0755 0:0',
  ]);
});

bothFormats('a container that only made mount points commits an empty layer', async (t, format) => {
  const { store, record } = await containerFromLayers(t, format, BASE, { mounts: [{ type: 'tmpfs', destination: '/run/t' }] });
  await fs.mkdir(path.join(containerDirs(store, record.id).upper, 'run', 't'), { recursive: true });
  t.true((await commitContainer(store, record, { reference: 'x:1' })).emptyLayer);
});

test('a name the container made that starts with .wh. is refused, naming it, and the store is unchanged (overlay)', async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'overlay', BASE);
  await view.writeFile('/etc/hostname', 'web\n');
  await view.mkdir('/.wh.etc');
  const before = await snapshotContent(store.root);
  const err = (await t.throwsAsync(commitContainer(store, record, { reference: 'x:1' }))) as StrataError;
  t.is(err.code, 'ECONFLICT');
  t.is(
    err.message,
    '/.wh.etc: a name starting with .wh. cannot be committed (in a layer it would delete files of the image below); rename or remove it',
  );
  t.deepEqual(await snapshotContent(store.root), before);
});

test('a .wh. directory in an oci-encoded upper is refused too: only empty .wh. files are whiteouts there', async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'oci', BASE);
  await view.writeFile('/etc/hostname', 'web\n');
  await fs.mkdir(path.join(containerDirs(store, record.id).upper, 'etc', '.wh.conf.d'));
  const before = await snapshotContent(store.root);
  await t.throwsAsync(commitContainer(store, record), {
    message:
      '/etc/.wh.conf.d: a name starting with .wh. cannot be committed (in a layer it would delete files of the image below); rename or remove it',
  });
  t.deepEqual(await snapshotContent(store.root), before);
});

bothFormats('a refusal after the layer began to stream takes back what was stored, and the store is unchanged', async (t, format) => {
  const { store, record, view } = await containerFromLayers(t, format, BASE);
  await view.writeFile('/big', Buffer.alloc(3 * 1024 * 1024, 7));
  for (let i = 0; i < 50; i++) await view.writeFile(`/etc/f${i}`, `file ${i}\n`);
  await fs.mkdir(path.join(containerDirs(store, record.id).upper, 'zzz', '.wh.late'), { recursive: true });
  const before = await snapshotContent(store.root);
  await t.throwsAsync(commitContainer(store, record, { reference: 'x:1' }), { message: /^\/zzz\/\.wh\.late: a name starting with \.wh\./ });
  t.deepEqual(await snapshotContent(store.root), before);
});

test('a layer past the gzip worker threshold: its blob unpacks to the tar its diffID names, contents intact', async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'overlay', BASE);
  const big = Buffer.alloc(WORKER_MIN_BYTES + 3 * 1024 * 1024 + 5);
  for (let i = 0; i < big.length; i++) big[i] = (i * i + (i >> 12)) & 0xff;
  await view.writeFile('/big', big);
  for (let i = 0; i < 20; i++) await view.writeFile(`/etc/f${i}`, `file ${i}\n`);
  await commitContainer(store, record, { reference: 'x:1' });
  const tar = await topLayerTar(store, 'x:1');
  t.is(`sha256:${createHash('sha256').update(tar).digest('hex')}`, (await findImage(store, 'x:1')).layers.at(-1)!.diffId);
  const entries = parseTar(tar);
  t.is(entries.length, 22);
  t.true(entries.find((e) => e.name === 'big')!.body.equals(big));
});

test('a refusal after the layer outgrew the gzip worker threshold takes back what was stored, and the store is unchanged', async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'overlay', BASE);
  await view.writeFile('/big', Buffer.alloc(WORKER_MIN_BYTES + 4 * 1024 * 1024, 7));
  await fs.mkdir(path.join(containerDirs(store, record.id).upper, 'zzz', '.wh.late'), { recursive: true });
  const before = await snapshotContent(store.root);
  await t.throwsAsync(commitContainer(store, record, { reference: 'x:1' }), { message: /^\/zzz\/\.wh\.late: a name starting with \.wh\./ });
  t.deepEqual(await snapshotContent(store.root), before);
});

test('an interrupted commit stops with EINTERRUPTED and the store is unchanged', async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'oci', BASE);
  for (let i = 0; i < 200; i++) await view.writeFile(`/etc/f${i}`, `file ${i}\n`);
  const before = await snapshotContent(store.root);
  const controller = new AbortController();
  controller.abort();
  const err = (await t.throwsAsync(commitContainer(store, record, { reference: 'x:1', signal: controller.signal }))) as StrataError;
  t.is(err.code, 'EINTERRUPTED');
  t.deepEqual(await snapshotContent(store.root), before);
});

test('an upper written by a mount with metacopy or redirect_dir is refused rather than committed wrong', async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'overlay', BASE);
  await view.writeFile('/etc/hostname', 'web\n');
  xattr().setAttributeSync(path.join(containerDirs(store, record.id).upper, 'etc', 'hostname'), 'trusted.overlay.metacopy', '');
  const before = await snapshotContent(store.root);
  await t.throwsAsync(commitContainer(store, record), {
    message:
      '/etc/hostname: written by an overlay mount with metacopy or redirect_dir (trusted.overlay.metacopy), which a commit of the upper dir cannot express',
  });
  t.deepEqual(await snapshotContent(store.root), before);
});

test('a name that is not UTF-8 is refused with one line, and the store is unchanged', async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'overlay', BASE);
  await view.writeFile('/etc/hostname', 'web\n');
  // Made the way a process in the container could: raw bytes, here latin-1 "café".
  const upperEtc = Buffer.from(path.join(containerDirs(store, record.id).upper, 'etc/'));
  const latin1 = Buffer.concat([upperEtc, Buffer.from([0x63, 0x61, 0x66, 0xe9])]);
  const before = await snapshotContent(store.root);
  await (await fs.open(latin1, 'w')).close();
  await t.throwsAsync(commitContainer(store, record), {
    message: '"/etc/caf\u00e9": a name that is not UTF-8 cannot be committed; rename it',
  });
  await fs.unlink(latin1); // the snapshot itself reads names as UTF-8
  t.deepEqual(await snapshotContent(store.root), before);
});
