import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import { humanSize, since } from '../../src/cli/format.js';

// Every command that takes --format runs Go templates over the fields docker/cli's
// formatter gives the same listing; `{{json .}}` prints them as Docker prints them.

const CREATED = '2020-01-02T03:04:05Z';
const CREATED_GO = '2020-01-02 03:04:05 +0000 UTC';

async function setup(t: ExecutionContext) {
  const { store, dir } = await tmpStore(t);
  const tar = path.join(dir, 'app.tar');
  await fs.writeFile(
    tar,
    await buildImage({
      format: 'docker',
      repoTags: ['app:1'],
      layers: [
        [
          { path: 'etc/', type: 'dir' },
          { path: 'etc/app.conf', content: 'listen=80\n' },
          { path: 'srv/', type: 'dir' },
          { path: 'srv/keep.txt', content: 'keep\n' },
        ],
      ],
      config: {
        created: CREATED,
        config: { Labels: { 'org.example.tier': 'web', 'org.example.a': 'x' }, Cmd: ['sleep', '1000'] },
        history: [{ created: CREATED, created_by: '/bin/sh -c #(nop) ADD file:abc in /', comment: 'base' }],
      },
    }),
  );
  const s = (args: string[], stdin?: string) => strata(store.root, args, { stdin: stdin === undefined ? undefined : Buffer.from(stdin) });
  t.is((await s(['load', '-q', '-i', tar])).code, 0);
  const id = (await s(['create', '--name', 'web', '-v', 'data:/data', 'app:1'])).stdout.trim();
  t.is((await s(['start', 'web'])).code, 0);
  t.is((await s(['fs', 'write', 'web', '/srv/new.txt'], 'new\n')).code, 0);
  const image = JSON.parse((await s(['images', '--format', 'json'])).stdout);
  const created = (await s(['inspect', '--format', '{{.Created}}', 'web'])).stdout.trim();
  const mountpoint = (await s(['volume', 'inspect', '--format', '{{.Mountpoint}}', 'data'])).stdout.trim();
  return {
    store,
    s,
    id,
    imageId: image.ID as string,
    imageSize: image.Size as number,
    createdGo: `${created.slice(0, 10)} ${created.slice(11, 19)} +0000 UTC`,
    mountpoint,
  };
}

/** A `{{json .}}` line: compact, keys in docker's (sorted) order, the time-relative fields checked by shape. */
function dockerJson(t: ExecutionContext, line: string, expected: Record<string, string>, relative: string[] = []): void {
  const object = JSON.parse(line) as Record<string, string>;
  t.is(JSON.stringify(object), line, 'printed compactly');
  t.deepEqual(Object.keys(object), Object.keys({ ...expected, ...Object.fromEntries(relative.map((k) => [k, ''])) }).sort());
  for (const key of relative) {
    t.regex(object[key]!, /ago$|^Up /, key);
    delete object[key];
  }
  t.deepEqual(object, expected);
}

test("ps: {{json .}} is docker's ContainerContext; a template that shows Size measures it", async (t) => {
  const { s, id, imageSize, createdGo } = await setup(t);
  const size = `4B (virtual ${humanSize(imageSize + 4, 3)})`;
  const out = await s(['ps', '--format', '{{json .}}']);
  t.is(out.code, 0);
  dockerJson(
    t,
    out.stdout.trimEnd(),
    {
      Command: '"sleep 1000"',
      CreatedAt: createdGo,
      ID: id.slice(0, 12),
      Image: 'app:1',
      Labels: 'org.example.a=x,org.example.tier=web',
      LocalVolumes: '1',
      Mounts: 'data',
      Names: 'web',
      Networks: 'none',
      Ports: '',
      Size: size,
      State: 'running',
    },
    ['RunningFor', 'Status'],
  );
  t.true(out.stdout.endsWith('}\n'));
  t.is((await s(['ps', '--no-trunc', '--format', '{{.ID}} {{.Names}}\\t{{.Size}}'])).stdout, `${id} web\t${size}\n`);
  t.is(
    (await s(['ps', '--format', 'table {{.ID}}\\t{{.Names}}\\t{{.LocalVolumes}}'])).stdout,
    `CONTAINER ID   NAMES     LOCAL VOLUMES\n${id.slice(0, 12)}   web       1\n`,
  );
  t.is(
    (await s(['ps', '--format', '{{range $i, $m := split .Labels ","}}{{if $i}};{{end}}{{$m}}{{end}} {{printf "%.5s" .State | upper}}']))
      .stdout,
    'org.example.a=x;org.example.tier=web RUNNI\n',
  );
  // A container made from an image ID shows it cut to 12 digits, whole with --no-trunc.
  const fullId = JSON.parse((await s(['images', '--format', 'json'])).stdout).ID as string;
  await s(['create', '--name', 'byid', fullId]);
  t.is((await s(['ps', '-a', '--format', '{{if eq .Names "byid"}}{{.Image}}{{end}}'])).stdout.trim(), fullId.slice(7, 19));
  t.is((await s(['ps', '-a', '--no-trunc', '--format', '{{if eq .Names "byid"}}{{.Image}}{{end}}'])).stdout.trim(), fullId);
  // --format json stays strata's: integer bytes and full IDs.
  const json = JSON.parse((await s(['ps', '-s', '--format', 'json'])).stdout);
  t.is(json.ID, id);
  t.is(json.Size, 4);
});

test('images, history and volume ls: {{json .}} as docker prints them', async (t) => {
  const { s, imageId, imageSize, mountpoint } = await setup(t);
  dockerJson(t, (await s(['images', '--format', '{{json .}}'])).stdout.trimEnd(), {
    Containers: 'N/A',
    CreatedAt: CREATED_GO,
    CreatedSince: since(CREATED),
    Digest: '<none>',
    ID: imageId.slice(7, 19),
    Repository: 'app',
    SharedSize: 'N/A',
    Size: humanSize(imageSize, 3),
    Tag: '1',
    UniqueSize: 'N/A',
    VirtualSize: humanSize(imageSize),
  });
  t.is(
    (await s(['images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}} {{.CreatedAt}}'])).stdout,
    `${imageId} app:1 ${CREATED_GO}\n`,
  );
  dockerJson(t, (await s(['history', '--format', '{{json .}}', 'app:1'])).stdout.trimEnd(), {
    Comment: 'base',
    CreatedAt: CREATED,
    CreatedBy: '/bin/sh -c #(nop) ADD file:abc in /',
    CreatedSince: since(CREATED),
    ID: imageId.slice(7, 19),
    Size: humanSize(imageSize, 3),
  });
  t.is((await s(['history', '-H=false', '--format', '{{.CreatedSince}} {{.Size}}', 'app:1'])).stdout, `${CREATED} ${imageSize}\n`);
  dockerJson(t, (await s(['volume', 'ls', '--format', '{{json .}}'])).stdout.trimEnd(), {
    Driver: 'local',
    Labels: '',
    Links: 'N/A',
    Mountpoint: mountpoint,
    Name: 'data',
    Scope: 'local',
    Size: 'N/A',
  });
  t.is((await s(['volume', 'ls', '--format', 'table {{.Name}}\\t{{.Driver}}'])).stdout, 'VOLUME NAME   DRIVER\ndata          local\n');
  // Docker's volume inspect: Labels and Options null for a volume made without them.
  const [volume] = JSON.parse((await s(['volume', 'inspect', 'data'])).stdout);
  t.is(volume.Labels, null);
  t.is(volume.Options, null);
  t.is(
    (await s(['image', 'inspect', '--format', '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}', 'app:1'])).stdout,
    'org.example.a=x org.example.tier=web \n',
  );
  t.is(
    (await s(['inspect', '--format', '{{with .GraphDriver.Data}}{{if .UpperDir}}upper{{end}}{{end}} {{len .Config.Cmd}}', 'web'])).stdout,
    'upper 2\n',
  );
});

test('system df: one docker row per type; -v renders once over the four lists, without a newline', async (t) => {
  const { s, id, imageId, imageSize, createdGo, mountpoint } = await setup(t);
  const rows = (await s(['system', 'df', '--format', 'json'])).stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  const summary = await s(['system', 'df', '--format', '{{json .}}']);
  t.is(summary.code, 0);
  t.is(
    summary.stdout,
    `{"Active":"1","Reclaimable":"${humanSize(rows[0].Reclaimable)} (${Math.floor((100 * rows[0].Reclaimable) / imageSize)}%)","Size":"${humanSize(imageSize)}","TotalCount":"1","Type":"Images"}\n` +
      '{"Active":"1","Reclaimable":"0B (0%)","Size":"4B","TotalCount":"1","Type":"Containers"}\n' +
      '{"Active":"1","Reclaimable":"0B","Size":"0B","TotalCount":"1","Type":"Local Volumes"}\n' +
      '{"Active":"0","Reclaimable":"0B","Size":"0B","TotalCount":"0","Type":"Build Cache"}\n',
  );
  t.is(
    (await s(['system', 'df', '--format', 'table {{.Type}}\\t{{.TotalCount}}'])).stdout,
    'TYPE            TOTAL\nImages          1\nContainers      1\nLocal Volumes   1\nBuild Cache     0\n',
  );

  const verbose = await s(['system', 'df', '-v', '--format', '{{json .}}']);
  t.is(verbose.code, 0);
  t.false(verbose.stdout.endsWith('\n'), 'docker/cli adds no newline after a -v template');
  const all = JSON.parse(verbose.stdout);
  t.is(JSON.stringify(all), verbose.stdout);
  t.deepEqual(Object.keys(all), ['Images', 'Containers', 'Volumes', 'BuildCache']);
  dockerJson(t, JSON.stringify(all.Images[0]), {
    Containers: '1',
    CreatedAt: CREATED_GO,
    CreatedSince: since(CREATED),
    Digest: '',
    ID: imageId,
    Repository: 'app',
    SharedSize: '0B',
    Size: humanSize(imageSize, 3),
    Tag: '1',
    UniqueSize: humanSize(imageSize),
    VirtualSize: humanSize(imageSize),
  });
  dockerJson(
    t,
    JSON.stringify(all.Containers[0]),
    {
      Command: '"sleep 1000"',
      CreatedAt: createdGo,
      ID: id,
      Image: 'app:1',
      Labels: 'org.example.a=x,org.example.tier=web',
      LocalVolumes: '1',
      Mounts: 'data',
      Names: 'web',
      Networks: 'none',
      Ports: '',
      Size: '4B',
      State: 'running',
    },
    ['RunningFor', 'Status'],
  );
  t.deepEqual(all.Volumes, [{ Driver: 'local', Labels: '', Links: '1', Mountpoint: mountpoint, Name: 'data', Scope: 'local', Size: '0B' }]);
  t.deepEqual(all.BuildCache, []);
  const custom = await s([
    'system',
    'df',
    '-v',
    '--format',
    '{{range .Images}}{{.Repository}}:{{.Tag}} {{.Containers}}{{println}}{{end}}{{range .Volumes}}{{println .Name .Links}}{{end}}',
  ]);
  t.is(custom.stdout, 'app:1 1\ndata 1\n');
});

test('du, diff, fs ls, fs stat: templates over each entry, {{json .}} of the same fields', async (t) => {
  const { s, imageId } = await setup(t);
  const layers = JSON.parse((await s(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'app:1'])).stdout) as string[];
  const breakdown = JSON.parse((await s(['du', 'web', '--format', 'json'])).stdout);
  const du = JSON.parse((await s(['du', 'web', '--format', '{{json .}}'])).stdout);
  t.deepEqual(
    du.Layers.map((l: { DiffID: string }) => l.DiffID),
    layers,
  );
  t.is(du.Layers[0].SizeBytes, breakdown.layers[0].size);
  t.is(du.Layers[0].Size, humanSize(breakdown.layers[0].size));
  t.deepEqual(du.Upper, {
    Size: '4B',
    New: '4B',
    CopiedUp: '0B',
    Hidden: '0B',
    SizeBytes: 4,
    NewBytes: 4,
    CopiedUpBytes: 0,
    HiddenBytes: 0,
    NewFiles: 1,
    CopiedUpFiles: 0,
    Whiteouts: 0,
  });
  t.is(
    (await s(['du', 'web', '--format', '{{range .Layers}}{{.ID}} {{end}}| {{.Upper.Size}} in {{.Upper.NewFiles}}'])).stdout,
    `${layers[0]!.slice(7, 19)} | 4B in 1\n`,
  );
  t.is((await s(['du', 'app:1', '--format', '{{len .Layers}} {{.Upper}}'])).stdout, '1 <no value>\n');
  t.true(imageId.startsWith('sha256:'));

  t.is((await s(['diff', 'web', '--format', '{{json .}}'])).stdout, '{"Kind":"C","Path":"/srv"}\n{"Kind":"A","Path":"/srv/new.txt"}\n');
  t.is((await s(['diff', 'web', '--format', '{{if eq .Kind "A"}}added {{.Path}}{{end}}'])).stdout, '\nadded /srv/new.txt\n');

  t.is(
    (
      await s([
        'fs',
        'ls',
        'web',
        '/srv',
        '--format',
        '{{.Name}} {{.Mode}} {{.Permissions}} {{.Size}} {{if eq .Layer "upper"}}upper{{else}}lower{{end}}',
      ])
    ).stdout,
    'keep.txt 0644 -rw-r--r-- 5 lower\nnew.txt 0644 -rw-r--r-- 4 upper\n',
  );
  t.is(
    (await s(['fs', 'ls', 'web', '/etc/app.conf', '/srv', '--format', 'table {{.Path}}\\t{{.Size}}'])).stdout,
    'PATH            SIZE\n/etc/app.conf   10\n/srv/keep.txt   5\n/srv/new.txt    4\n',
  );
  const stat = JSON.parse((await s(['fs', 'stat', 'web', '/etc/app.conf', '--format', '{{json .}}'])).stdout);
  t.like(stat, {
    Name: '/etc/app.conf',
    Path: '/etc/app.conf',
    Type: 'file',
    Mode: '0644',
    Permissions: '-rw-r--r--',
    Size: 10,
    Links: 1,
    Target: '',
  });
  t.regex(stat.Modified, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000$/);
  const missing = await s(['fs', 'stat', 'web', '/nope', '/srv/new.txt', '--format', '{{.Name}}={{.Size}}']);
  t.is(missing.stdout, '/srv/new.txt=4\n');
  t.is(missing.stderr, "stat: can't stat '/nope': No such file or directory\n");
  t.is(missing.code, 1);
});

test('check: a template line per problem, fix and note; a bad template repairs nothing', async (t) => {
  const { store, s } = await setup(t);
  const clean = await s(['check', '--format', '{{json .}}']);
  t.is(clean.code, 0);
  t.is(clean.stdout, '');
  const leftover = path.join(store.root, '.tmp-interrupted');
  await fs.writeFile(leftover, 'half');
  const before = await snapshotContent(store.root);
  const bad = await s(['check', '--repair', '--format', '{{.Type']);
  t.is(bad.code, 1);
  t.is(bad.stderr, 'strata: template: :1: unclosed action\n');
  t.deepEqual(await snapshotContent(store.root), before, 'nothing repaired');
  const found = await s(['check', '--format', '{{.Type}} {{.Kind}} {{.Path}}']);
  t.is(found.code, 1);
  t.is(found.stdout, `problem leftover ${leftover}\n`);
  const repaired = await s(['check', '--repair', '--format', '{{.Type}}: {{.Message}}']);
  t.regex(repaired.stdout, /^fixed: .*\.tmp-interrupted/m);
  t.is(repaired.code, 0);
});

test('a template error is one line and exit 1 on every listing, before any output', async (t) => {
  const { s } = await setup(t);
  const cases: [string[], string][] = [
    [['images', '--format', '{{.Nope}}'], 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type image'],
    [['ps', '--format', '{{.ID}} {{.Nope}}'], 'template: :1:10: executing "" at <.Nope>: can\'t evaluate field Nope in type container'],
    [['volume', 'ls', '--format', '{{nope .}}'], 'template: :1: function "nope" not defined'],
    [['history', '--format', '{{range .ID}}', 'app:1'], 'template: :1: unexpected EOF'],
    [
      ['system', 'df', '--format', '{{.Images}}'],
      'template: :1:2: executing "" at <.Images>: can\'t evaluate field Images in type disk usage row',
    ],
    [
      ['system', 'df', '-v', '--format', '{{range .Images}}{{.Nope}}{{end}}'],
      'template: :1:19: executing "" at <.Nope>: can\'t evaluate field Nope in type image',
    ],
    [
      ['du', 'web', '--format', '{{.Upper.Nope}}'],
      'template: :1:2: executing "" at <.Upper.Nope>: can\'t evaluate field Nope in type Upper',
    ],
    [
      ['diff', 'web', '--format', '{{index .Path 99}}'],
      'template: :1:2: executing "" at <index .Path 99>: error calling index: index out of range: 99',
    ],
    [
      ['fs', 'ls', 'web', '/', '--format', '{{.name}}'],
      'template: :1:2: executing "" at <.name>: can\'t evaluate field name in type entry',
    ],
    [['fs', 'stat', 'web', '/', '--format', '{{end}}'], 'template: :1: unexpected {{end}}'],
    [['check', '--format', '{{json .}} {{nope}}'], 'template: :1: function "nope" not defined'],
    [['inspect', '--format', '{{.Nope}}', 'web'], 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type object'],
  ];
  for (const [args, message] of cases) {
    const out = await s(args);
    t.is(out.stderr, `strata: ${message}\n`, args.join(' '));
    t.is(out.code, 1, args.join(' '));
    t.is(out.stdout, '', args.join(' '));
  }
});
