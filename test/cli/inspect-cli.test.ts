import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImageWithInfo, FIXED_CREATED } from '../helpers/image-builder.js';
import { containerView } from '../../src/container/view.js';
import { findContainer } from '../../src/container/lookup.js';
import { chainIds } from '../../src/layer/chain-id.js';
import { goTimeText } from '../../src/image/inspect.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { readDockerRecord } from '../helpers/docker-record.js';
import { testUnless } from '../helpers/skip.js';
import { execFileSync } from 'node:child_process';

async function withImage(t: ExecutionContext, config: Record<string, unknown> = {}) {
  const { store, dir } = await tmpStore(t);
  const file = path.join(dir, 'app.tar');
  const { tar, image } = await buildImageWithInfo({
    format: 'docker',
    repoTags: ['app:1'],
    layers: [[{ path: 'etc/app.conf', content: 'hello' }], [{ path: 'bin/tool', content: '#!/bin/sh\n' }]],
    config,
  });
  await fs.writeFile(file, tar);
  t.is((await strata(store.root, ['load', '-q', '-i', file])).code, 0);
  return { store, dir, image };
}

test("image inspect prints Docker 20.10's whole shape: every field in order, the config read as Go reads it", async (t) => {
  const { store, image } = await withImage(t, {
    author: 'someone@example.com',
    docker_version: '20.10.24',
    container: 'c0ffee',
    container_config: { Cmd: ['/bin/sh', '-c', '#(nop) CMD ["tool"]'], Unknown: 1 },
    config: {
      Env: ['PATH=/bin'],
      Cmd: ['tool'],
      Labels: { a: 'b' },
      ExposedPorts: { '53/udp': {} },
      StopSignal: 'SIGTERM',
      NotDockers: true,
    },
  });
  const [info] = JSON.parse((await strata(store.root, ['image', 'inspect', 'app:1'])).stdout);
  t.regex(info.Metadata.LastTagTime, /^\d{4}-\d\d-\d\dT/);
  const [bottom, top] = chainIds(image.layers.map((l) => l.diffId));
  const diff = (chainId: string) => path.join(store.root, 'layers', chainId.replace('sha256:', ''), 'diff');
  const empty = {
    Hostname: '',
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Cmd: null,
    Image: '',
    Volumes: null,
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
  };
  t.is(
    JSON.stringify(info),
    JSON.stringify({
      Id: image.imageId,
      RepoTags: ['app:1'],
      RepoDigests: [],
      Parent: '',
      Comment: '',
      // Go's RFC3339Nano drops a zero fraction: the builder's 2023-11-14T22:13:20.000Z prints as Docker would print it.
      Created: FIXED_CREATED.replace('.000Z', 'Z'),
      Container: 'c0ffee',
      ContainerConfig: { ...empty, Cmd: ['/bin/sh', '-c', '#(nop) CMD ["tool"]'] },
      DockerVersion: '20.10.24',
      Author: 'someone@example.com',
      Config: {
        Hostname: '',
        Domainname: '',
        User: '',
        AttachStdin: false,
        AttachStdout: false,
        AttachStderr: false,
        ExposedPorts: { '53/udp': {} },
        Tty: false,
        OpenStdin: false,
        StdinOnce: false,
        Env: ['PATH=/bin'],
        Cmd: ['tool'],
        Image: '',
        Volumes: null,
        WorkingDir: '',
        Entrypoint: null,
        OnBuild: null,
        Labels: { a: 'b' },
        StopSignal: 'SIGTERM',
      },
      Architecture: image.platform.architecture,
      ...(image.platform.variant ? { Variant: image.platform.variant } : {}),
      Os: 'linux',
      Size: 15,
      VirtualSize: 15,
      GraphDriver: { Name: 'strata-oci', Data: { LowerDir: diff(bottom!), UpperDir: diff(top!) } },
      RootFS: { Type: 'layers', Layers: image.layers.map((l) => l.diffId) },
      Metadata: { LastTagTime: info.Metadata.LastTagTime },
    }),
  );
  t.is(
    (await strata(store.root, ['image', 'inspect', '--format', '{{.Size}} {{.VirtualSize}} {{json .ContainerConfig.Labels}}', 'app:1']))
      .stdout,
    '15 15 null\n',
  );
});

test('timestamps print as Go prints them: trailing zeros of the fraction dropped, the offset kept', (t) => {
  t.is(goTimeText('2023-11-14T22:13:20.000Z'), '2023-11-14T22:13:20Z');
  t.is(goTimeText('2026-12-03T10:24:29.590Z'), '2026-12-03T10:24:29.59Z');
  t.is(goTimeText('2026-11-23T05:31:23.029994513Z'), '2026-11-23T05:31:23.029994513Z');
  t.is(goTimeText('2026-11-23T05:31:23.100000000+02:00'), '2026-11-23T05:31:23.1+02:00');
  t.is(goTimeText('2026-11-23T05:31:23Z'), '2026-11-23T05:31:23Z');
});

test('inspect -s adds SizeRw (the upper dir) and SizeRootFs (the image plus SizeRw); without -s neither is there', async (t) => {
  const { store } = await withImage(t);
  await strata(store.root, ['create', '--name', 'sized', 'app:1']);
  const view = await containerView(store, await findContainer(store, 'sized'));
  await view.writeFile('/data.bin', Buffer.alloc(1000, 1));
  await view.writeFile('/etc/app.conf', 'changed!');
  const plain = JSON.parse((await strata(store.root, ['inspect', 'sized'])).stdout)[0];
  t.false('SizeRw' in plain);
  t.false('SizeRootFs' in plain);
  const sized = JSON.parse((await strata(store.root, ['inspect', '-s', 'sized'])).stdout)[0];
  t.deepEqual([sized.SizeRw, sized.SizeRootFs], [1008, 1023]);
  const keys = Object.keys(sized);
  t.deepEqual(
    keys.slice(keys.indexOf('GraphDriver'), keys.indexOf('GraphDriver') + 4),
    ['GraphDriver', 'SizeRw', 'SizeRootFs', 'Mounts'],
    "Docker's place for them",
  );
  t.is((await strata(store.root, ['inspect', '--size', '--format', '{{.SizeRw}}/{{.SizeRootFs}}', 'sized'])).stdout, '1008/1023\n');
  t.is((await strata(store.root, ['inspect', '-s', '--format', '{{.Size}}', 'app:1'])).stdout, '15\n', '-s means nothing to an image');
});

test('inspect finds volumes after containers and images; --type picks one kind and says which was missing', async (t) => {
  const { store } = await withImage(t);
  await strata(store.root, ['volume', 'create', 'cache']);
  await strata(store.root, ['create', '--name', 'both', 'app:1']);
  const [volume] = JSON.parse((await strata(store.root, ['inspect', 'cache'])).stdout);
  t.deepEqual(volume, JSON.parse((await strata(store.root, ['volume', 'inspect', 'cache'])).stdout)[0]);
  t.is(volume.Mountpoint, path.join(store.root, 'volumes', 'cache', '_data'));
  t.is((await strata(store.root, ['inspect', '--type', 'volume', '--format', '{{.Name}} {{.Driver}}', 'cache'])).stdout, 'cache local\n');
  const notFound = async (args: string[], stderr: string) => {
    t.deepEqual(await strata(store.root, ['inspect', ...args]), { code: 1, stdout: '[]\n', stderr }, args.join(' '));
  };
  await notFound(['nosuch'], 'Error: No such object: nosuch\n');
  await notFound(['--type', 'volume', 'both'], 'Error: No such volume: both\n');
  await notFound(['--type', 'image', 'both'], 'Error: No such image: both\n');
  await notFound(['--type', 'container', 'cache'], 'Error: No such container: cache\n');
  const bad = await strata(store.root, ['inspect', '--type', 'network', 'cache']);
  t.deepEqual([bad.code, bad.stderr], [1, 'strata: "network" is not a valid value for --type\n']);
  // As docker: what was found is printed, each missing name reported, and the exit is 1.
  const mixed = await strata(store.root, ['inspect', '--format', '{{.Name}}', 'both', 'gone', 'cache']);
  t.deepEqual(mixed, { code: 1, stdout: '/both\ncache\n', stderr: 'Error: No such object: gone\n' });
});

test('strata info counts containers, images, volumes and layers and names the root and driver, as docker info lays them out', async (t) => {
  const { store } = await withImage(t);
  await strata(store.root, ['create', '--name', 'up', '-v', 'v1:/v', 'app:1']);
  await strata(store.root, ['create', 'app:1']);
  await strata(store.root, ['start', 'up']);
  const blobs = (await fs.readdir(path.join(store.root, 'blobs', 'sha256'))).length;
  const out = await strata(store.root, ['info']);
  t.is(out.code, 0);
  const lines = out.stdout.split('\n');
  t.deepEqual(lines.slice(0, -2), [
    'Containers: 2',
    ' Running: 1',
    ' Paused: 0',
    ' Stopped: 1',
    'Images: 1',
    'Volumes: 1',
    'Layers: 2',
    `Blobs: ${blobs}`,
    `Strata Version: ${JSON.parse(await fs.readFile(new URL('../../../package.json', import.meta.url), 'utf8')).version}`,
    'Storage Driver: strata-oci',
    ' Whiteout Format: oci',
    ' Rootless: false',
    ' Store Format: 1',
    `Strata Root Dir: ${store.root}`,
  ]);
  const json = JSON.parse((await strata(store.root, ['info', '--format', 'json'])).stdout);
  t.like(json, {
    Containers: 2,
    ContainersRunning: 1,
    ContainersPaused: 0,
    ContainersStopped: 1,
    Images: 1,
    Volumes: 1,
    Layers: 2,
    Blobs: blobs,
    Driver: 'strata-oci',
    WhiteoutFormat: 'oci',
    Rootless: false,
    StrataRootDir: store.root,
  });
  t.true(json.StoreSize > 15, 'the store holds at least the image');
  t.is(lines.at(-2), `Store Size: ${sizeText(json.StoreSize)} (${json.StoreSize} bytes; ${sizeText(json.StoreAllocatedSize)} allocated)`);
  t.is(
    (await strata(store.root, ['system', 'info', '--format', '{{.Containers}} {{.ContainersRunning}} {{.Driver}}'])).stdout,
    '2 1 strata-oci\n',
  );
  t.is(
    (await strata(store.root, ['info', '--format', '{{range .DriverStatus}}{{index . 0}}={{index . 1}};{{end}}'])).stdout,
    'Whiteout Format=oci;Rootless=false;Store Format=1;\n',
  );
  const bad = await strata(store.root, ['info', '--format', '{{.Nope}}']);
  t.deepEqual([bad.code, bad.stdout], [1, '']);
  t.regex(bad.stderr, /can't evaluate field Nope in type info/);
});

/** The kB figures a small store has, as go-units prints them with 4 significant digits. */
function sizeText(bytes: number): string {
  if (bytes < 1000) return `${bytes}B`;
  return `${Number((bytes / 1000).toPrecision(4))}kB`;
}

test('container inspect looks at containers only and takes -s', async (t) => {
  const { store } = await withImage(t);
  await strata(store.root, ['create', '--name', 'box', 'app:1']);
  t.is(
    (await strata(store.root, ['container', 'inspect', '-s', '--format', '{{.Name}} {{.SizeRw}} {{.SizeRootFs}}', 'box'])).stdout,
    '/box 0 15\n',
  );
  t.deepEqual(await strata(store.root, ['container', 'inspect', 'app:1']), {
    code: 1,
    stdout: '[]\n',
    stderr: 'Error: No such container: app:1\n',
  });
});

testUnless(sharedSkipReason())(
  "image inspect of Docker's own images prints what Docker printed, and its Config as Docker wrote it",
  async (t) => {
    const { store } = await tmpStore(t);
    for (const name of ['dk-base', 'dk-features']) {
      t.is((await strata(store.root, ['load', '-q', '-i', path.join(conformanceImages, `${name}.docker.tar`)])).code, 0);
    }
    // ../shared/conformance/docker/01-load.txt: `docker image inspect REF --format '…Size={{.Size}} VirtualSize={{.VirtualSize}}'`.
    const recorded = readDockerRecord('01-load.txt').filter((c) =>
      /^docker image inspect lab\/(base|features):1\.0 --format .*VirtualSize/.test(c.command),
    );
    t.is(recorded.length, 2);
    for (const { command, output } of recorded) {
      const [, ref, format] = /^docker image inspect (\S+) --format '(.*)'$/.exec(command)!;
      t.is((await strata(store.root, ['image', 'inspect', ref!, '--format', format!])).stdout, `${output.join('\n')}\n`, command);
    }
    // Docker wrote these configs by marshalling the very structs its inspect prints: same fields, same order.
    const tarball = path.join(conformanceImages, 'dk-base.docker.tar');
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', tarball, 'manifest.json'], { encoding: 'utf8' }));
    const config = JSON.parse(execFileSync('tar', ['-xOf', tarball, manifest[0].Config], { encoding: 'utf8' }));
    const [info] = JSON.parse((await strata(store.root, ['image', 'inspect', 'lab/base:1.0'])).stdout);
    t.is(JSON.stringify(info.Config), JSON.stringify(config.config));
    t.is(JSON.stringify(info.ContainerConfig), JSON.stringify(config.container_config));
    t.deepEqual(
      [info.Created, info.DockerVersion, info.Comment, info.Container, info.Parent],
      [config.created, '20.10.24+dfsg1', 'strata lab busybox base', '', ''],
    );
    t.deepEqual(Object.keys(info), [
      'Id',
      'RepoTags',
      'RepoDigests',
      'Parent',
      'Comment',
      'Created',
      'Container',
      'ContainerConfig',
      'DockerVersion',
      'Author',
      'Config',
      'Architecture',
      'Os',
      'Size',
      'VirtualSize',
      'GraphDriver',
      'RootFS',
      'Metadata',
    ]);
  },
);

test('a container recorded before create kept a config still inspects: Cmd from its command, Docker empty values elsewhere', async (t) => {
  const { store } = await withImage(t);
  const id = (await strata(store.root, ['create', '--name', 'old', '-l', 'x=y', '--rm', 'app:1', 'tool', '--flag'])).stdout.trim();
  const file = path.join(store.root, 'containers', id, 'config.json');
  const { config: _config, labels: _labels, autoRemove: _autoRemove, ...older } = JSON.parse(await fs.readFile(file, 'utf8'));
  await fs.writeFile(file, JSON.stringify(older));
  const info = JSON.parse((await strata(store.root, ['inspect', 'old'])).stdout)[0];
  t.is(info.HostConfig.AutoRemove, false);
  t.like(info.Config, {
    Hostname: id.slice(0, 12),
    User: '',
    Env: null,
    Cmd: ['tool', '--flag'],
    Entrypoint: null,
    WorkingDir: '',
    Labels: {},
  });
  await strata(store.root, ['start', 'old']);
  await strata(store.root, ['stop', 'old']);
  t.is((await strata(store.root, ['ps', '-aq'])).stdout, `${id.slice(0, 12)}\n`, 'no AutoRemove recorded: stop keeps it');
});
