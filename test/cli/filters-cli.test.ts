import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { strata, repoRoot } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImageWithInfo, type LayerEntry } from '../helpers/image-builder.js';
import { readContainerRecord, writeContainerRecord, containerFile } from '../../src/container/record.js';
import type { Store } from '../../src/store/root.js';

const demo = path.join(repoRoot, 'fixtures', 'demo.tar');

/**
 * web (running, label tier=front, volume data:/data), db (created, tier=back env=prod,
 * bind /srv:/var/lib/db), job (started and stopped with exit code 0), created in that order.
 */
async function threeContainers(t: Parameters<typeof tmpStore>[0]) {
  const { store, dir } = await tmpStore(t);
  t.is((await strata(store.root, ['load', '-q', '-i', demo])).code, 0);
  const ids: Record<string, string> = {};
  const specs: Array<[string, string[], Record<string, string>]> = [
    ['web', ['-v', 'data:/data'], { tier: 'front' }],
    ['db', ['-v', `${path.join(dir, 'srv')}:/var/lib/db`], { tier: 'back', env: 'prod' }],
    ['job', [], {}],
  ];
  for (const [name, flags, labels] of specs) {
    const out = await strata(store.root, ['create', '--name', name, ...flags, 'demo']);
    t.is(out.code, 0, out.stderr);
    ids[name] = out.stdout.trim();
    await setLabels(store, ids[name]!, labels);
    // Creation times a few milliseconds apart at least, so the order is the creation order.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await strata(store.root, ['start', 'web', 'job']);
  await strata(store.root, ['stop', 'job']);
  return { store, dir, ids };
}

/** Labels as `create -l` records them (ContainerRecord.labels). */
async function setLabels(store: Store, id: string, labels: Record<string, string>): Promise<void> {
  if (Object.keys(labels).length === 0) return;
  const record = await readContainerRecord(store, id);
  await writeContainerRecord(store, { ...record, labels } as typeof record);
}

const names = (out: { stdout: string }) => out.stdout;
const ps = (root: string, ...args: string[]) => strata(root, ['ps', '--format', '{{.Names}}', ...args]);

test('ps --filter name= is an unanchored regexp on the name, with or without its leading slash', async (t) => {
  const { store } = await threeContainers(t);
  t.is(names(await ps(store.root, '-a', '--filter', 'name=[jd]')), 'job\ndb\n');
  t.is(names(await ps(store.root, '-a', '-f', 'name=^/d')), 'db\n');
  t.is(names(await ps(store.root, '-a', '-f', 'name=^db$')), 'db\n');
  t.is(names(await ps(store.root, '-a', '-f', 'name=^web', '-f', 'name=^job')), 'job\nweb\n', 'one key given twice: either value');
  t.is(names(await ps(store.root, '-f', 'name=b')), 'web\n', 'without -a only running containers');
  t.is(names(await ps(store.root, '-a', '-f', 'name=(')), '', 'an invalid expression matches nothing, as in Docker');
});

test("ps --filter status= selects by state, implies -a, and rejects other values in Docker's words", async (t) => {
  const { store } = await threeContainers(t);
  t.is(names(await ps(store.root, '-f', 'status=created')), 'db\n');
  t.is(names(await ps(store.root, '-f', 'status=exited')), 'job\n');
  t.is(names(await ps(store.root, '-f', 'status=running', '-f', 'status=exited')), 'job\nweb\n');
  t.is(names(await ps(store.root, '-f', 'status=paused')), '');
  const bad = await strata(store.root, ['ps', '-f', 'status=foo']);
  t.is(bad.code, 1);
  t.is(bad.stdout, '');
  t.is(bad.stderr, "strata: Invalid filter 'status=foo'\n");
});

test('ps --filter keys combine: different keys must all match, label values all match too', async (t) => {
  const { store } = await threeContainers(t);
  t.is(names(await ps(store.root, '-a', '-f', 'label=tier')), 'db\nweb\n');
  t.is(names(await ps(store.root, '-a', '-f', 'label=tier=back')), 'db\n');
  t.is(names(await ps(store.root, '-a', '-f', 'label=tier', '-f', 'label=env=prod')), 'db\n', 'Docker requires every label value');
  t.is(names(await ps(store.root, '-a', '-f', 'label=tier=front', '-f', 'label=env')), '');
  t.is(names(await ps(store.root, '-a', '-f', 'label=tier', '-f', 'status=running')), 'web\n');
  t.is(names(await ps(store.root, '-a', '-f', 'name=b', '-f', 'status=exited')), 'job\n');
  t.is(names(await ps(store.root, '-a', '-f', 'name=b', '-f', 'label=tier')), 'db\nweb\n');
});

test('ps --filter id= takes a unique ID prefix; volume= a volume name, bind source or destination', async (t) => {
  const { store, dir, ids } = await threeContainers(t);
  t.is(names(await ps(store.root, '-a', '-f', `id=${ids.db!.slice(0, 10)}`)), 'db\n');
  t.is(names(await ps(store.root, '-a', '-f', `id=${ids.db}`, '-f', `id=${ids.job!.slice(0, 12)}`)), 'job\ndb\n');
  t.is(names(await ps(store.root, '-a', '-f', 'id=zz')), '');
  t.is(names(await ps(store.root, '-a', '-f', 'volume=data')), 'web\n');
  t.is(names(await ps(store.root, '-a', '-f', 'volume=/var/lib/db')), 'db\n');
  t.is(names(await ps(store.root, '-a', '-f', `volume=${path.join(dir, 'srv')}`)), 'db\n');
  t.is(names(await ps(store.root, '-a', '-f', 'volume=/data', '-f', 'volume=/var/lib/db')), 'db\nweb\n');
  t.is(names(await ps(store.root, '-a', '-f', 'volume=/nowhere')), '');
});

test('ps --filter before=/since= are by creation order and name a container by name or full ID', async (t) => {
  const { store, ids } = await threeContainers(t);
  t.is(names(await ps(store.root, '-a', '-f', 'before=job')), 'db\nweb\n');
  t.is(names(await ps(store.root, '-a', '-f', 'since=web')), 'job\ndb\n');
  t.is(names(await ps(store.root, '-a', '-f', `since=${ids.web}`, '-f', 'before=job')), 'db\n');
  t.is(names(await ps(store.root, '-f', 'before=job')), 'web\n', 'without -a, still only running ones');
  const missing = await strata(store.root, ['ps', '-f', 'before=nosuch']);
  t.is(missing.code, 1);
  t.is(missing.stderr, 'strata: no such container nosuch\n');
});

test('ps --filter ancestor= matches the image by name or ID, and images built on its layer chain', async (t) => {
  const { store, ids } = await fourImages(t);
  for (const [name, image] of [
    ['onbase', 'base:1'],
    ['onapp1', 'app:1'],
    ['onapp2', ids.app2!],
    ['onloose', ids.loose!.slice(7, 19)],
  ]) {
    t.is((await strata(store.root, ['create', '--name', name!, image!])).code, 0);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  t.is(names(await ps(store.root, '-a', '-f', 'ancestor=base:1')), 'onapp2\nonapp1\nonbase\n', 'app:1 and app:2 are built on base:1');
  t.is(names(await ps(store.root, '-a', '-f', 'ancestor=app:1')), 'onapp1\n');
  t.is(names(await ps(store.root, '-a', '-f', `ancestor=${ids.app2!.slice(7, 17)}`)), 'onapp2\n');
  t.is(names(await ps(store.root, '-a', '-f', 'ancestor=app:1', '-f', 'ancestor=app:2')), 'onapp2\nonapp1\n');
  t.is(
    names(await ps(store.root, '-a', '-f', 'ancestor=app:1', '-f', 'ancestor=nosuch')),
    'onapp1\n',
    'a name that finds no image is passed over',
  );
  t.is(names(await ps(store.root, '-a', '-f', 'ancestor=nosuch')), '', 'no image found: nothing matches');
  t.is(names(await ps(store.root, '-a', '-f', 'ancestor=base:1', '-f', 'name=app')), 'onapp2\nonapp1\n');
});

test('ps -n N shows the N last created in any state, -l the latest; both work with -q and filters', async (t) => {
  const { store, ids } = await threeContainers(t);
  t.is(names(await ps(store.root, '-n', '2')), 'job\ndb\n');
  t.is(names(await ps(store.root, '-l')), 'job\n');
  t.is(names(await ps(store.root, '-n=2', '-f=status=created')), 'db\n', "pflag's short -n=2 and -f=KEY=VALUE");
  t.is(names(await ps(store.root, '--latest', '-n', '3')), 'job\ndb\nweb\n', '-n wins over -l, as in docker/cli');
  t.is(names(await ps(store.root, '-n', '0')), 'web\n', '-n 0 is no limit: running only');
  t.is((await strata(store.root, ['ps', '-l', '-q'])).stdout, `${ids.job!.slice(0, 12)}\n`);
  t.is(names(await ps(store.root, '-n', '1', '-f', 'label=tier')), 'db\n');
  const bad = await strata(store.root, ['ps', '-n', 'x']);
  t.is(bad.code, 125);
  t.is(
    bad.stderr,
    'invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax\nSee \'strata ps --help\'.\n',
  );
});

test('ps filters apply to -q and --format json; container ls takes them too', async (t) => {
  const { store, ids } = await threeContainers(t);
  t.is((await strata(store.root, ['ps', '-q', '-f', 'status=created'])).stdout, `${ids.db!.slice(0, 12)}\n`);
  t.is((await strata(store.root, ['container', 'ls', '-q', '--no-trunc', '-f', 'name=job', '-a'])).stdout, `${ids.job}\n`);
  const json = (await strata(store.root, ['ps', '-a', '--format', 'json', '-f', 'label=tier=back'])).stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    json.map((c: { ID: string; Names: string }) => [c.ID, c.Names]),
    [[ids.db, 'db']],
  );
});

test("ps --filter refuses unknown keys and values without = in Docker's words", async (t) => {
  const { store } = await threeContainers(t);
  const unknown = await strata(store.root, ['ps', '-f', 'colour=blue']);
  t.deepEqual([unknown.code, unknown.stdout, unknown.stderr], [1, '', "strata: Invalid filter 'colour'\n"]);
  const noEq = await strata(store.root, ['ps', '--filter', 'running']);
  t.deepEqual(
    [noEq.code, noEq.stdout, noEq.stderr],
    [
      125,
      '',
      'invalid argument "running" for "-f, --filter" flag: bad format of filter (expected name=value)\nSee \'strata ps --help\'.\n',
    ],
  );
  t.is(names(await ps(store.root, '-a', '-f', ' NAME = db ')), 'db\n', 'key lower-cased, both sides trimmed, as docker/cli does');
  const exited = await strata(store.root, ['ps', '-f', 'exited=x']);
  t.is(exited.stderr, 'strata: strconv.Atoi: parsing "x": invalid syntax\n');
  t.is(names(await ps(store.root, '-a', '-f', 'exited=0')), 'job\n', 'only containers that ran and exited with that code');
  t.is(names(await ps(store.root, '-f', 'exited=0')), '', 'exited= does not imply -a, as in Docker');
});

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/os-release', content: 'ID=base\n' },
];

/** base:1 (2020, label tier=base), app:1 and app:2 (2021 and 2022, on base), and one untagged image (2023). */
async function fourImages(t: Parameters<typeof tmpStore>[0]) {
  const { store, dir } = await tmpStore(t);
  const ids: Record<string, string> = {};
  const built = async (tag: string, layers: LayerEntry[][], created: string, labels: Record<string, string> | null) => {
    const { tar, image } = await buildImageWithInfo({
      format: 'oci',
      repoTags: [tag],
      layers,
      config: { created, config: { Labels: labels } },
    });
    const file = path.join(dir, `${tag.replace(/[:/]/g, '_')}.tar`);
    await fs.writeFile(file, tar);
    t.is((await strata(store.root, ['load', '-q', '-i', file])).code, 0);
    return image;
  };
  const baseImage = await built('base:1', [base], '2020-01-01T00:00:00Z', { tier: 'base' });
  const app1 = await built('app:1', [base, [{ path: 'app', content: '1\n' }]], '2021-01-01T00:00:00.000000001Z', { tier: 'app', v: '1' });
  const app2 = await built('app:2', [base, [{ path: 'app', content: '2\n' }]], '2022-01-01T00:00:00Z', null);
  const loose = await built('loose:1', [[{ path: 'loose', content: 'x\n' }]], '2023-01-01T00:00:00Z', { tier: 'app' });
  await untag(store, 'loose:1');
  for (const [name, image] of [
    ['base', baseImage],
    ['app1', app1],
    ['app2', app2],
    ['loose', loose],
  ] as const)
    ids[name] = image.imageId;
  return { store, dir, ids, manifests: { base: baseImage.manifestDigest, app1: app1.manifestDigest, app2: app2.manifestDigest } };
}

/** Drops a tag and keeps the image: what a later load of the same tag onto another image leaves. */
async function untag(store: Store, tag: string): Promise<void> {
  const file = path.join(store.root, 'tags.json');
  const tags = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, string>;
  const key = Object.keys(tags).find((k) => k === tag || k.endsWith(`/${tag}`));
  if (key === undefined) throw new Error(`no tag ${tag} in ${JSON.stringify(tags)}`);
  delete tags[key];
  await fs.writeFile(file, JSON.stringify(tags));
}

const tagsOf = (out: { stdout: string }) => out.stdout;
const images = (root: string, ...args: string[]) => strata(root, ['images', '--format', '{{.Repository}}:{{.Tag}}', ...args]);

test('images --filter dangling= takes exactly true or false', async (t) => {
  const { store } = await fourImages(t);
  t.is(tagsOf(await images(store.root)), '<none>:<none>\napp:2\napp:1\nbase:1\n');
  t.is(tagsOf(await images(store.root, '-f', 'dangling=true')), '<none>:<none>\n');
  t.is(tagsOf(await images(store.root, '-f', 'dangling=false')), 'app:2\napp:1\nbase:1\n');
  const bad = await strata(store.root, ['images', '-f', 'dangling=1']);
  t.deepEqual([bad.code, bad.stdout, bad.stderr], [1, '', "strata: Invalid filter 'dangling=[1]'\n"]);
});

test('images --filter reference= is a path.Match glob on repo:tag or repo; images REPO is the same filter', async (t) => {
  const { store } = await fourImages(t);
  t.is(tagsOf(await images(store.root, '-f', 'reference=app')), 'app:2\napp:1\n');
  t.is(tagsOf(await images(store.root, '-f', 'reference=app:1')), 'app:1\n');
  t.is(tagsOf(await images(store.root, '-f', 'reference=*:1')), 'app:1\nbase:1\n');
  t.is(tagsOf(await images(store.root, '-f', 'reference=a?p:[2-9]', '-f', 'reference=b*')), 'app:2\nbase:1\n');
  t.is(tagsOf(await images(store.root, '-f', 'reference=ap')), '', 'a glob, not a prefix');
  t.is(tagsOf(await images(store.root, 'app')), 'app:2\napp:1\n');
  t.is(tagsOf(await images(store.root, 'ba*')), 'base:1\n');
  const bad = await strata(store.root, ['images', '-f', 'reference=app[']);
  t.deepEqual([bad.code, bad.stderr], [1, 'strata: syntax error in pattern\n']);
});

test('images --filter before=/since= compare creation times; label= matches config Labels, all values', async (t) => {
  const { store, ids } = await fourImages(t);
  t.is(tagsOf(await images(store.root, '-f', 'before=app:2')), 'app:1\nbase:1\n');
  t.is(tagsOf(await images(store.root, '-f', 'since=base:1')), '<none>:<none>\napp:2\napp:1\n');
  t.is(tagsOf(await images(store.root, '-f', `since=${ids.base!.slice(7, 19)}`, '-f', 'before=app:2')), 'app:1\n');
  t.is(tagsOf(await images(store.root, '-f', 'before=base:1')), '');
  const missing = await strata(store.root, ['images', '-f', 'since=nosuch:1']);
  t.deepEqual([missing.code, missing.stderr], [1, 'strata: No such image: nosuch:1\n']);
  t.is(tagsOf(await images(store.root, '-f', 'label=tier')), '<none>:<none>\napp:1\nbase:1\n');
  t.is(tagsOf(await images(store.root, '-f', 'label=tier=app')), '<none>:<none>\napp:1\n');
  t.is(tagsOf(await images(store.root, '-f', 'label=tier=app', '-f', 'label=v=1')), 'app:1\n');
  t.is(tagsOf(await images(store.root, '-f', 'label=tier=app', '-f', 'dangling=false')), 'app:1\n');
  const unknown = await strata(store.root, ['images', '-f', 'name=app']);
  t.deepEqual([unknown.code, unknown.stderr], [1, "strata: Invalid filter 'name'\n"]);
});

test('images filters apply to -q and --format json, and to image ls', async (t) => {
  const { store, ids } = await fourImages(t);
  t.is(
    (await strata(store.root, ['images', '-q', '-f', 'reference=app'])).stdout,
    `${ids.app2!.slice(7, 19)}\n${ids.app1!.slice(7, 19)}\n`,
  );
  t.is((await strata(store.root, ['images', '-q', '--no-trunc', '-f', 'dangling=true'])).stdout, `${ids.loose}\n`);
  t.is((await strata(store.root, ['image', 'ls', '-q', '--filter', 'reference=base'])).stdout, `${ids.base!.slice(7, 19)}\n`);
  const json = (await strata(store.root, ['images', '--format', 'json', '-f', 'label=v'])).stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    json.map((r: { ID: string; Repository: string; Tag: string }) => [r.ID, r.Repository, r.Tag]),
    [[ids.app1, 'app', '1']],
  );
});

test('images --digests adds a DIGEST column with the manifest digest recorded at load', async (t) => {
  const { store, manifests } = await fourImages(t);
  const out = await strata(store.root, ['images', '--digests', '-f', 'reference=base']);
  const lines = out.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^REPOSITORY {3}TAG {7}DIGEST {68}IMAGE ID {7}CREATED {7}SIZE$/);
  t.regex(lines[1]!, new RegExp(`^base {9}1 {9}${manifests.base} {3}[0-9a-f]{12} {3}\\d+ years ago {3}\\d+B$`));
  t.is(lines.length, 2);
  const dangling = (await strata(store.root, ['images', '--digests', '-f', 'dangling=true'])).stdout.split('\n')[1]!;
  t.regex(dangling, /^<none> {7}<none> {4}<none> {4}[0-9a-f]{12} /, 'an untagged image shows <none>, as docker does');
  t.is(
    (await strata(store.root, ['images', '--format', '{{.Tag}} {{.Digest}}', 'app'])).stdout,
    `2 ${manifests.app2}\n1 ${manifests.app1}\n`,
  );
  t.is(
    (await strata(store.root, ['images', '--digests', '--format', 'table {{.Tag}}', 'app:1'])).stdout,
    `TAG       DIGEST\n1         ${manifests.app1}\n`,
    'a table template gets the column appended',
  );
  t.is(
    (await strata(store.root, ['images', '--digests', '--format', 'table', 'base'])).stdout,
    out.stdout,
    '--format table is the default table',
  );
  const json = JSON.parse((await strata(store.root, ['images', '--digests', '--format', 'json', 'app:1'])).stdout);
  t.is(json.Digest, manifests.app1);
  t.is(
    JSON.parse((await strata(store.root, ['images', '--format', 'json', 'app:1'])).stdout).Digest,
    '<none>',
    'only when asked, as docker/cli',
  );
  const demoStore = await tmpStore(t);
  await strata(demoStore.store.root, ['load', '-q', '-i', demo]);
  t.regex(
    (await strata(demoStore.store.root, ['images', '--digests'])).stdout.split('\n')[1]!,
    /^demo {9}latest {4}<none> {4}8ebcc1861988 /,
    'a docker-save archive names no manifest digest',
  );
});

test('rename OLD NEW renames; the old name is free again, the ID and state unchanged', async (t) => {
  const { store, ids } = await threeContainers(t);
  const before = await fs.readFile(containerFile(store, ids.web!), 'utf8');
  const out = await strata(store.root, ['rename', 'web', 'front']);
  t.deepEqual([out.code, out.stdout, out.stderr], [0, '', '']);
  const after = JSON.parse(await fs.readFile(containerFile(store, ids.web!), 'utf8'));
  t.deepEqual(after, { ...JSON.parse(before), name: 'front' });
  t.is(names(await ps(store.root)), 'front\n');
  t.is((await strata(store.root, ['inspect', '--format', '{{.Name}}', ids.web!.slice(0, 12)])).stdout, '/front\n');
  t.is(
    (await strata(store.root, ['container', 'rename', ids.db!.slice(0, 8), '/web'])).code,
    0,
    'the old name is free; a leading / is allowed',
  );
  t.is(names(await ps(store.root, '-a')), 'job\nweb\nfront\n');
});

test("rename refuses, in Docker's words, and leaves the store as it was", async (t) => {
  const { store, ids } = await threeContainers(t);
  const snapshot = async () => Promise.all(Object.values(ids).map((id) => fs.readFile(containerFile(store, id), 'utf8')));
  const was = await snapshot();
  const cases: Array<[string[], number, string]> = [
    [['rename', 'web', 'web'], 1, 'strata: Renaming a container with the same name as its current name\n'],
    [['rename', 'web', '/web'], 1, 'strata: Renaming a container with the same name as its current name\n'],
    [
      ['rename', 'web', 'db'],
      1,
      `strata: Error when allocating new name: Conflict. The container name "/db" is already in use by container "${ids.db}". You have to remove (or rename) that container to be able to reuse that name.\n`,
    ],
    [
      ['rename', 'web', 'a'],
      1,
      'strata: Error when allocating new name: Invalid container name (/a), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n',
    ],
    [
      ['rename', 'web', 'my app'],
      1,
      'strata: Error when allocating new name: Invalid container name (/my app), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n',
    ],
    [['rename', 'web', '-x'], 125, "unknown shorthand flag: 'x' in -x\nSee 'strata rename --help'.\n"],
    [['rename', 'nosuch', 'x1'], 1, 'strata: No such container: nosuch\n'],
    [['rename', 'web', ' '], 1, 'strata: Neither old nor new names may be empty\n'],
    [['rename', 'web'], 1, '"strata rename" requires exactly 2 arguments.\nSee \'strata rename --help\'.\n'],
  ];
  for (const [args, code, stderr] of cases) {
    const out = await strata(store.root, args);
    t.deepEqual([out.code, out.stdout, out.stderr], [code, '', stderr], args.join(' '));
  }
  t.deepEqual(await snapshot(), was);
});
