import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { repoRoot, strata, strataProcess } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { bothFormats } from '../helpers/both-formats.js';
import { buildImage, packTar, type LayerInput } from '../helpers/image-builder.js';
import { findContainer } from '../../src/container/lookup.js';
import { containerView } from '../../src/container/view.js';
import { readImageRecord } from '../../src/image/record.js';
import type { Store } from '../../src/store/root.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';

const run = promisify(execFile);
/** The real binary, for output that must stay binary (a tar on stdout). */
const BIN = path.join(repoRoot, 'bin', 'strata.js');

const LAYERS: LayerInput[] = [
  [
    { path: 'bin/' },
    { path: 'bin/busybox', content: '#!busybox\n', mode: 0o755 },
    { path: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { path: 'dev/' },
    { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    { path: 'etc/' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { path: 'etc/hostname', content: 'app\n' },
    { path: 'srv/' },
    { path: 'srv/data/' },
    { path: 'srv/data/keep.txt', content: 'keep\n' },
    { path: 'srv/data/modify.txt', content: 'original\n' },
    { path: 'srv/lower/', mode: 0o750, uid: 1000, gid: 1000 },
    { path: 'srv/lower/a.txt', content: 'alpha\n', mode: 0o640, uid: 1000, gid: 1000 },
    { path: 'srv/lower/sub/' },
    { path: 'srv/lower/sub/b.txt', content: 'bravo\n' },
    { path: '.hidden', content: 'h\n' },
    { path: 'gone.txt', content: 'gone\n' },
  ],
  [{ path: 'gone.txt', type: 'whiteout' }],
];

/** A store with app:1 loaded and container `app1` created with `createArgs`. */
async function setup(
  t: ExecutionContext,
  format: WhiteoutFormat,
  createArgs: string[] = [],
): Promise<{ store: Store; dir: string; root: string }> {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: format });
  const file = path.join(dir, 'app.tar');
  await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: ['app:1'], layers: LAYERS }));
  t.is((await strata(store.root, ['load', '-i', file])).code, 0);
  const created = await strata(store.root, ['create', '--name', 'app1', ...createArgs, 'app:1']);
  t.is(created.code, 0, created.stderr);
  return { store, dir, root: store.root };
}

async function view(store: Store) {
  return containerView(store, await findContainer(store, 'app1'));
}

bothFormats("a read-only container refuses every change in busybox's words, and its --tmpfs stays writable", async (t, format) => {
  const { root, dir } = await setup(t, format, ['--read-only', '--tmpfs', '/tmp']);
  const cases: [string[], string][] = [
    [['touch', 'app1', '/x'], 'touch: /x: Read-only file system\n'],
    [['write', 'app1', '/srv/data/modify.txt'], "write: can't create /srv/data/modify.txt: Read-only file system\n"],
    [['append', 'app1', '/srv/data/modify.txt'], "append: can't create /srv/data/modify.txt: Read-only file system\n"],
    [['rm', 'app1', '/srv/data/keep.txt'], "rm: can't remove '/srv/data/keep.txt': Read-only file system\n"],
    [['mkdir', 'app1', '/newdir'], "mkdir: can't create directory '/newdir': Read-only file system\n"],
    [['chmod', 'app1', '600', '/etc/passwd'], 'chmod: /etc/passwd: Read-only file system\n'],
    [['chown', 'app1', '1:1', '/etc/passwd'], 'chown: /etc/passwd: Read-only file system\n'],
    [['truncate', 'app1', '/etc/passwd'], 'truncate: /etc/passwd: open: Read-only file system\n'],
    [['mv', 'app1', '/srv/data/keep.txt', '/srv/kept.txt'], "mv: can't rename '/srv/data/keep.txt': Read-only file system\n"],
    [['ln', 'app1', '-s', '/etc/passwd', '/pw'], 'ln: /pw: Read-only file system\n'],
  ];
  for (const [args, stderr] of cases) {
    const r = await strata(root, ['fs', ...args], { stdin: Buffer.from('hi\n') });
    t.deepEqual(r, { code: 1, stdout: '', stderr }, args.join(' '));
  }
  t.deepEqual(await strata(root, ['fs', 'touch', 'app1', '/tmp/x']), { code: 0, stdout: '', stderr: '' });
  // Owner left open: a mount is a plain host directory, and rootless stores report its real owner.
  t.regex(
    (await strata(root, ['fs', 'ls', '-n', 'app1', '/tmp/x'])).stdout,
    /^-rw-r--r-- {4}1 \d+ +\d+ +0 \w{3} [ \d]\d \d\d:\d\d \/tmp\/x\n$/,
  );
  const src = path.join(dir, 'in.txt');
  await fs.writeFile(src, 'in\n');
  t.deepEqual(await strata(root, ['cp', src, 'app1:/srv']), {
    code: 1,
    stdout: '',
    stderr: 'strata: /srv/in.txt: Read-only file system\n',
  });
  t.deepEqual(await strata(root, ['cp', src, 'app1:/tmp']), { code: 0, stdout: '', stderr: '' });
});

bothFormats('cat prints each file and reports each one it cannot open', async (t, format) => {
  const { root } = await setup(t, format);
  t.deepEqual(await strata(root, ['fs', 'cat', 'app1', '/etc/passwd', '/nope', 'srv/data/keep.txt']), {
    code: 1,
    stdout: 'root:x:0:0:root:/root:/bin/sh\nkeep\n',
    stderr: "cat: can't open '/nope': No such file or directory\n",
  });
  t.deepEqual(await strata(root, ['fs', 'cat', 'app1', '/gone.txt']), {
    code: 1,
    stdout: '',
    stderr: "cat: can't open '/gone.txt': No such file or directory\n",
  });
  t.deepEqual(await strata(root, ['fs', 'cat', 'app1', '/srv']), { code: 1, stdout: '', stderr: 'cat: read error: Is a directory\n' });
  t.deepEqual(await strata(root, ['fs', 'cat', 'nope', '/etc/passwd']), {
    code: 1,
    stdout: '',
    stderr: 'strata: No such container: nope\n',
  });
});

bothFormats('write and append stream stdin into the view; a missing parent is a nonexistent directory', async (t, format) => {
  const { root, store } = await setup(t, format);
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const input = Readable.from(
    (function* () {
      for (let i = 0; i < 40; i++) yield chunk;
    })(),
  );
  t.deepEqual(await strata(root, ['fs', 'write', 'app1', '/srv/data/modify.txt'], { stdin: input }), { code: 0, stdout: '', stderr: '' });
  t.deepEqual(await strata(root, ['fs', 'append', 'app1', '/srv/data/modify.txt'], { stdin: Buffer.from('tail\n') }), {
    code: 0,
    stdout: '',
    stderr: '',
  });
  const v = await view(store);
  const data = await v.readFile('/srv/data/modify.txt');
  t.is(data.length, 40 * chunk.length + 5);
  t.is(data.subarray(-5).toString(), 'tail\n');
  t.is((await v.stat('/srv/data/modify.txt')).layer, 'upper');
  t.deepEqual(await strata(root, ['fs', 'append', 'app1', '/srv/new.txt'], { stdin: Buffer.from('fresh\n') }), {
    code: 0,
    stdout: '',
    stderr: '',
  });
  t.is(await v.readFile('/srv/new.txt', 'utf8'), 'fresh\n');
  t.is((await v.stat('/srv/new.txt')).mode, 0o644);
  t.deepEqual(await strata(root, ['fs', 'write', 'app1', '/no/such/file'], { stdin: Buffer.from('x') }), {
    code: 1,
    stdout: '',
    stderr: "write: can't create /no/such/file: nonexistent directory\n",
  });
  t.deepEqual(await strata(root, ['fs', 'write', 'app1', '/srv'], { stdin: Buffer.from('x') }), {
    code: 1,
    stdout: '',
    stderr: "write: can't create /srv: Is a directory\n",
  });
});

bothFormats('ls sorts names, hides dotfiles without -a, and -l prints busybox columns', async (t, format) => {
  const { root, store } = await setup(t, format);
  t.deepEqual(await strata(root, ['fs', 'ls', 'app1']), { code: 0, stdout: 'bin\ndev\netc\nsrv\n', stderr: '' });
  t.is((await strata(root, ['fs', 'ls', '-a', 'app1', '/'])).stdout, '.\n..\n.hidden\nbin\ndev\netc\nsrv\n');
  const v = await view(store);
  const blocks = async (names: string[]) =>
    Math.floor((await Promise.all(names.map((n) => v.lstat(n)))).reduce((s, st) => s + st.blocks, 0) / 2);
  t.deepEqual(await strata(root, ['fs', 'ls', '-n', 'app1', '/bin']), {
    code: 0,
    stdout: [
      `total ${await blocks(['/bin/busybox', '/bin/sh'])}`,
      '-rwxr-xr-x    1 0        0               10 Nov 14  2023 busybox',
      'lrwxrwxrwx    1 0        0                7 Nov 14  2023 sh -> busybox',
      '',
    ].join('\n'),
    stderr: '',
  });
  t.is(
    (await strata(root, ['fs', 'ls', '-n', 'app1', '/dev/null'])).stdout,
    'crw-rw-rw-    1 0        0           1,   3 Nov 14  2023 /dev/null\n',
  );
  const lower = await v.stat('/srv/lower');
  t.is(
    (await strata(root, ['fs', 'ls', '-nd', 'app1', '/srv/lower'])).stdout,
    `drwxr-x---${String(lower.nlink).padStart(5)} 1000     1000     ${String(lower.size).padStart(9)} Nov 14  2023 /srv/lower\n`,
  );
  t.deepEqual(await strata(root, ['fs', 'ls', 'app1', '/srv/data', '/nope', '/bin/sh', '/dev']), {
    code: 1,
    stdout: '/bin/sh\n\n/srv/data:\nkeep.txt\nmodify.txt\n\n/dev:\nnull\n',
    stderr: 'ls: /nope: No such file or directory\n',
  });
  const json = (await strata(root, ['fs', 'ls', '--format', 'json', 'app1', '/srv/lower'])).stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  const record = await findContainer(store, 'app1');
  t.deepEqual(
    json.map((o) => [o.name, o.path, o.type, o.mode, o.modeString, o.uid, o.gid, o.layer]),
    [
      [
        'a.txt',
        '/srv/lower/a.txt',
        'file',
        '0640',
        '-rw-r-----',
        1000,
        1000,
        (await readImageRecord(store, record.image)).layers[0]!.diffId,
      ],
      ['sub', '/srv/lower/sub', 'dir', '0755', 'drwxr-xr-x', 0, 0, (await readImageRecord(store, record.image)).layers[0]!.diffId],
    ],
  );
});

bothFormats('stat prints a small text block, or one JSON object per path', async (t, format) => {
  const { root, store } = await setup(t, format);
  const record = await findContainer(store, 'app1');
  // One layer ID everywhere: the diffID, full here, 12 hex in du, `Layer` in history's JSON.
  const diffId = (await readImageRecord(store, record.image)).layers[0]!.diffId;
  t.regex((await strata(root, ['du', 'app1'])).stdout, new RegExp(`\\n${diffId.slice(7, 19)} `));
  const history = (await strata(root, ['history', '--format', 'json', 'app:1'])).stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { Layer: string | null });
  t.is(history.at(-1)!.Layer, diffId);
  t.deepEqual(await strata(root, ['fs', 'stat', 'app1', '/etc/passwd', '/nope']), {
    code: 1,
    stdout: [
      '  File: /etc/passwd',
      '  Size: 30          Links: 1       regular file',
      'Access: (0644/-rw-r--r--)  Uid: 0  Gid: 0',
      'Modify: 2023-11-14 22:13:20.000000000 +0000',
      ` Layer: ${diffId}`,
      '',
    ].join('\n'),
    stderr: "stat: can't stat '/nope': No such file or directory\n",
  });
  t.is((await strata(root, ['fs', 'stat', 'app1', '/bin/sh'])).stdout.split('\n')[0], '  File: /bin/sh -> busybox');
  t.is(
    (await strata(root, ['fs', 'stat', '-L', 'app1', '/bin/sh'])).stdout.split('\n')[1],
    '  Size: 10          Links: 1       regular file',
  );
  await strata(root, ['fs', 'chmod', 'app1', '4750', '/srv/data/keep.txt']);
  const [object] = (await strata(root, ['fs', 'stat', '--format', 'json', 'app1', '/srv/data/keep.txt'])).stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(object, {
    name: '/srv/data/keep.txt',
    path: '/srv/data/keep.txt',
    type: 'file',
    mode: '4750',
    modeString: '-rwsr-x---',
    uid: 0,
    gid: 0,
    size: 5,
    nlink: 1,
    mtime: '2023-11-14T22:13:20.000Z',
    layer: 'upper',
  });
  const [dev] = (await strata(root, ['fs', 'stat', '--format', 'json', 'app1', '/dev/null'])).stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual([dev.type, dev.devMajor, dev.devMinor, dev.modeString], ['char', 1, 3, 'crw-rw-rw-']);
});

bothFormats('mkdir, touch, chmod, ln and truncate change the view as busybox would', async (t, format) => {
  const { root, store } = await setup(t, format);
  const fsc = (...args: string[]) => strata(root, ['fs', ...args]);
  const ok = { code: 0, stdout: '', stderr: '' };
  t.deepEqual(await fsc('mkdir', '-p', 'app1', '/a/b/c'), ok);
  t.deepEqual(await fsc('mkdir', 'app1', '/a', '/x/y'), {
    code: 1,
    stdout: '',
    stderr: "mkdir: can't create directory '/a': File exists\nmkdir: can't create directory '/x/y': No such file or directory\n",
  });
  t.deepEqual(await fsc('mkdir', '-m', '700', 'app1', '/m'), ok);
  // -p -m: the mode is the named directory's only; new parents get the default, an existing one keeps its own.
  t.deepEqual(await fsc('mkdir', '-p', '-m', '1700', 'app1', '/p/q/r', '/a/b'), ok);
  const made = await view(store);
  t.deepEqual(await Promise.all(['/p', '/p/q', '/p/q/r', '/a/b'].map(async (p) => ((await made.stat(p)).mode & 0o7777).toString(8))), [
    '755',
    '755',
    '1700',
    '755',
  ]);
  t.deepEqual(await fsc('touch', 'app1', '/a/new', '/srv/data/keep.txt'), ok);
  t.deepEqual(await fsc('touch', '-c', 'app1', '/a/none'), ok);
  t.deepEqual(await fsc('touch', 'app1', '/no/dir/file'), {
    code: 1,
    stdout: '',
    stderr: 'touch: /no/dir/file: No such file or directory\n',
  });
  t.deepEqual(await fsc('chmod', 'app1', '600', '/etc/passwd'), ok);
  t.deepEqual(await fsc('chmod', 'app1', 'u+x', '/etc/passwd'), { code: 1, stdout: '', stderr: "chmod: invalid mode 'u+x'\n" });
  t.deepEqual(await fsc('ln', '-s', 'app1', '/etc/passwd', '/a/pw'), ok);
  t.deepEqual(await fsc('ln', 'app1', '/etc/hostname', '/a/hard'), ok);
  t.deepEqual(await fsc('ln', '-s', 'app1', '/etc/hostname', '/a'), ok);
  t.deepEqual(await fsc('ln', '-s', 'app1', 'x', '/a/pw'), { code: 1, stdout: '', stderr: 'ln: /a/pw: File exists\n' });
  t.deepEqual(await fsc('truncate', '-s', '3', 'app1', '/etc/passwd', '/a/grown'), ok);
  t.deepEqual(await fsc('truncate', '-s', '1K', 'app1', '/a/new'), ok);
  t.deepEqual(await fsc('truncate', '-s', 'lots', 'app1', '/a/new'), { code: 1, stdout: '', stderr: "truncate: invalid number 'lots'\n" });

  const v = await view(store);
  t.is((await v.stat('/a/b/c')).type, 'dir');
  t.is((await v.stat('/m')).mode, 0o700);
  t.is((await v.stat('/a/new')).size, 1024);
  t.false(await v.exists('/a/none'));
  t.true((await v.stat('/srv/data/keep.txt')).mtimeMs > Date.now() - 60_000, 'touch updates the time');
  t.is((await v.stat('/etc/passwd')).mode, 0o600);
  t.is(await v.readFile('/etc/passwd', 'utf8'), 'roo');
  t.is((await v.stat('/a/grown')).size, 3);
  t.is(await v.readlink('/a/pw'), '/etc/passwd');
  t.is(await v.readlink('/a/hostname'), '/etc/hostname');
  t.is((await v.stat('/a/hard')).ino, (await v.stat('/etc/hostname')).ino);
});

bothFormats('chown sets numeric owners, -h the link itself, reports each missing path, and diff lists the change', async (t, format) => {
  const { root, store } = await setup(t, format);
  const fsc = (...args: string[]) => strata(root, ['fs', ...args]);
  const ok = { code: 0, stdout: '', stderr: '' };
  t.deepEqual(await fsc('chown', 'app1', '1234:5678', '/srv/data/keep.txt'), ok);
  t.deepEqual(await fsc('chown', 'app1', '42:', '/srv/data/keep.txt'), ok);
  t.deepEqual(await fsc('chown', 'app1', ':7', '/srv/lower/a.txt'), ok);
  t.deepEqual(await fsc('chown', 'app1', '9', '/nope', '/srv/data/modify.txt', '/gone.txt'), {
    code: 1,
    stdout: '',
    stderr: 'chown: /nope: No such file or directory\nchown: /gone.txt: No such file or directory\n',
  });
  t.deepEqual(await fsc('chown', 'app1', 'root', '/etc/passwd'), { code: 1, stdout: '', stderr: 'chown: unknown user/group root\n' });
  t.deepEqual(await fsc('chown', 'app1', '1:x', '/etc/passwd'), { code: 1, stdout: '', stderr: 'chown: unknown user/group 1:x\n' });
  // Without -h the link is followed, to /bin/busybox.
  t.deepEqual(await fsc('chown', 'app1', '3:3', '/bin/sh'), ok);
  const v = await view(store);
  t.like(await v.lstat('/srv/data/keep.txt'), { uid: 42, gid: 5678, layer: 'upper' });
  t.is(await v.readFile('/srv/data/keep.txt', 'utf8'), 'keep\n');
  t.like(await v.lstat('/srv/lower/a.txt'), { uid: 1000, gid: 7, mode: 0o640 });
  t.like(await v.lstat('/srv/data/modify.txt'), { uid: 9, gid: 0 });
  t.like(await v.lstat('/bin/busybox'), { uid: 3, gid: 3 });
  t.deepEqual(await strata(root, ['diff', 'app1']), {
    code: 0,
    stdout: 'C /bin\nC /bin/busybox\nC /srv\nC /srv/data\nC /srv/data/keep.txt\nC /srv/data/modify.txt\nC /srv/lower\nC /srv/lower/a.txt\n',
    stderr: '',
  });
  if (process.geteuid?.() === 0 && !store.info.rootless) {
    t.deepEqual(await fsc('chown', '-h', 'app1', '5:6', '/bin/sh'), ok);
    t.like(await v.lstat('/bin/sh'), { uid: 5, gid: 6, type: 'symlink' });
    t.like(await v.lstat('/bin/busybox'), { uid: 3, gid: 3 });
  }
});

bothFormats('rm removes files and trees, -f ignores what is missing, and every failure is reported', async (t, format) => {
  const { root } = await setup(t, format);
  t.deepEqual(await strata(root, ['fs', 'rm', 'app1', '/srv/lower']), { code: 1, stdout: '', stderr: "rm: '/srv/lower' is a directory\n" });
  t.deepEqual(await strata(root, ['fs', 'rm', 'app1', '/nope', '/srv/data/keep.txt', '/nope2']), {
    code: 1,
    stdout: '',
    stderr: "rm: can't remove '/nope': No such file or directory\nrm: can't remove '/nope2': No such file or directory\n",
  });
  t.deepEqual(await strata(root, ['fs', 'rm', '-rf', 'app1', '/srv/lower', '/nope']), { code: 0, stdout: '', stderr: '' });
  t.deepEqual(await strata(root, ['fs', 'rm', '-r', 'app1', '/srv/.']), {
    code: 1,
    stdout: '',
    stderr: "rm: refusing to remove '.' or '..' directory\n",
  });
  t.deepEqual(await strata(root, ['diff', 'app1']), {
    code: 0,
    stdout: 'C /srv\nC /srv/data\nD /srv/data/keep.txt\nD /srv/lower\n',
    stderr: '',
  });
});

bothFormats('mv of a lower directory is copied and deleted, and diff shows the move', async (t, format) => {
  const { root, store } = await setup(t, format);
  t.deepEqual(await strata(root, ['fs', 'mv', 'app1', '/srv/lower', '/srv/moved']), { code: 0, stdout: '', stderr: '' });
  t.is((await strata(root, ['fs', 'cat', 'app1', '/srv/moved/a.txt', '/srv/moved/sub/b.txt'])).stdout, 'alpha\nbravo\n');
  t.deepEqual(await strata(root, ['fs', 'ls', 'app1', '/srv/lower']), {
    code: 1,
    stdout: '',
    stderr: 'ls: /srv/lower: No such file or directory\n',
  });
  const v = await view(store);
  const moved = await v.stat('/srv/moved/a.txt');
  t.deepEqual([moved.mode, moved.uid, moved.gid, moved.mtimeMs], [0o640, 1000, 1000, 1_700_000_000_000]);
  t.deepEqual(await strata(root, ['diff', 'app1']), {
    code: 0,
    stdout: 'C /srv\nD /srv/lower\nA /srv/moved\nA /srv/moved/a.txt\nA /srv/moved/sub\nA /srv/moved/sub/b.txt\n',
    stderr: '',
  });
  t.deepEqual(await strata(root, ['fs', 'mv', 'app1', '/etc/passwd', '/etc/hostname', '/srv/data']), { code: 0, stdout: '', stderr: '' });
  t.is(
    (await strata(root, ['fs', 'ls', 'app1', '/etc', '/srv/data'])).stdout,
    '/etc:\n\n/srv/data:\nhostname\nkeep.txt\nmodify.txt\npasswd\n',
  );
  t.deepEqual(await strata(root, ['fs', 'mv', 'app1', '/srv/data/passwd', '/bin/sh', '/nope']), {
    code: 1,
    stdout: '',
    stderr: "mv: '/nope' is not a directory\n",
  });
  t.deepEqual(await strata(root, ['fs', 'mv', 'app1', '/missing', '/srv/x']), {
    code: 1,
    stdout: '',
    stderr: "mv: can't rename '/missing': No such file or directory\n",
  });
});

async function tarNames(data: Buffer): Promise<string[]> {
  const extract = tar.extract();
  Readable.from([data]).pipe(extract);
  const names: string[] = [];
  for await (const entry of extract) {
    names.push(`${entry.header.type} ${entry.header.name}`);
    entry.resume();
  }
  return names;
}

bothFormats("cp copies a tree out and back in, to and from a tar stream, with docker's argument rules", async (t, format) => {
  const { root, store, dir } = await setup(t, format);
  const out = path.join(dir, 'out');
  await fs.mkdir(out);
  t.deepEqual(await strata(root, ['cp', 'app1:/srv/lower', out]), { code: 0, stdout: '', stderr: '' });
  t.is(await fs.readFile(path.join(out, 'lower', 'sub', 'b.txt'), 'utf8'), 'bravo\n');
  t.is((await fs.stat(path.join(out, 'lower', 'a.txt'))).mode & 0o7777, 0o640);
  t.deepEqual(await strata(root, ['cp', path.join(out, 'lower'), 'app1:srv/copy']), { code: 0, stdout: '', stderr: '' });
  // Modes, sizes, times and names survive the round trip; links and owners are the copy's own (docker cp gives root).
  const listing = (p: string) =>
    strata(root, ['fs', 'ls', '-n', 'app1', p]).then((r) =>
      r.stdout
        .split('\n')
        .slice(1)
        .map((l) => l.replace(/^(\S+) +\d+ +\d+ +\d+ +/, '$1 ')),
    );
  t.deepEqual(await listing('/srv/copy'), await listing('/srv/lower'));
  t.deepEqual(await listing('/srv/copy/sub'), await listing('/srv/lower/sub'));
  t.regex(
    (await strata(root, ['fs', 'ls', '-n', 'app1', '/srv/copy/a.txt'])).stdout,
    /^-rw-r----- {4}1 0 {8}0 {16}6 Nov 14 {2}2023 \/srv\/copy\/a.txt\n$/,
  );

  const viaPipe = await run(process.execPath, [BIN, '--root', root, 'cp', 'app1:/srv/lower', '-'], { encoding: 'buffer' });
  t.deepEqual(await tarNames(viaPipe.stdout), ['directory lower/', 'file lower/a.txt', 'directory lower/sub/', 'file lower/sub/b.txt']);

  const input = await packTar([
    { name: 'pkg/', type: 'directory', mode: 0o755 },
    { name: 'pkg/tool', content: 'run\n', mode: 0o755 },
  ]);
  t.deepEqual(await strata(root, ['cp', '-', 'app1:/srv/data'], { stdin: input }), { code: 0, stdout: '', stderr: '' });
  const v = await view(store);
  t.is(await v.readFile('/srv/data/pkg/tool', 'utf8'), 'run\n');
  t.deepEqual(await strata(root, ['cp', '-', 'app1:/etc/passwd'], { stdin: input }), {
    code: 1,
    stdout: '',
    stderr: 'strata: destination "/etc/passwd" must be a directory\n',
  });
  // docker cp's own errors exit 1.
  t.deepEqual(await strata(root, ['cp', './a', './b']), {
    code: 1,
    stdout: '',
    stderr: 'strata: must specify at least one container source\n',
  });
  t.deepEqual(await strata(root, ['cp', 'app1:/a', 'app1:/b']), {
    code: 1,
    stdout: '',
    stderr: 'strata: copying between containers is not supported\n',
  });
});

bothFormats('export writes the merged view as a tar to stdout or atomically to -o', async (t, format) => {
  const { root, dir } = await setup(t, format);
  await strata(root, ['fs', 'write', 'app1', '/srv/new.txt'], { stdin: Buffer.from('new\n') });
  await strata(root, ['fs', 'rm', 'app1', '/srv/data/keep.txt']);
  const file = path.join(dir, 'export.tar');
  t.deepEqual(await strata(root, ['export', 'app1', '-o', file]), { code: 0, stdout: '', stderr: '' });
  const names = await tarNames(await fs.readFile(file));
  t.deepEqual(
    names,
    [
      'directory bin/',
      'file bin/busybox',
      'symlink bin/sh',
      'directory dev/',
      'character-device dev/null',
      'directory etc/',
      'file etc/hostname',
      'file etc/passwd',
      'directory srv/',
      'directory srv/data/',
      'file srv/data/modify.txt',
      'directory srv/lower/',
      'file srv/lower/a.txt',
      'directory srv/lower/sub/',
      'file srv/lower/sub/b.txt',
      'file srv/new.txt',
      'file .hidden',
    ].sort((a, b) => (a.split(' ')[1]! < b.split(' ')[1]! ? -1 : 1)),
  );
  const viaStdout = await run(process.execPath, [BIN, '--root', root, 'export', 'app1'], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  t.true(viaStdout.stdout.equals(await fs.readFile(file)));
  try {
    const listed = (await run('tar', ['-tf', file])).stdout;
    t.is(listed.trimEnd().split('\n').length, names.length);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    t.log('skipped the GNU tar check: no tar on PATH');
  }
  t.deepEqual(await strata(root, ['export', 'app1'], { tty: true }), {
    code: 1,
    stdout: '',
    stderr: 'strata: cowardly refusing to save to a terminal. Use the -o flag or redirect\n',
  });
  t.deepEqual(
    await strata(root, ['container', 'export', 'app1', '-o', path.join(dir, 'no', 'such', 'dir', 'x.tar')]).then((r) => r.code),
    1,
  );
  t.deepEqual(await fs.readdir(dir).then((n) => n.filter((x) => x.startsWith('.tmp-'))), []);
});

test("the real binary prints the tool's error without a prefix and exits 1", async (t) => {
  const { root } = await setup(t, 'oci', ['--read-only']);
  const r = await strataProcess(root, ['fs', 'touch', 'app1', '/x']);
  t.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code: 1, stdout: '', stderr: 'touch: /x: Read-only file system\n' });
});

bothFormats("ls -l names owners and groups from the container's own /etc/passwd and /etc/group; -n keeps numbers", async (t, format) => {
  const { store, root } = await setup(t, format);
  const v = await view(store);
  // uid/gid 1000 own /srv/lower (the image says so); the names are the container's, not the host's.
  await v.writeFile('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nappserviceuser:x:1000:1000::/srv:/bin/sh\n');
  await v.writeFile('/etc/group', 'root:x:0:\nstaff:x:1000:\n');
  const long = await strata(root, ['fs', 'ls', '-ld', 'app1', '/srv/lower', '/srv/data']);
  t.regex(long.stdout, /^drwxr-xr-x +\d+ root {5}root .* \/srv\/data\ndrwxr-x--- +\d+ appservi staff .* \/srv\/lower\n$/);
  t.regex((await strata(root, ['fs', 'ls', '-nd', 'app1', '/srv/lower'])).stdout, /^drwxr-x--- +\d+ 1000 {5}1000 /);
  await v.writeFile('/etc/group', 'root:x:0:\n');
  t.regex(
    (await strata(root, ['fs', 'ls', '-ld', 'app1', '/srv/lower'])).stdout,
    /^drwxr-x--- +\d+ appservi 1000 /,
    'a gid no group names stays a number',
  );
});
