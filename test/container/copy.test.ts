import type { ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import tar from 'tar-stream';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { bothFormats } from '../helpers/both-formats.js';
import { packTar, type LayerInput } from '../helpers/image-builder.js';
import type { CreateOptions } from '../../src/container/create.js';
import { containerChanges } from '../../src/container/diff.js';
import { parseTmpfsFlag } from '../../src/container/mount-spec.js';
import { archiveFromView, copyFromView, copyToView, extractToView, moveInView } from '../../src/container/copy.js';
import type { Resolver } from '../../src/resolver/resolver.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';

const LOWER_MTIME = 1_600_000_000;

/** Three layers: a base, one that deletes a file and a directory, one that re-creates the directory. */
const LAYERS: LayerInput[] = [
  [
    { path: 'bin/' },
    { path: 'bin/busybox', content: '#!busybox\n', mode: 0o755 },
    { path: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { path: 'etc/' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { path: 'srv/' },
    { path: 'srv/data/' },
    { path: 'srv/data/keep.txt', content: 'keep\n' },
    { path: 'srv/lower/', mode: 0o750, uid: 1000, gid: 1000, mtime: LOWER_MTIME },
    { path: 'srv/lower/a.txt', content: 'alpha\n', mode: 0o640, uid: 1000, gid: 1000, mtime: LOWER_MTIME + 1 },
    { path: 'srv/lower/hard', type: 'hardlink', linkname: 'srv/lower/a.txt' },
    { path: 'srv/lower/link', type: 'symlink', linkname: 'a.txt' },
    { path: 'srv/lower/sub/', mode: 0o700, mtime: LOWER_MTIME + 2 },
    { path: 'srv/lower/sub/b.txt', content: 'bravo\n', mode: 0o4755, mtime: LOWER_MTIME + 3 },
    { path: 'srv/special/' },
    { path: 'srv/special/pipe', type: 'fifo', mode: 0o644 },
    { path: 'old/' },
    { path: 'old/stale.txt', content: 'stale\n' },
    { path: 'gone.txt', content: 'gone\n' },
  ],
  [
    { path: 'gone.txt', type: 'whiteout' },
    { path: 'old', type: 'whiteout' },
  ],
  [{ path: 'old/' }, { path: 'old/fresh.txt', content: 'fresh\n' }],
];

function setup(t: ExecutionContext, format: WhiteoutFormat, options: CreateOptions = {}) {
  return containerFromLayers(t, format, LAYERS, options);
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 16);

/** Every entry below a view path: `rel type mode size content-or-target`, owners and times on request. */
async function viewRows(view: Resolver, root: string, opts: { owners?: boolean; times?: boolean } = {}): Promise<string[]> {
  const rows: string[] = [];
  for await (const { path: p, stats } of view.walk(root)) {
    const rel = p.slice(root.length + 1);
    let what = '';
    if (stats.type === 'file') what = sha(await view.readFile(p));
    if (stats.type === 'symlink') what = `-> ${await view.readlink(p)}`;
    rows.push(
      [
        rel,
        stats.type,
        stats.mode.toString(8),
        stats.type === 'dir' ? 0 : stats.size,
        what,
        ...(opts.owners ? [`${stats.uid}:${stats.gid}`] : []),
        ...(opts.times && stats.type !== 'symlink' ? [Math.floor(stats.mtimeMs / 1000)] : []),
      ].join(' '),
    );
  }
  return rows;
}

async function hostRows(root: string, opts: { times?: boolean } = {}, rel = ''): Promise<string[]> {
  const rows: string[] = [];
  for (const name of (await fs.readdir(path.join(root, rel))).sort()) {
    const child = rel === '' ? name : `${rel}/${name}`;
    const st = await fs.lstat(path.join(root, child));
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
    let what = '';
    if (type === 'file') what = sha(await fs.readFile(path.join(root, child)));
    if (type === 'symlink') what = `-> ${await fs.readlink(path.join(root, child))}`;
    rows.push(
      [
        child,
        type,
        (st.mode & 0o7777).toString(8),
        type === 'dir' ? 0 : st.size,
        what,
        ...(opts.times && type !== 'symlink' ? [Math.floor(st.mtimeMs / 1000)] : []),
      ].join(' '),
    );
    if (type === 'dir') rows.push(...(await hostRows(root, opts, child)));
  }
  return rows;
}

const LOWER_TREE = [
  `a.txt file 640 6 ${sha(Buffer.from('alpha\n'))}`,
  `hard file 640 6 ${sha(Buffer.from('alpha\n'))}`,
  'link symlink 777 5 -> a.txt',
  'sub dir 700 0 ',
  `sub/b.txt file 4755 6 ${sha(Buffer.from('bravo\n'))}`,
];

bothFormats('copy out writes the tree with modes, times, symlinks as links and hardlinks as one inode', async (t, format) => {
  const { dir, view } = await setup(t, format);
  const out = path.join(dir, 'out');
  await fs.mkdir(out);
  const result = await copyFromView(view, '/srv/lower', out);
  t.deepEqual(result, { entries: 6, bytes: 12, skipped: [] });
  t.deepEqual(await hostRows(path.join(out, 'lower')), LOWER_TREE);
  t.deepEqual(await hostRows(path.join(out, 'lower'), { times: true }), await viewRows(view, '/srv/lower', { times: true }));
  t.is((await fs.stat(path.join(out, 'lower'))).mode & 0o7777, 0o750);
  t.is((await fs.stat(path.join(out, 'lower'))).mtimeMs, LOWER_MTIME * 1000);
  const [a, hard] = await Promise.all([fs.stat(path.join(out, 'lower', 'a.txt')), fs.stat(path.join(out, 'lower', 'hard'))]);
  t.is(a.ino, hard.ino);
  t.is(a.nlink, 2);
});

bothFormats('copy out follows docker cp destination rules', async (t, format) => {
  const { dir, view } = await setup(t, format);
  const out = path.join(dir, 'out');
  await fs.mkdir(out);
  await copyFromView(view, '/etc/passwd', out);
  t.is(await fs.readFile(path.join(out, 'passwd'), 'utf8'), 'root:x:0:0:root:/root:/bin/sh\n');
  await copyFromView(view, '/srv/data/keep.txt', path.join(out, 'renamed'));
  t.is(await fs.readFile(path.join(out, 'renamed'), 'utf8'), 'keep\n');
  await copyFromView(view, '/srv/data/keep.txt', path.join(out, 'passwd'));
  t.is(await fs.readFile(path.join(out, 'passwd'), 'utf8'), 'keep\n', 'an existing file is replaced');
  await copyFromView(view, '/srv/lower/.', path.join(out, 'contents'));
  t.deepEqual(await hostRows(path.join(out, 'contents')), LOWER_TREE, 'dir/. into a new name copies the directory');
  await fs.mkdir(path.join(out, 'existing'));
  await copyFromView(view, '/srv/lower/.', path.join(out, 'existing'));
  t.deepEqual(await hostRows(path.join(out, 'existing')), LOWER_TREE, 'dir/. into a directory copies its contents');
  await t.throwsAsync(copyFromView(view, '/srv/lower', path.join(out, 'renamed')), { code: 'ECONFLICT' });
  await t.throwsAsync(copyFromView(view, '/etc/passwd', `${path.join(out, 'missing')}/`), { code: 'ENOTFOUND' });
  await t.throwsAsync(copyFromView(view, '/etc/nothing', out), { code: 'ENOENT' });
  await t.throwsAsync(copyFromView(view, '/etc/passwd', path.join(out, 'no', 'such', 'dir')), { code: 'ENOENT' });
});

bothFormats('copy out writes links as links and never through a link already on the host', async (t, format) => {
  const { dir, view } = await setup(t, format);
  const out = path.join(dir, 'out');
  const victim = path.join(dir, 'victim.txt');
  await fs.writeFile(victim, 'untouched\n');
  await fs.mkdir(path.join(out, 'lower'), { recursive: true });
  await fs.symlink(victim, path.join(out, 'lower', 'a.txt'));
  await copyFromView(view, '/srv/lower', out);
  t.is(await fs.readFile(victim, 'utf8'), 'untouched\n');
  t.false((await fs.lstat(path.join(out, 'lower', 'a.txt'))).isSymbolicLink());
  t.is(await fs.readlink(path.join(out, 'lower', 'link')), 'a.txt');
  // The root of the copy is a symlink in the container: copied as one, unless -L.
  await copyFromView(view, '/bin/sh', out);
  t.is(await fs.readlink(path.join(out, 'sh')), 'busybox');
  await copyFromView(view, '/bin/sh', path.join(out, 'sh-followed'), { followLink: true });
  t.is(await fs.readFile(path.join(out, 'sh-followed'), 'utf8'), '#!busybox\n');
});

bothFormats('copy out skips fifos and says so', async (t, format) => {
  const { dir, view } = await setup(t, format);
  const result = await copyFromView(view, '/srv/special', path.join(dir, 'special'));
  t.deepEqual(result.skipped, [{ path: '/pipe', type: 'fifo', reason: 'device nodes, fifos and sockets are not copied' }]);
  t.deepEqual(await fs.readdir(path.join(dir, 'special')), []);
});

bothFormats('a directory copied out and back in is the same tree, and lands in the upper dir', async (t, format) => {
  const { dir, store, record, view } = await setup(t, format);
  const out = path.join(dir, 'out');
  await fs.mkdir(out);
  await copyFromView(view, '/srv/lower', out);
  const result = await copyToView(view, path.join(out, 'lower'), '/srv/copy');
  t.is(result.entries, 6);
  t.deepEqual(await viewRows(view, '/srv/copy', { times: true }), await viewRows(view, '/srv/lower', { times: true }));
  t.is((await view.lstat('/srv/copy/a.txt')).layer, 'upper');
  t.is((await view.lstat('/srv/copy/a.txt')).ino, (await view.lstat('/srv/copy/hard')).ino);
  const changes = (await containerChanges(store, record)).map((c) => `${c.kind} ${c.path}`);
  t.deepEqual(changes, [
    'C /srv',
    'A /srv/copy',
    'A /srv/copy/a.txt',
    'A /srv/copy/hard',
    'A /srv/copy/link',
    'A /srv/copy/sub',
    'A /srv/copy/sub/b.txt',
  ]);
  // Into an existing directory: under its own name.
  await copyToView(view, path.join(out, 'lower', 'sub'), '/srv/data');
  t.is(await view.readFile('/srv/data/sub/b.txt', 'utf8'), 'bravo\n');
});

bothFormats('copy in replaces a lower file and re-creates a deleted one, through copy-up and whiteouts', async (t, format) => {
  const { dir, store, record, view } = await setup(t, format);
  const src = path.join(dir, 'gone.txt');
  await fs.writeFile(src, 'back again\n', { mode: 0o600 });
  await copyToView(view, src, '/');
  await copyToView(view, src, '/srv/data/keep.txt');
  t.is(await view.readFile('/gone.txt', 'utf8'), 'back again\n');
  t.is(await view.readFile('/srv/data/keep.txt', 'utf8'), 'back again\n');
  t.is((await view.stat('/srv/data/keep.txt')).mode, 0o600);
  const changes = (await containerChanges(store, record)).map((c) => `${c.kind} ${c.path}`);
  t.deepEqual(changes, ['A /gone.txt', 'C /srv', 'C /srv/data', 'C /srv/data/keep.txt']);
});

bothFormats('copy in to a read-only container fails with EROFS, and works into its tmpfs', async (t, format) => {
  const { dir, view } = await setup(t, format, { readOnly: true, mounts: [parseTmpfsFlag('/tmp')] });
  const src = path.join(dir, 'in.txt');
  await fs.writeFile(src, 'in\n');
  await t.throwsAsync(copyToView(view, src, '/srv'), { code: 'EROFS' });
  t.false(await view.exists('/srv/in.txt'));
  await copyToView(view, src, '/tmp');
  t.is(await view.readFile('/tmp/in.txt', 'utf8'), 'in\n');
  t.is((await view.lstat('/tmp/in.txt')).layer, 'mount');
});

async function tarEntries(data: Buffer): Promise<{ name: string; type: string; size: number; linkname: string | null; body: string }[]> {
  const extract = tar.extract();
  const out: { name: string; type: string; size: number; linkname: string | null; body: string }[] = [];
  Readable.from([data]).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({
      name: entry.header.name,
      type: entry.header.type,
      size: entry.header.size,
      linkname: entry.header.linkname || null,
      body: Buffer.concat(chunks).toString(),
    });
  }
  return out;
}

async function collect(write: (out: PassThrough) => Promise<unknown>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await write(out);
  out.end();
  return Buffer.concat(chunks);
}

bothFormats('a path archived to a stream is named from its basename, and dir/. from .', async (t, format) => {
  const { view } = await setup(t, format);
  const names = (await tarEntries(await collect((out) => archiveFromView(view, '/srv/lower', out)))).map(
    (e) => `${e.type} ${e.name}${e.linkname ? ` ${e.linkname}` : ''}`,
  );
  t.deepEqual(names, [
    'directory lower/',
    'file lower/a.txt',
    'link lower/hard lower/a.txt',
    'symlink lower/link a.txt',
    'directory lower/sub/',
    'file lower/sub/b.txt',
  ]);
  const dot = (await tarEntries(await collect((out) => archiveFromView(view, '/srv/lower/sub/.', out)))).map((e) => e.name);
  t.deepEqual(dot, ['./', './b.txt']);
  const one = await tarEntries(await collect((out) => archiveFromView(view, '/etc/passwd', out)));
  t.deepEqual(one, [{ name: 'passwd', type: 'file', size: 30, linkname: null, body: 'root:x:0:0:root:/root:/bin/sh\n' }]);
});

bothFormats('a tar from stdin is extracted into a directory; names climbing out are refused', async (t, format) => {
  const { view } = await setup(t, format);
  const good = await packTar([
    { name: 'pkg/', type: 'directory', mode: 0o755 },
    { name: 'pkg/run.sh', content: 'echo hi\n', mode: 0o755 },
    { name: 'pkg/run-link', type: 'symlink', linkname: 'run.sh' },
    { name: 'pkg/run-hard', type: 'link', linkname: 'pkg/run.sh' },
    { name: 'implied/dir/file.txt', content: 'deep\n' },
  ]);
  const result = await extractToView(view, Readable.from([zlib.gzipSync(good)]), '/srv/data');
  t.is(result.entries, 5);
  t.is(await view.readFile('/srv/data/pkg/run.sh', 'utf8'), 'echo hi\n');
  t.is((await view.stat('/srv/data/pkg/run.sh')).mode, 0o755);
  t.is(await view.readlink('/srv/data/pkg/run-link'), 'run.sh');
  t.is((await view.stat('/srv/data/pkg/run-hard')).ino, (await view.stat('/srv/data/pkg/run.sh')).ino);
  t.is(await view.readFile('/srv/data/implied/dir/file.txt', 'utf8'), 'deep\n');

  const evil = await packTar([
    { name: 'ok.txt', content: 'ok\n' },
    { name: '../../escape.txt', content: 'x\n' },
  ]);
  await t.throwsAsync(extractToView(view, Readable.from([evil]), '/srv/data'), { code: 'EINVALIDARCHIVE', message: /climbs above/ });
  t.false(await view.exists('/srv/escape.txt'));
  t.false(await view.exists('/escape.txt'));
  await t.throwsAsync(extractToView(view, Readable.from([good]), '/etc/passwd'), { code: 'ECONFLICT' });
  await t.throwsAsync(extractToView(view, Readable.from([Buffer.from('not a tar at all, just text'.repeat(40))]), '/srv/data'), {
    code: 'EINVALIDARCHIVE',
  });
});

bothFormats('mv of a lower directory falls back to copy and delete, keeping modes, owners, times and links', async (t, format) => {
  const { store, record, view } = await setup(t, format);
  const before = await viewRows(view, '/srv/lower', { owners: true, times: true });
  await t.throwsAsync(view.rename('/srv/lower', '/srv/moved'), { code: 'EXDEV' });
  await moveInView(view, '/srv/lower', '/srv/moved');
  t.false(await view.exists('/srv/lower'));
  t.deepEqual(await viewRows(view, '/srv/moved', { owners: true, times: true }), before);
  const moved = await view.stat('/srv/moved');
  t.deepEqual([moved.mode, moved.uid, moved.gid, moved.mtimeMs], [0o750, 1000, 1000, LOWER_MTIME * 1000]);
  t.is((await view.lstat('/srv/moved/a.txt')).ino, (await view.lstat('/srv/moved/hard')).ino);
  const changes = (await containerChanges(store, record)).map((c) => `${c.kind} ${c.path}`);
  t.deepEqual(changes, [
    'C /srv',
    'D /srv/lower',
    'A /srv/moved',
    'A /srv/moved/a.txt',
    'A /srv/moved/hard',
    'A /srv/moved/link',
    'A /srv/moved/sub',
    'A /srv/moved/sub/b.txt',
  ]);
});

bothFormats('mv renames what it can, and other errors are not turned into a copy', async (t, format) => {
  const { view } = await setup(t, format);
  await moveInView(view, '/srv/data/keep.txt', '/srv/kept.txt');
  t.is(await view.readFile('/srv/kept.txt', 'utf8'), 'keep\n');
  t.false(await view.exists('/srv/data/keep.txt'));
  await t.throwsAsync(moveInView(view, '/srv/nothing', '/srv/x'), { code: 'ENOENT' });
  await t.throwsAsync(moveInView(view, '/srv/lower', '/srv/lower/sub/inside'), { code: 'EINVAL' });
  // A fifo cannot be re-created through the view: the copy is undone and the source stays.
  await t.throwsAsync(moveInView(view, '/srv/special', '/srv/special2'), { code: 'EUSAGE' });
  t.false(await view.exists('/srv/special2'));
  t.is((await view.lstat('/srv/special/pipe')).type, 'fifo');
});
