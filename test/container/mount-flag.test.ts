import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mountSpecOf, parseMountFlag } from '../../src/container/mount-flag.js';

// docker/cli opts/mount.go: what each --mount value becomes in HostConfig.Mounts (Go's field order, empty fields left out).
const parses = test.macro({
  exec(t, spec: string, expected: object) {
    const mount = parseMountFlag(spec);
    t.is(JSON.stringify(mount), JSON.stringify(expected));
  },
  title: (_title, spec: string) => `--mount ${spec} parses as Docker's`,
});

test(parses, 'type=volume,src=data,dst=/data', { Type: 'volume', Source: 'data', Target: '/data' });
test(parses, 'source=data,target=/data,readonly', { Type: 'volume', Source: 'data', Target: '/data', ReadOnly: true });
test(parses, 'destination=/data,ro=true,volume-nocopy', {
  Type: 'volume',
  Target: '/data',
  ReadOnly: true,
  VolumeOptions: { NoCopy: true, DriverConfig: {} },
});
test(parses, 'TYPE=Volume,dst=/d,volume-nocopy=false,volume-label=a=b,volume-label=c', {
  Type: 'volume',
  Target: '/d',
  VolumeOptions: { Labels: { a: 'b', c: '' }, DriverConfig: {} },
});
test(parses, 'dst=/d,volume-nocopy=false', { Type: 'volume', Target: '/d', VolumeOptions: { DriverConfig: {} } });
test(parses, 'dst=/d,volume-driver=local,volume-opt=type=nfs,volume-opt=o', {
  Type: 'volume',
  Target: '/d',
  VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'nfs', o: '' } } },
});
test(parses, 'type=bind,src=/srv,dst=/srv,bind-propagation=RSHARED', {
  Type: 'bind',
  Source: '/srv',
  Target: '/srv',
  BindOptions: { Propagation: 'rshared' },
});
test(parses, 'type=tmpfs,dst=/tmp,tmpfs-size=64m,tmpfs-mode=1777', {
  Type: 'tmpfs',
  Target: '/tmp',
  TmpfsOptions: { SizeBytes: 67108864, Mode: 0o1777 },
});
test(parses, 'type=tmpfs,dst=/tmp,tmpfs-size=1.5GiB', { Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: 1610612736 } });
test(parses, 'type=tmpfs,dst=/tmp,tmpfs-size=4096', { Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: 4096 } });
test(parses, '"type=bind","src=/a,b",dst=/x', { Type: 'bind', Source: '/a,b', Target: '/x' });
test(parses, 'type=bind,src=/a,dst=/x,consistency=Cached', { Type: 'bind', Source: '/a', Target: '/x', Consistency: 'cached' });

test('a relative ./source is made absolute, as docker/cli does', (t) => {
  t.is(parseMountFlag('type=bind,src=./here,dst=/x').Source, path.resolve('here'));
  t.is(parseMountFlag('type=bind,src=.,dst=/x').Source, process.cwd());
  t.is(parseMountFlag('type=bind,src=here,dst=/x').Source, 'here', 'only ./ and . are resolved; the daemon refuses the rest');
});

const refuses = test.macro({
  exec(t, spec: string, reason: string) {
    t.throws(() => parseMountFlag(spec), {
      code: 'EUSAGE',
      message: `invalid argument ${JSON.stringify(spec)} for "--mount" flag: ${reason}`,
    });
  },
  title: (_title, spec: string) => `--mount ${JSON.stringify(spec)} is refused in docker/cli's words`,
});

test(refuses, 'type=volume,src=data', 'target is required');
test(refuses, 'dst=/x,type=', 'type is required');
test(refuses, 'dst=/x,bogus', "invalid field 'bogus' must be a key=value pair");
test(refuses, 'dst=/x,colour=red', "unexpected key 'colour' in 'colour=red'");
test(refuses, 'dst=/x,readonly=maybe', 'invalid value for readonly: maybe');
test(refuses, 'dst=/x,volume-nocopy=2', 'invalid value for volume-nocopy: 2');
test(refuses, 'type=tmpfs,dst=/x,tmpfs-size=lots', 'invalid value for tmpfs-size: lots');
test(refuses, 'type=tmpfs,dst=/x,tmpfs-mode=999', 'invalid value for tmpfs-mode: 999');
test(refuses, 'type=bind,src=/a,dst=/x,volume-nocopy', "cannot mix 'volume-*' options with mount type 'bind'");
test(refuses, 'type=volume,dst=/x,bind-propagation=shared', "cannot mix 'bind-*' options with mount type 'volume'");
test(refuses, 'type=bind,src=/a,dst=/x,tmpfs-size=1m', "cannot mix 'tmpfs-*' options with mount type 'bind'");
test(refuses, '', 'EOF');

const invalid = test.macro({
  exec(t, spec: string, reason: string) {
    t.throws(() => mountSpecOf(parseMountFlag(spec)), { code: 'EUSAGE', message: reason });
  },
  title: (_title, spec: string) => `--mount ${spec} is refused as Docker's daemon refuses it`,
});

test(
  invalid,
  'type=volume,src=v,dst=relative',
  `invalid mount config for type "volume": invalid mount path: 'relative' mount path must be absolute`,
);
test(invalid, 'type=volume,src=v,dst=/', `invalid mount config for type "volume": invalid specification: destination can't be '/'`);
test(invalid, 'type=volume,dst=/x,ro', 'invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes');
test(invalid, 'type=bind,dst=/x', 'invalid mount config for type "bind": field Source must not be empty');
test(invalid, 'type=bind,src=rel,dst=/x', `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`);
test(
  invalid,
  'type=bind,src=/nonexistent-strata-source,dst=/x',
  'invalid mount config for type "bind": bind source path does not exist: /nonexistent-strata-source',
);
test(
  invalid,
  'type=bind,src=/,dst=/x,bind-propagation=sideways',
  'invalid mount config for type "bind": invalid propagation mode: sideways',
);
test(invalid, 'type=tmpfs,src=x,dst=/x', 'invalid mount config for type "tmpfs": field Source must not be specified');
test(invalid, 'type=npipe,src=x,dst=/x', 'invalid mount config for type "npipe": mount type unknown');

test('each type resolves to the MountSpec -v and --tmpfs give; an anonymous volume gets a fresh 64-hex name', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-mount-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  t.deepEqual(mountSpecOf(parseMountFlag(`type=bind,src=${dir},dst=/h/,ro`)), {
    type: 'bind',
    source: dir,
    destination: '/h',
    readOnly: true,
  });
  t.deepEqual(mountSpecOf(parseMountFlag('src=data,dst=/data//x/..')), {
    type: 'volume',
    name: 'data',
    destination: '/data',
    readOnly: false,
    anonymous: false,
  });
  t.deepEqual(mountSpecOf(parseMountFlag('type=tmpfs,dst=/run')), { type: 'tmpfs', destination: '/run' });
  // Size, mode and ro reach the view in the words of --tmpfs PATH:OPTIONS; nocopy as -v's nocopy does.
  t.deepEqual(mountSpecOf(parseMountFlag('type=tmpfs,dst=/run,tmpfs-size=1m,tmpfs-mode=700,ro')), {
    type: 'tmpfs',
    destination: '/run',
    options: 'ro,size=1048576,mode=700',
  });
  t.deepEqual(mountSpecOf(parseMountFlag('src=v,dst=/v,volume-nocopy')), {
    type: 'volume',
    name: 'v',
    destination: '/v',
    readOnly: false,
    anonymous: false,
    noCopy: true,
  });
  const anonymous = mountSpecOf(parseMountFlag('dst=/cache'));
  t.like(anonymous, { type: 'volume', destination: '/cache', readOnly: false, anonymous: true });
  t.regex((anonymous as { name: string }).name, /^[0-9a-f]{64}$/);
});
