import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { strata, repoRoot } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { containerView } from '../../src/container/view.js';
import { findContainer } from '../../src/container/lookup.js';

const demo = path.join(repoRoot, 'fixtures', 'demo.tar');

async function withDemo(t: Parameters<typeof tmpStore>[0]) {
  const { store, dir } = await tmpStore(t);
  t.is((await strata(store.root, ['load', '-q', '-i', demo])).code, 0);
  return { store, dir };
}

test('create prints the full ID; ps -a shows it Created, ps hides it until started', async (t) => {
  const { store } = await withDemo(t);
  const created = await strata(store.root, ['create', '--name', 'web', 'demo']);
  t.is(created.code, 0);
  t.regex(created.stdout, /^[0-9a-f]{64}\n$/);
  const id = created.stdout.trim();
  t.is((await strata(store.root, ['ps', '-q'])).stdout, '');
  t.is((await strata(store.root, ['ps', '-aq'])).stdout, `${id.slice(0, 12)}\n`);
  const table = (await strata(store.root, ['ps', '-a'])).stdout.split('\n');
  t.regex(table[0]!, /^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/);
  t.regex(table[1]!, new RegExp(`^${id.slice(0, 12)} +demo +"/bin/hello" +Less than a second ago +Created +web$`));
  t.is((await strata(store.root, ['start', 'web'])).stdout, 'web\n');
  t.regex((await strata(store.root, ['ps'])).stdout, /Up Less than a second +web/);
  await strata(store.root, ['stop', 'web']);
  t.regex((await strata(store.root, ['ps', '-a'])).stdout, /Exited \(0\) Less than a second ago +web/);
  const json = JSON.parse((await strata(store.root, ['ps', '-a', '--format', 'json'])).stdout);
  t.is(json.ID, id);
  t.is(json.Names, 'web');
  t.is(json.State, 'exited');
});

test('names are unique; IDs and unique prefixes name a container anywhere', async (t) => {
  const { store } = await withDemo(t);
  const id = (await strata(store.root, ['create', '--name', 'one', 'demo'])).stdout.trim();
  const dup = await strata(store.root, ['create', '--name', 'one', 'demo']);
  t.is(dup.code, 125, 'docker create reports its failures with 125');
  t.is(
    dup.stderr,
    `strata: Conflict. The container name "/one" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.\n`,
  );
  t.is((await strata(store.root, ['inspect', '--format', '{{.Name}}', id.slice(0, 7)])).stdout, '/one\n');
  t.is((await strata(store.root, ['inspect', '--format', '{{.Id}}', 'one'])).stdout, `${id}\n`);
});

test('inspect shows GraphDriver dirs that exist and HostConfig like docker', async (t) => {
  const { store } = await withDemo(t);
  await strata(store.root, ['create', '--name', 'ro1', '--read-only', '--tmpfs', '/tmp', '-v', 'labvol:/data', 'demo']);
  const [info] = JSON.parse((await strata(store.root, ['inspect', 'ro1'])).stdout);
  t.is(info.HostConfig.ReadonlyRootfs, true);
  t.deepEqual(info.HostConfig.Tmpfs, { '/tmp': '' });
  t.deepEqual(
    info.Mounts.map((m: { Type: string; Name: string; Destination: string; RW: boolean; Driver: string }) => [
      m.Type,
      m.Name,
      m.Destination,
      m.RW,
      m.Driver,
    ]),
    [['volume', 'labvol', '/data', true, 'local']],
  );
  const data = info.GraphDriver.Data;
  t.deepEqual(Object.keys(data).sort(), ['LowerDir', 'MergedDir', 'UpperDir', 'WorkDir']);
  t.is(data.LowerDir.split(':').length, 2, 'both image layers, top first');
  for (const dir of [data.UpperDir, data.WorkDir, ...data.LowerDir.split(':')]) t.true((await fs.stat(dir)).isDirectory(), dir);
  t.is((await strata(store.root, ['inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', 'ro1'])).stdout, `${data.UpperDir}\n`);
  t.is(
    (await strata(store.root, ['inspect', '--format', '{{json .HostConfig.ReadonlyRootfs}} {{json .HostConfig.Tmpfs}}', 'ro1'])).stdout,
    'true {"/tmp":""}\n',
  );
});

test('tmpfs content is gone after stop, restart and rm; it never reaches upper/', async (t) => {
  const { store } = await withDemo(t);
  await strata(store.root, ['create', '--name', 'tmpc', '--read-only', '--tmpfs', '/tmp', 'demo']);
  await strata(store.root, ['start', 'tmpc']);
  const record = await findContainer(store, 'tmpc');
  await (await containerView(store, record)).writeFile('/tmp/t', 'hi\n');
  t.is(await (await containerView(store, record)).readFile('/tmp/t', 'utf8'), 'hi\n');
  t.deepEqual(await fs.readdir(path.join(store.paths.containerDir(record.id), 'upper')), []);
  await strata(store.root, ['restart', 'tmpc']);
  t.deepEqual(await (await containerView(store, record)).readdir('/tmp'), []);
  await (await containerView(store, record)).writeFile('/tmp/u', 'again\n');
  await strata(store.root, ['stop', 'tmpc']);
  t.deepEqual(await (await containerView(store, record)).readdir('/tmp'), []);
  t.is((await strata(store.root, ['rm', 'tmpc'])).stdout, 'tmpc\n');
  await t.throwsAsync(fs.access(store.paths.containerDir(record.id)));
});

test('restart of a container that never ran still gives it an empty tmpfs', async (t) => {
  const { store } = await withDemo(t);
  await strata(store.root, ['create', '--name', 'fresh', '--tmpfs', '/tmp', 'demo']);
  const record = await findContainer(store, 'fresh');
  await (await containerView(store, record)).writeFile('/tmp/before', 'x');
  t.is((await strata(store.root, ['restart', 'fresh'])).stdout, 'fresh\n');
  t.deepEqual(await (await containerView(store, record)).readdir('/tmp'), []);
});

test('rm refuses a running container unless -f; rm -v removes anonymous volumes only', async (t) => {
  const { store } = await withDemo(t);
  await strata(store.root, ['create', '--name', 'vols', '-v', 'keepvol:/data', '-v', '/anon', 'demo']);
  await strata(store.root, ['start', 'vols']);
  const refused = await strata(store.root, ['rm', 'vols']);
  t.is(refused.code, 1);
  t.regex(
    refused.stderr,
    /^strata: You cannot remove a running container [0-9a-f]{64}\. Stop the container before attempting removal or force remove\n$/,
  );
  const volumes = (await strata(store.root, ['volume', 'ls', '-q'])).stdout.trim().split('\n');
  t.is(volumes.length, 2);
  t.true(volumes.includes('keepvol'));
  t.is((await strata(store.root, ['rm', '-f', '-v', 'vols'])).code, 0);
  t.is((await strata(store.root, ['volume', 'ls', '-q'])).stdout, 'keepvol\n');
});

test('volume commands: create, ls, inspect, rm refuses in-use, prune', async (t) => {
  const { store } = await withDemo(t);
  t.is((await strata(store.root, ['volume', 'create', 'v1'])).stdout, 'v1\n');
  t.regex((await strata(store.root, ['volume', 'ls'])).stdout, /^DRIVER +VOLUME NAME\nlocal +v1\n$/);
  const [info] = JSON.parse((await strata(store.root, ['volume', 'inspect', 'v1'])).stdout);
  t.is(info.Name, 'v1');
  t.is(info.Driver, 'local');
  t.true((await fs.stat(info.Mountpoint)).isDirectory());
  await strata(store.root, ['create', '--name', 'user', '-v', 'v1:/v', 'demo']);
  const busy = await strata(store.root, ['volume', 'rm', 'v1']);
  t.is(busy.code, 1);
  t.regex(busy.stderr, /volume is in use/);
  await strata(store.root, ['rm', 'user']);
  t.is((await strata(store.root, ['volume', 'prune', '-f'])).stdout.includes('v1'), false, 'named volumes survive a plain prune');
  t.regex((await strata(store.root, ['volume', 'prune', '-f', '-a'])).stdout, /Deleted Volumes:\nv1\n/);
  t.is((await strata(store.root, ['volume', 'ls', '-q'])).stdout, '');
  // docker volume inspect: what was found (here nothing: `[]`), then one line per missing name.
  t.deepEqual(await strata(store.root, ['volume', 'inspect', 'v1']), { code: 1, stdout: '[]\n', stderr: 'Error: No such volume: v1\n' });
});

test('bad -v and --tmpfs specifications fail create with exit 125, as docker create', async (t) => {
  const { store } = await withDemo(t);
  const relative = await strata(store.root, ['create', '-v', 'vol:relative', 'demo']);
  t.is(relative.code, 125);
  t.regex(relative.stderr, /mount path must be absolute/);
  t.is((await strata(store.root, ['create', '-v', 'a:/x:rx', 'demo'])).code, 125);
  t.is((await strata(store.root, ['create', 'nosuchimage'])).stderr, 'strata: No such image: nosuchimage\n');
});

test("options after the image belong to the container's command: create IMAGE sh -c 'echo hi'", async (t) => {
  const { store } = await withDemo(t);
  const created = await strata(store.root, ['create', '--name', 'sh', 'demo', 'sh', '-c', 'echo hi', '--name', 'x']);
  t.is(created.code, 0, created.stderr);
  const inspect = await strata(store.root, ['inspect', 'sh', '--format', '{{json .Config.Cmd}}']);
  t.is(inspect.stdout, '["sh","-c","echo hi","--name","x"]\n');
  t.is((await strata(store.root, ['container', 'create', 'demo', 'ls', '-l'])).code, 0, 'the same under `container create`');
});

test('export -o into a missing or non-directory path is one line naming the file, and leaves nothing', async (t) => {
  const { store, dir } = await withDemo(t);
  await strata(store.root, ['create', '--name', 'web', 'demo']);
  const missing = path.join(dir, 'missing', 'x.tar');
  const out = await strata(store.root, ['export', 'web', '-o', missing]);
  t.is(out.code, 1);
  t.is(out.stderr, `strata: ${missing}: No such file or directory\n`);
  await fs.writeFile(path.join(dir, 'plain'), '');
  const notDir = path.join(dir, 'plain', 'x.tar');
  const second = await strata(store.root, ['export', 'web', '-o', notDir]);
  t.is(second.code, 1);
  t.is(second.stderr, `strata: ${notDir}: Not a directory\n`);
  t.deepEqual(
    (await fs.readdir(dir)).filter((n) => n.includes('x.tar')),
    [],
  );
});

test("usage errors are docker/cli's two lines: 125 for a bad flag, 1 for a wrong argument count", async (t) => {
  const { store } = await tmpStore(t);
  const cases: [string[], number, string][] = [
    [['images', '--bogus'], 125, "unknown flag: --bogus\nSee 'strata images --help'.\n"],
    [['ps', '-z'], 125, "unknown shorthand flag: 'z' in -z\nSee 'strata ps --help'.\n"],
    [['create', '--name'], 125, "flag needs an argument: --name\nSee 'strata create --help'.\n"],
    [['rm'], 1, '"strata rm" requires at least 1 argument.\nSee \'strata rm --help\'.\n'],
    [['container', 'rm'], 1, '"strata container rm" requires at least 1 argument.\nSee \'strata container rm --help\'.\n'],
    [['diff', 'a', 'b'], 1, '"strata diff" requires exactly 1 argument.\nSee \'strata diff --help\'.\n'],
    [['frobnicate'], 1, "strata: 'frobnicate' is not a strata command.\nSee 'strata --help'\n"],
  ];
  for (const [args, code, stderr] of cases) {
    const out = await strata(store.root, args);
    t.deepEqual([out.code, out.stderr], [code, stderr], args.join(' '));
  }
  t.is((await strata(store.root, [])).code, 0, 'strata alone prints its help');
});

test("volume names are checked with the local driver's words; inspect prints what it found and an Error line per missing name", async (t) => {
  const { store } = await tmpStore(t);
  t.deepEqual(await strata(store.root, ['volume', 'create', 'v']), {
    code: 1,
    stdout: '',
    stderr: 'strata: create v: volume name is too short, names should be at least two alphanumeric characters\n',
  });
  t.deepEqual(await strata(store.root, ['volume', 'create', 'a b']), {
    code: 1,
    stdout: '',
    stderr:
      'strata: create a b: "a b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path\n',
  });
  await strata(store.root, ['volume', 'create', 'data']);
  const both = await strata(store.root, ['volume', 'inspect', '--format', '{{.Name}}', 'data', 'nosuch']);
  t.deepEqual(both, { code: 1, stdout: 'data\n', stderr: 'Error: No such volume: nosuch\n' });
});

test('create keeps -v and --tmpfs options; inspect shows them as docker does', async (t) => {
  const { store, dir } = await withDemo(t);
  const bind = path.join(dir, 'bind-src');
  const created = await strata(store.root, [
    'create',
    '--name',
    'opts',
    '--tmpfs',
    '/tmp:rw,size=64m,mode=1777',
    '--tmpfs',
    '/run',
    '-v',
    'labvol:/data:z,nocopy',
    '-v',
    `${bind}:/host:ro,Z`,
    '-v',
    'other:/other',
    '-v',
    '/anon',
    'demo',
  ]);
  t.is(created.code, 0, created.stderr);
  const [info] = JSON.parse((await strata(store.root, ['inspect', 'opts'])).stdout);
  t.deepEqual(info.HostConfig.Tmpfs, { '/tmp': 'rw,size=64m,mode=1777', '/run': '' });
  t.deepEqual(info.HostConfig.Binds, ['labvol:/data:z,nocopy', `${bind}:/host:ro,Z`, 'other:/other']);
  t.deepEqual(
    info.Mounts.map((m: { Destination: string; Mode: string; RW: boolean }) => [m.Destination, m.Mode, m.RW]),
    [
      ['/data', 'z,nocopy', true],
      ['/host', 'ro,Z', false],
      ['/other', 'z', true],
      ['/anon', '', true],
    ],
  );
  const bad = await strata(store.root, ['create', '--tmpfs', '/tmp:size=lots', 'demo']);
  t.is(bad.code, 125);
  t.is(bad.stderr, 'strata: invalid tmpfs option "size=lots" in \'/tmp:size=lots\'\n');
  t.is(
    (await strata(store.root, ['create', '-v', 'labvol:/data:bogus', 'demo'])).stderr,
    "strata: invalid mode: bogus in volume specification 'labvol:/data:bogus'\n",
  );
});

// As Docker 20.10 printed them, tried beside it: `docker create bad@@ref` and `docker tag IMAGE UPPER:x` exit 1.
test('a name that is neither a reference nor an ID is a reference error in Docker\'s words, exit 1, not "No such image"', async (t) => {
  const { store } = await withDemo(t);
  t.deepEqual(await strata(store.root, ['create', 'bad@@ref']), { code: 1, stdout: '', stderr: 'strata: invalid reference format\n' });
  const upper = await strata(store.root, ['image', 'inspect', 'App']);
  t.deepEqual([upper.code, upper.stderr], [1, 'strata: invalid reference format: repository name must be lowercase\n']);
  t.deepEqual(await strata(store.root, ['tag', 'demo', 'UPPER:x']), {
    code: 1,
    stdout: '',
    stderr:
      'strata: Error parsing reference: "UPPER:x" is not a valid repository/tag: invalid reference format: repository name must be lowercase\n',
  });
});
