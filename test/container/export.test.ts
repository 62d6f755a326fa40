import type { ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import tar from 'tar-stream';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { bothFormats } from '../helpers/both-formats.js';
import { gnuTarSkipReason } from '../helpers/tools.js';
import { seededBytes, type LayerInput } from '../helpers/image-builder.js';
import type { CreateOptions } from '../../src/container/create.js';
import { parseTmpfsFlag, parseVolumeFlag } from '../../src/container/mount-spec.js';
import { exportContainer, exportContainerToFile, exportView } from '../../src/container/export.js';
import type { Resolver } from '../../src/resolver/resolver.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { devMajor, devMinor } from '../../src/resolver/upper-meta.js';

const gnuTarMissing = await gnuTarSkipReason();

const run = promisify(execFile);
const BIG = 3 * 1024 * 1024 + 17;

const LAYERS: LayerInput[] = [
  [
    { path: 'bin/' },
    { path: 'bin/busybox', content: '#!busybox\n', mode: 0o755 },
    { path: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { path: 'bin/su-like', content: 'su\n', mode: 0o4755 },
    { path: 'etc/' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { path: 'etc/shadow', content: 'secret\n', mode: 0o600, uid: 0, gid: 42 },
    { path: 'dev/' },
    { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    { path: 'dev/loop0', type: 'block', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
    { path: 'run/' },
    { path: 'run/pipe', type: 'fifo', mode: 0o600 },
    { path: 'home/' },
    { path: 'home/user/', mode: 0o700, uid: 1000, gid: 1000 },
    { path: 'home/user/notes', content: 'mine\n', uid: 1000, gid: 1000 },
    { path: 'home/user/notes-link', type: 'hardlink', linkname: 'home/user/notes' },
    { path: 'srv/' },
    { path: 'srv/data/' },
    { path: 'srv/data/keep.txt', content: 'keep\n' },
    { path: 'srv/big.bin', size: BIG, seed: 7 },
    { path: 'old/' },
    { path: 'old/stale.txt', content: 'stale\n' },
    { path: 'gone.txt', content: 'gone\n' },
    { path: 'tmp/', mode: 0o1777 },
  ],
  [
    { path: 'gone.txt', type: 'whiteout' },
    { path: 'old', type: 'whiteout' },
  ],
  // Re-created in a later layer without an opaque marker, as Docker writes it (buildkit#2614).
  [{ path: 'old/' }, { path: 'old/fresh.txt', content: 'fresh\n' }, { path: 'etc/hostname', content: 'app\n' }],
];

function setup(t: ExecutionContext, format: WhiteoutFormat, options: CreateOptions = {}) {
  return containerFromLayers(t, format, LAYERS, options);
}

/** Changes a running container would make: a new file, a change to a lower file, a delete, a hardlink, a new dir. */
async function change(view: Resolver): Promise<void> {
  await view.writeFile('/srv/data/new.txt', 'new\n');
  await view.appendFile('/etc/passwd', 'user:x:1000:1000::/home/user:/bin/sh\n');
  await view.unlink('/srv/data/keep.txt');
  await view.link('/srv/data/new.txt', '/srv/data/new-link');
  await view.mkdir('/srv/made', { mode: 0o750 });
  await view.symlink('/etc/passwd', '/srv/made/passwd-link');
}

interface Row {
  name: string;
  type: string;
  mode: string;
  owner: string;
  size: number;
  mtime: number;
  what: string;
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 16);

async function tarRows(data: Buffer): Promise<{ rows: Row[]; links: string[] }> {
  const extract = tar.extract();
  Readable.from([data]).pipe(extract);
  const rows: Row[] = [];
  const links: string[] = [];
  for await (const entry of extract) {
    const h = entry.header;
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    let what = '';
    let type: string = h.type;
    let size = h.size;
    if (h.type === 'file') what = sha(Buffer.concat(chunks));
    if (h.type === 'symlink') what = `-> ${h.linkname}`;
    if (h.type === 'character-device' || h.type === 'block-device') what = `${h.devmajor},${h.devminor}`;
    if (h.type === 'link') {
      // A hardlink is the same file as its target: compare it as that file.
      links.push(`${h.name} => ${h.linkname}`);
      const target = rows.find((r) => r.name === h.linkname)!;
      ({ type, what, size } = { type: 'file', what: target.what, size: target.size });
    }
    rows.push({ name: h.name, type, mode: h.mode.toString(8), owner: `${h.uid}:${h.gid}`, size, mtime: h.mtime.getTime() / 1000, what });
  }
  return { rows, links };
}

const TAR_TYPE: Record<string, string> = {
  file: 'file',
  dir: 'directory',
  symlink: 'symlink',
  fifo: 'fifo',
  char: 'character-device',
  block: 'block-device',
};

/** The merged view as export should write it, read through the resolver. */
async function viewRows(view: Resolver): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const { path: p, stats } of view.walk('/')) {
    let what = '';
    if (stats.type === 'file') what = sha(await view.readFile(p));
    if (stats.type === 'symlink') what = `-> ${await view.readlink(p)}`;
    if (stats.type === 'char' || stats.type === 'block') what = `${devMajor(stats.rdev)},${devMinor(stats.rdev)}`;
    rows.push({
      name: `${p.slice(1)}${stats.type === 'dir' ? '/' : ''}`,
      type: TAR_TYPE[stats.type]!,
      mode: stats.mode.toString(8),
      owner: `${stats.uid}:${stats.gid}`,
      size: stats.type === 'file' ? stats.size : 0,
      mtime: Math.floor(stats.mtimeMs / 1000),
      what,
    });
  }
  return rows;
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function exportBytes(...args: Parameters<typeof exportContainer>): Promise<Buffer> {
  const [store, record, , options] = args;
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await exportContainer(store, record, out, options);
  return Buffer.concat(chunks);
}

bothFormats('export holds exactly the merged view: names, types, modes, owners, sizes, times, contents and links', async (t, format) => {
  const { store, record, view } = await setup(t, format);
  await change(view);
  const { rows, links } = await tarRows(await exportBytes(store, record, new PassThrough()));
  t.deepEqual(rows, await viewRows(await exportView(store, record)));
  t.deepEqual(links, ['home/user/notes-link => home/user/notes', 'srv/data/new.txt => srv/data/new-link']);
  const byName = new Map(rows.map((r) => [r.name, r]));
  t.deepEqual(byName.get('dev/null'), {
    name: 'dev/null',
    type: 'character-device',
    mode: '666',
    owner: '0:0',
    size: 0,
    mtime: 1_700_000_000,
    what: '1,3',
  });
  t.deepEqual(byName.get('dev/loop0')?.what, '7,0');
  t.is(byName.get('dev/loop0')?.owner, '0:6');
  t.is(byName.get('run/pipe')?.type, 'fifo');
  t.is(byName.get('bin/su-like')?.mode, '4755');
  t.is(byName.get('tmp/')?.mode, '1777');
  t.is(byName.get('home/user/')?.owner, '1000:1000');
  t.is(byName.get('srv/big.bin')?.size, BIG);
  t.is(byName.get('srv/made/passwd-link')?.what, '-> /etc/passwd');
  t.is(
    byName.get('etc/passwd')?.size,
    Buffer.byteLength('root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n'),
    'the copied-up, appended passwd',
  );
});

bothFormats('export never brings back what whiteouts hide, nor a deleted directory re-created later', async (t, format) => {
  const { store, record, view } = await setup(t, format);
  await change(view);
  const names = (await tarRows(await exportBytes(store, record, new PassThrough()))).rows.map((r) => r.name);
  t.deepEqual(
    names.filter((n) => n.startsWith('old')),
    ['old/', 'old/fresh.txt'],
  );
  t.false(names.includes('gone.txt'));
  t.false(names.includes('srv/data/keep.txt'));
  t.deepEqual(
    names.filter((n) => n.includes('.wh.')),
    [],
  );
  t.false(names.some((n) => n === '' || n === './' || n.startsWith('/')));
  t.is(names[0], 'bin/');
});

bothFormats('export leaves out volumes and tmpfs mounts, showing the directory below a volume', async (t, format) => {
  // nocopy: the volume stays empty, so the image directory it hides is told apart from the volume's content.
  const { store, record, view } = await setup(t, format, {
    mounts: [parseVolumeFlag('exportvol:/srv/data:nocopy'), parseTmpfsFlag('/scratch')],
  });
  await view.writeFile('/srv/data/in-volume.txt', 'volume\n');
  await view.writeFile('/scratch/in-tmpfs.txt', 'tmpfs\n');
  t.false(await view.exists('/srv/data/keep.txt'), 'the volume hides the image directory in the container');
  const names = (await tarRows(await exportBytes(store, record, new PassThrough()))).rows.map((r) => r.name);
  t.true(names.includes('srv/data/keep.txt'));
  t.false(names.includes('srv/data/in-volume.txt'));
  t.false(names.some((n) => n.startsWith('scratch')));
});

bothFormats(
  'export is a valid archive for GNU tar',
  async (t, format) => {
    const { store, record, view, dir } = await setup(t, format);
    await change(view);
    const file = path.join(dir, 'export.tar');
    const result = await exportContainerToFile(store, record, file);
    const listing = (await run('tar', ['-tvf', file], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } })).stdout;
    const lines = listing.trimEnd().split('\n');
    t.is(lines.length, result.entries);
    t.regex(listing, /^crw-rw-rw- 0\/0 +1,3 2023-11-14 22:13 dev\/null$/m);
    t.regex(listing, /^brw-rw---- 0\/6 +7,0 2023-11-14 22:13 dev\/loop0$/m);
    t.regex(listing, /^lrwxrwxrwx 0\/0 +0 2023-11-14 22:13 bin\/sh -> busybox$/m);
    t.regex(listing, /^hrw-r--r-- 1000\/1000 +0 2023-11-14 22:13 home\/user\/notes-link link to home\/user\/notes$/m);
    t.regex(listing, new RegExp(`^-rw-r--r-- 0/0 +${BIG} 2023-11-14 22:13 srv/big.bin$`, 'm'));
    t.regex(listing, /^prw------- 0\/0 +0 2023-11-14 22:13 run\/pipe$/m);
  },
  gnuTarMissing,
);

bothFormats('export -o is atomic: a failed export leaves the old file and no temp file', async (t, format) => {
  const { store, record, dir } = await setup(t, format);
  const outDir = path.join(dir, 'out');
  await fs.mkdir(outDir);
  const file = path.join(outDir, 'app.tar');
  await fs.writeFile(file, 'previous export\n');
  const controller = new AbortController();
  controller.abort('SIGINT');
  await t.throwsAsync(exportContainerToFile(store, record, file, { signal: controller.signal }), { code: 'EINTERRUPTED' });
  t.deepEqual(await fs.readdir(outDir), ['app.tar']);
  t.is(await fs.readFile(file, 'utf8'), 'previous export\n');
  const result = await exportContainerToFile(store, record, file);
  t.deepEqual(await fs.readdir(outDir), ['app.tar']);
  const { rows } = await tarRows(await fs.readFile(file));
  t.is(rows.length, result.entries);
  t.is(rows.find((r) => r.name === 'srv/big.bin')?.what, sha(await bytesOf(seededBytes(BIG, 7))));
});
