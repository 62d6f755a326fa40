import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import { containerView } from '../../src/container/view.js';
import { findContainer } from '../../src/container/lookup.js';

const IMAGE_CONFIG = {
  Env: ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8', 'KEEP=image'],
  Entrypoint: ['/entry.sh'],
  Cmd: ['serve'],
  WorkingDir: '/app',
  User: 'app',
  Labels: { 'org.example.team': 'storage', shared: 'from-image' },
  ExposedPorts: { '80/tcp': {} },
  Volumes: { '/var/cache': {} },
  StopSignal: 'SIGQUIT',
};

async function withApp(t: ExecutionContext) {
  const { store, dir } = await tmpStore(t);
  const file = path.join(dir, 'app.tar');
  await fs.writeFile(
    file,
    await buildImage({
      format: 'docker',
      repoTags: ['app:1'],
      layers: [[{ path: 'app/run', content: 'x' }]],
      config: { config: IMAGE_CONFIG },
    }),
  );
  t.is((await strata(store.root, ['load', '-q', '-i', file])).code, 0);
  return { store, dir };
}

// biome-ignore lint/suspicious/noExplicitAny: inspect's JSON is walked freely by the assertions below
async function inspect(root: string, name: string): Promise<Record<string, any>> {
  const out = await strata(root, ['inspect', name]);
  return JSON.parse(out.stdout)[0];
}

test("without flags, a container's Config is the image's, and its host name is the first 12 hex digits of its ID", async (t) => {
  const { store } = await withApp(t);
  const id = (await strata(store.root, ['create', '--name', 'plain', 'app:1'])).stdout.trim();
  const info = await inspect(store.root, 'plain');
  t.is(
    JSON.stringify(info.Config),
    JSON.stringify({
      Hostname: id.slice(0, 12),
      Domainname: '',
      User: 'app',
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      ExposedPorts: { '80/tcp': {} },
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8', 'KEEP=image'],
      Cmd: ['serve'],
      Image: 'app:1',
      Volumes: { '/var/cache': {} },
      WorkingDir: '/app',
      Entrypoint: ['/entry.sh'],
      OnBuild: null,
      Labels: { 'org.example.team': 'storage', shared: 'from-image' },
      StopSignal: 'SIGQUIT',
    }),
  );
  t.is(
    JSON.stringify(info.HostConfig),
    JSON.stringify({ Binds: null, AutoRemove: false, ReadonlyRootfs: false, Tmpfs: {}, Runtime: 'runc' }),
  );
  t.is(info.Path, '/entry.sh');
  t.deepEqual(info.Args, ['serve']);
});

test('-e, --env-file, -l, --label-file, --entrypoint, -w, -u and -h land in Config as Docker merges them', async (t) => {
  const { store, dir } = await withApp(t);
  const envFile = path.join(dir, 'app.env');
  await fs.writeFile(envFile, '# settings\n\n  FROM_FILE="quoted stays"\nLANG=en_US.UTF-8\nSTRATA_TEST_FROM_ENV\nSTRATA_TEST_NEVER_SET\n');
  const labelFile = path.join(dir, 'labels');
  await fs.writeFile(labelFile, 'from.file=1\nshared=from-file\n');
  process.env.STRATA_TEST_FROM_ENV = 'outer value';
  t.teardown(() => {
    delete process.env.STRATA_TEST_FROM_ENV;
  });
  const created = await strata(store.root, [
    'create',
    '--name',
    'full',
    '--env-file',
    envFile,
    '-e',
    'A=1',
    '-e',
    'STRATA_TEST_FROM_ENV',
    '-e',
    'STRATA_TEST_NEVER_SET',
    '--env',
    'PATH=/opt/bin',
    '--label-file',
    labelFile,
    '-l',
    'shared=from-flag',
    '--label',
    'bare',
    '--entrypoint',
    '/bin/sh',
    '-w',
    '/srv',
    '-u',
    '1000:100',
    '-h',
    'web01',
    'app:1',
    '-c',
    'echo hi',
  ]);
  t.is(created.code, 0, created.stderr);
  const info = await inspect(store.root, 'full');
  t.deepEqual(info.Config.Env, [
    'FROM_FILE="quoted stays"',
    'LANG=en_US.UTF-8',
    'STRATA_TEST_FROM_ENV=outer value',
    'A=1',
    'STRATA_TEST_FROM_ENV=outer value',
    // Unset in strata's environment: an env file drops it, -e keeps the bare key, as docker/cli does.
    'STRATA_TEST_NEVER_SET',
    'PATH=/opt/bin',
    'KEEP=image',
  ]);
  t.deepEqual(info.Config.Labels, { 'org.example.team': 'storage', shared: 'from-flag', 'from.file': '1', bare: '' });
  t.deepEqual(info.Config.Entrypoint, ['/bin/sh']);
  t.deepEqual(info.Config.Cmd, ['-c', 'echo hi']);
  t.is(info.Config.WorkingDir, '/srv');
  t.is(info.Config.User, '1000:100');
  t.is(info.Config.Hostname, 'web01');
  t.is(info.Path, '/bin/sh');
  t.deepEqual(info.Args, ['-c', 'echo hi']);
  t.is((await strata(store.root, ['ps', '-a', '--no-trunc', '--format', '{{.Command}}'])).stdout, '"/bin/sh -c echo hi"\n');
});

test('--entrypoint drops the image Cmd; --entrypoint "" clears it and needs a command', async (t) => {
  const { store } = await withApp(t);
  await strata(store.root, ['create', '--name', 'ep', '--entrypoint', '/bin/true', 'app:1']);
  const ep = await inspect(store.root, 'ep');
  t.deepEqual([ep.Config.Entrypoint, ep.Config.Cmd, ep.Path, ep.Args], [['/bin/true'], null, '/bin/true', []]);
  await strata(store.root, ['create', '--name', 'cleared', '--entrypoint', '', 'app:1', 'ls', '-l']);
  const cleared = await inspect(store.root, 'cleared');
  t.deepEqual([cleared.Config.Entrypoint, cleared.Config.Cmd, cleared.Path], [null, ['ls', '-l'], 'ls']);
  const before = await snapshotContent(store.root);
  const none = await strata(store.root, ['create', '--entrypoint=', 'app:1']);
  t.deepEqual([none.code, none.stderr], [125, 'strata: No command specified\n']);
  t.deepEqual(await snapshotContent(store.root), before);
});

test('-h is the host name for create, and --help still prints the help', async (t) => {
  const { store } = await withApp(t);
  const help = await strata(store.root, ['create', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /-h, --hostname <name> +container host name/);
  t.regex(help.stdout, /--mount <mount>/);
  const id = (await strata(store.root, ['container', 'create', '-h', 'box', 'app:1'])).stdout.trim();
  t.is((await strata(store.root, ['inspect', '--format', '{{.Config.Hostname}}', id])).stdout, 'box\n');
});

test('--mount volume, bind and tmpfs show in HostConfig.Mounts and Mounts as Docker shows them; -v stays in Binds', async (t) => {
  const { store, dir } = await withApp(t);
  const host = path.join(dir, 'host');
  await fs.mkdir(host);
  const created = await strata(store.root, [
    'create',
    '--name',
    'mnt',
    '-v',
    'named:/named',
    '-v',
    '/anon',
    '--tmpfs',
    '/run',
    '--mount',
    'type=volume,src=data,dst=/data,volume-nocopy',
    '--mount',
    `type=bind,source=${host},target=/host,readonly,bind-propagation=rslave`,
    '--mount',
    'type=tmpfs,destination=/scratch,tmpfs-size=64m,tmpfs-mode=1770',
    '--mount',
    'target=/cache2',
    'app:1',
  ]);
  t.is(created.code, 0, created.stderr);
  const info = await inspect(store.root, 'mnt');
  t.is(
    JSON.stringify(info.HostConfig),
    JSON.stringify({
      Binds: ['named:/named'],
      AutoRemove: false,
      ReadonlyRootfs: false,
      Tmpfs: { '/run': '' },
      Runtime: 'runc',
      Mounts: [
        { Type: 'volume', Source: 'data', Target: '/data', VolumeOptions: { NoCopy: true, DriverConfig: {} } },
        { Type: 'bind', Source: host, Target: '/host', ReadOnly: true, BindOptions: { Propagation: 'rslave' } },
        { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 67108864, Mode: 0o1770 } },
        { Type: 'volume', Target: '/cache2' },
      ],
    }),
  );
  const anon = info.Mounts.find((m: { Destination: string }) => m.Destination === '/anon').Name;
  const cache2 = info.Mounts.find((m: { Destination: string }) => m.Destination === '/cache2').Name;
  t.regex(anon, /^[0-9a-f]{64}$/);
  t.regex(cache2, /^[0-9a-f]{64}$/);
  const volume = (name: string) => path.join(store.root, 'volumes', name, '_data');
  t.deepEqual(info.Mounts, [
    {
      Type: 'volume',
      Name: 'named',
      Source: volume('named'),
      Destination: '/named',
      Driver: 'local',
      Mode: 'z',
      RW: true,
      Propagation: '',
    },
    { Type: 'volume', Name: anon, Source: volume(anon), Destination: '/anon', Driver: 'local', Mode: '', RW: true, Propagation: '' },
    { Type: 'volume', Name: 'data', Source: volume('data'), Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '' },
    { Type: 'bind', Source: host, Destination: '/host', Mode: '', RW: false, Propagation: 'rslave' },
    { Type: 'tmpfs', Source: '', Destination: '/scratch', Mode: '', RW: true, Propagation: '' },
    { Type: 'volume', Name: cache2, Source: volume(cache2), Destination: '/cache2', Driver: 'local', Mode: '', RW: true, Propagation: '' },
  ]);
  // Only -v /anon declares a volume in Config; the image's own stays beside it.
  t.deepEqual(info.Config.Volumes, { '/var/cache': {}, '/anon': {} });
});

test('bad --mount values are flag errors in docker/cli words; a bind source that does not exist is refused; nothing is left behind', async (t) => {
  const { store, dir } = await withApp(t);
  const before = await snapshotContent(store.root);
  const missingTarget = await strata(store.root, ['create', '--mount', 'type=volume,src=v', 'app:1']);
  t.deepEqual(missingTarget, {
    code: 125,
    stdout: '',
    stderr: 'invalid argument "type=volume,src=v" for "--mount" flag: target is required\nSee \'strata create --help\'.\n',
  });
  const unknownKey = await strata(store.root, ['create', '--mount', 'dst=/x,size=1', 'app:1']);
  t.is(
    unknownKey.stderr,
    "invalid argument \"dst=/x,size=1\" for \"--mount\" flag: unexpected key 'size' in 'size=1'\nSee 'strata create --help'.\n",
  );
  const nowhere = path.join(dir, 'nowhere');
  const bind = await strata(store.root, ['create', '--mount', 'src=v,dst=/v', '--mount', `type=bind,src=${nowhere},dst=/x`, 'app:1']);
  t.deepEqual(
    [bind.code, bind.stderr],
    [125, `strata: invalid mount config for type "bind": bind source path does not exist: ${nowhere}\n`],
  );
  await t.throwsAsync(fs.access(nowhere), undefined, '--mount never creates a bind source, unlike -v');
  const dup = await strata(store.root, ['create', '-v', 'a:/x', '--mount', 'src=b,dst=/x/', 'app:1']);
  t.deepEqual([dup.code, dup.stderr], [125, 'strata: Duplicate mount point: /x\n']);
  const badEnv = await strata(store.root, ['create', '-e', '=oops', 'app:1']);
  t.is(
    badEnv.stderr,
    'invalid argument "=oops" for "-e, --env" flag: invalid environment variable: =oops\nSee \'strata create --help\'.\n',
  );
  const workdir = await strata(store.root, ['create', '-w', 'relative', 'app:1']);
  t.deepEqual(
    [workdir.code, workdir.stderr],
    [125, "strata: the working directory 'relative' is invalid, it needs to be an absolute path\n"],
  );
  const missingFile = path.join(dir, 'no.env');
  const envFile = await strata(store.root, ['create', '--env-file', missingFile, 'app:1']);
  t.deepEqual([envFile.code, envFile.stderr], [125, `strata: open ${missingFile}: no such file or directory\n`]);
  const spaced = path.join(dir, 'spaced.env');
  await fs.writeFile(spaced, 'GOOD=1\nBAD KEY=2\n');
  const badFile = await strata(store.root, ['create', '--env-file', spaced, 'app:1']);
  t.is(badFile.stderr, `strata: ${spaced}: poorly formatted environment: variable 'BAD KEY' contains whitespaces\n`);
  t.deepEqual(await snapshotContent(store.root), before);
});

test('--rm: the container and its anonymous volumes go at stop; named volumes stay; restart keeps it', async (t) => {
  const { store } = await withApp(t);
  const id = (
    await strata(store.root, ['create', '--rm', '--name', 'tmp', '-v', 'keep:/keep', '-v', '/anon', '--mount', 'dst=/anon2', 'app:1'])
  ).stdout.trim();
  t.is((await strata(store.root, ['inspect', '--format', '{{.HostConfig.AutoRemove}}', 'tmp'])).stdout, 'true\n');
  const volumesBefore = (await strata(store.root, ['volume', 'ls', '-q'])).stdout.trim().split('\n').sort();
  t.is(volumesBefore.length, 3);
  t.is((await strata(store.root, ['stop', 'tmp'])).code, 0);
  t.is((await strata(store.root, ['ps', '-aq'])).stdout, `${id.slice(0, 12)}\n`, 'a container that never ran does not exit, so stays');
  await strata(store.root, ['start', 'tmp']);
  t.is((await strata(store.root, ['restart', 'tmp'])).code, 0);
  t.is((await strata(store.root, ['ps', '-q'])).stdout, `${id.slice(0, 12)}\n`, 'restart keeps an --rm container, as Docker');
  t.is((await strata(store.root, ['stop', 'tmp'])).stdout, 'tmp\n');
  t.is((await strata(store.root, ['ps', '-aq'])).stdout, '');
  await t.throwsAsync(fs.access(path.join(store.root, 'containers', id)));
  t.is((await strata(store.root, ['volume', 'ls', '-q'])).stdout, 'keep\n');
});

test('ps --filter label= sees the labels create -l set, and the image labels merged under them', async (t) => {
  const { store } = await withApp(t);
  const web = (await strata(store.root, ['create', '-l', 'team=web', '-l', 'shared=mine', 'app:1'])).stdout.trim().slice(0, 12);
  const other = (await strata(store.root, ['create', 'app:1'])).stdout.trim().slice(0, 12);
  t.is((await strata(store.root, ['ps', '-aq', '--filter', 'label=team=web'])).stdout, `${web}\n`);
  t.is((await strata(store.root, ['ps', '-aq', '--filter', 'label=shared=mine'])).stdout, `${web}\n`);
  t.is((await strata(store.root, ['ps', '-aq', '--filter', 'label=shared=from-image'])).stdout, `${other}\n`);
  t.is(
    (await strata(store.root, ['ps', '-aq', '--filter', 'label=org.example.team=storage'])).stdout
      .split('\n')
      .filter(Boolean)
      .sort()
      .join(','),
    [web, other].sort().join(','),
  );
});

test('--mount takes effect in the view: a new volume gets the image content unless volume-nocopy, tmpfs-size and tmpfs-mode are enforced, ro is read-only', async (t) => {
  const { store } = await withApp(t);
  const created = await strata(store.root, [
    'create',
    '--name',
    'eff',
    '--mount',
    'src=filled,dst=/app',
    '--mount',
    'src=empty,dst=/app2,volume-nocopy',
    '--mount',
    'type=tmpfs,dst=/scratch,tmpfs-size=64k,tmpfs-mode=750',
    '--mount',
    'type=tmpfs,dst=/sealed,ro',
    'app:1',
  ]);
  t.is(created.code, 0, created.stderr);
  const volumeData = (name: string) => fs.readdir(path.join(store.root, 'volumes', name, '_data'));
  t.deepEqual(await volumeData('filled'), ['run'], "the image's /app, copied into the new volume");
  t.deepEqual(await volumeData('empty'), []);
  const view = await containerView(store, await findContainer(store, 'eff'));
  t.is((await view.stat('/scratch')).mode & 0o7777, 0o750);
  await t.throwsAsync(view.writeFile('/scratch/f', Buffer.alloc(100_000)), { code: 'ENOSPC' });
  t.is((await view.stat('/scratch/f')).size, 65_536);
  await t.throwsAsync(view.writeFile('/sealed/x', 'x'), { code: 'EROFS' });
  const info = await inspect(store.root, 'eff');
  t.deepEqual(
    info.Mounts.filter((m: { Type: string }) => m.Type === 'tmpfs').map((m: { Destination: string; RW: boolean }) => [m.Destination, m.RW]),
    [
      ['/scratch', true],
      ['/sealed', false],
    ],
  );
});
