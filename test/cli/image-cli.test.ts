import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { strata, strataProcess, repoRoot } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, buildImageWithInfo } from '../helpers/image-builder.js';

const demo = path.join(repoRoot, 'fixtures', 'demo.tar');
const DEMO_ID = 'sha256:8ebcc18619887bb5e534ed12acd5fc40015373fe531570afff4e3f7b15d681aa';

test('load prints Docker\'s "Loaded image" line and images lists it', async (t) => {
  const { store } = await tmpStore(t);
  const load = await strata(store.root, ['load', '-i', demo]);
  t.is(load.code, 0);
  t.is(load.stdout, 'Loaded image: demo:latest\n');
  t.is(load.stderr, '');
  const images = await strata(store.root, ['images']);
  const lines = images.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^REPOSITORY {3}TAG {7}IMAGE ID {7}CREATED {7}SIZE$/);
  t.regex(lines[1]!, /^demo {9}latest {4}8ebcc1861988 {3}\d+ years ago {3}\d+B$/);
  t.is((await strata(store.root, ['images', '-q'])).stdout, '8ebcc1861988\n');
  t.is((await strata(store.root, ['images', '-q', '--no-trunc'])).stdout, `${DEMO_ID}\n`);
});

test('images --format json prints one object per line with integer sizes and full IDs', async (t) => {
  const { store } = await tmpStore(t);
  await strata(store.root, ['load', '-i', demo]);
  const out = await strata(store.root, ['images', '--format', 'json']);
  const rows = out.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(rows.length, 1);
  t.is(rows[0].ID, DEMO_ID);
  t.is(rows[0].Repository, 'demo');
  t.is(rows[0].Tag, 'latest');
  t.true(Number.isInteger(rows[0].Size) && rows[0].Size > 0);
  t.is((await strata(store.root, ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])).stdout, 'demo:latest 8ebcc1861988\n');
});

test('image inspect shows diffIDs and real layer directories', async (t) => {
  const { store } = await tmpStore(t);
  await strata(store.root, ['load', '-i', demo]);
  const layers = await strata(store.root, ['image', 'inspect', 'demo', '--format', '{{json .RootFS.Layers}}']);
  t.deepEqual(JSON.parse(layers.stdout), [
    'sha256:f9ff8a565f32d378148610aea6e893397533f36e8c8ffd21271e0816584c31fe',
    'sha256:c496f90e329ae956047cb1ee95d3d93647b7fba8ecf3c69ddcd9e874c85f535a',
  ]);
  const [object] = JSON.parse((await strata(store.root, ['image', 'inspect', 'demo:latest'])).stdout);
  t.is(object.Id, DEMO_ID);
  t.deepEqual(object.RepoTags, ['demo:latest']);
  const upper: string = object.GraphDriver.Data.UpperDir;
  const lower: string = object.GraphDriver.Data.LowerDir;
  t.is(await fs.readFile(path.join(upper, 'app', 'hello.txt'), 'utf8'), 'hello from strata\n');
  t.is(lower.split(':').length, 1);
  t.true((await fs.stat(path.join(lower, 'etc', 'hostname'))).isFile());
  t.true(upper.startsWith(store.root) && lower.startsWith(store.root));
});

test('history lists newest first with layer sizes', async (t) => {
  const { store } = await tmpStore(t);
  await strata(store.root, ['load', '-i', demo]);
  const out = await strata(store.root, ['history', '--no-trunc', '--format', '{{.ID}}\\t{{.Size}}', 'demo']);
  const rows = out.stdout
    .trimEnd()
    .split('\n')
    .map((l) => l.split('\t'));
  t.is(rows[0]![0], DEMO_ID);
  t.true(rows.slice(1).every((r) => r[0] === '<missing>'));
  t.true(
    rows.every((r) => /^\d+(\.\d+)?k?B$/.test(r[1]!)),
    out.stdout,
  );
});

test('tag and rmi: untag one of two tags, then delete the image and its layers', async (t) => {
  const { store } = await tmpStore(t);
  await strata(store.root, ['load', '-i', demo]);
  t.is((await strata(store.root, ['tag', 'demo', 'mirror/demo:2'])).code, 0);
  t.is((await strata(store.root, ['images', '-q'])).stdout, '8ebcc1861988\n', 'one image, two tags');
  t.is((await strata(store.root, ['rmi', 'mirror/demo:2'])).stdout, 'Untagged: mirror/demo:2\n');
  const layersBefore = (await fs.readdir(store.paths.layersDir)).length;
  t.is(layersBefore, 2);
  const rmi = await strata(store.root, ['rmi', 'demo']);
  t.is(rmi.code, 0);
  const lines = rmi.stdout.trimEnd().split('\n');
  t.is(lines[0], 'Untagged: demo:latest');
  t.is(lines[1], `Deleted: ${DEMO_ID}`);
  t.is(lines.length, 4, 'the image and both its layers');
  t.deepEqual(await fs.readdir(store.paths.layersDir), []);
  t.deepEqual(await fs.readdir(store.paths.blobsDir), []);
});

test('rmi refuses an image a container uses unless -f, and the container keeps its layers', async (t) => {
  const { store } = await tmpStore(t);
  await strata(store.root, ['load', '-i', demo]);
  t.is((await strata(store.root, ['create', '--name', 'c1', 'demo'])).code, 0);
  const refused = await strata(store.root, ['rmi', 'demo']);
  t.is(refused.code, 1);
  t.regex(
    refused.stderr,
    /^strata: conflict: unable to remove repository reference "demo" \(must force\) - container [0-9a-f]{12} is using its referenced image 8ebcc1861988\n$/,
  );
  const forced = await strata(store.root, ['rmi', '-f', 'demo']);
  t.is(forced.code, 0);
  t.is((await fs.readdir(store.paths.layersDir)).length, 2, 'layers stay while the container needs them');
});

test('rmi -f of an image a container uses only untags it, as Docker does; it goes with the last container', async (t) => {
  const { store } = await tmpStore(t);
  await strata(store.root, ['load', '-i', demo]);
  await strata(store.root, ['create', '--name', 'c1', 'demo']);
  await strata(store.root, ['create', '--name', 'c2', 'demo']);
  const forced = await strata(store.root, ['rmi', '-f', 'demo']);
  t.deepEqual([forced.code, forced.stdout], [0, 'Untagged: demo:latest\n']);
  t.regex((await strata(store.root, ['images'])).stdout.split('\n')[1]!, /^<none> {7}<none> {4}8ebcc1861988 /);
  const df = JSON.parse((await strata(store.root, ['system', 'df', '--format', 'json'])).stdout.split('\n')[0]!);
  t.true(df.Size > 0, 'system df still counts the image');
  t.is((await strata(store.root, ['du', 'c1'])).code, 0);
  t.is((await strata(store.root, ['check'])).code, 0);
  const byId = await strata(store.root, ['rmi', '-f', '8ebcc1861988']);
  t.is(byId.code, 1, 'nothing left to untag: an image in use cannot be deleted');
  t.regex(byId.stderr, /image is being used by container [0-9a-f]{12}\n$/);
  await strata(store.root, ['rm', 'c1']);
  t.is((await strata(store.root, ['images', '-q'])).stdout, '8ebcc1861988\n', 'c2 still uses it');
  await strata(store.root, ['rm', 'c2']);
  t.is((await strata(store.root, ['images', '-q'])).stdout, '', 'gone with the last container');
  t.deepEqual(await fs.readdir(store.paths.layersDir), []);
  t.is((await strata(store.root, ['check'])).code, 0);
});

test('check names a container whose image record is gone', async (t) => {
  const { store } = await tmpStore(t);
  await strata(store.root, ['load', '-i', demo]);
  await strata(store.root, ['create', '--name', 'c1', 'demo']);
  await fs.rm(store.paths.imageRecord(DEMO_ID));
  const check = await strata(store.root, ['check']);
  t.is(check.code, 1);
  t.regex(check.stdout, new RegExp(`container c1 was made from image ${DEMO_ID}, whose record is gone .*; load demo(:latest)? again\n`));
});

test('an ID with several tags needs -f to delete', async (t) => {
  const { store } = await tmpStore(t);
  await strata(store.root, ['load', '-i', demo]);
  await strata(store.root, ['tag', 'demo', 'other:1']);
  const refused = await strata(store.root, ['rmi', '8ebcc186']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /referenced in multiple repositories/);
  const forced = await strata(store.root, ['rmi', '-f', '8ebcc186']);
  t.deepEqual(forced.stdout.split('\n').slice(0, 2), ['Untagged: demo:latest', 'Untagged: other:1']);
});

test('check is clean after load and names a corrupted blob', async (t) => {
  const { store } = await tmpStore(t);
  await strata(store.root, ['load', '-i', demo]);
  const clean = await strata(store.root, ['check']);
  t.is(clean.code, 0);
  t.is(clean.stdout, '');
  t.regex(clean.stderr, /no problems/);
  const blob = path.join(store.paths.blobsDir, DEMO_ID.slice(7));
  await fs.chmod(blob, 0o644);
  await fs.appendFile(blob, ' ');
  const dirty = await strata(store.root, ['check']);
  t.is(dirty.code, 1);
  t.is(
    dirty.stdout,
    `${blob}: content does not match its digest (found sha256:${(await import('node:crypto'))
      .createHash('sha256')
      .update(await fs.readFile(blob))
      .digest('hex')})\n`,
  );
});

test('bad input: one line naming the file, non-zero exit, no stack trace; --debug adds it', async (t) => {
  const { store, dir } = await tmpStore(t);
  const missing = await strataProcess(store.root, ['load', '-i', path.join(dir, 'nope.tar')]);
  t.is(missing.code, 1);
  t.is(missing.stderr.split('\n').length, 2, missing.stderr);
  t.true(missing.stderr.startsWith('strata: ') && missing.stderr.includes('nope.tar'));
  const junk = path.join(dir, 'junk.tar');
  await fs.writeFile(junk, 'this is not a tar archive at all, just text'.repeat(20));
  const bad = await strataProcess(store.root, ['load', '-i', junk]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /^strata: .*junk\.tar.*\n$/);
  t.notRegex(bad.stderr, /\n\s+at /);
  const debug = await strataProcess(store.root, ['--debug', 'load', '-i', junk]);
  t.regex(debug.stderr, /\n\s+at /);
  t.is((await strata(store.root, ['images', '-q'])).stdout, '');
});

test("unknown image and unknown command exit non-zero with Docker's words", async (t) => {
  const { store } = await tmpStore(t);
  const none = await strata(store.root, ['image', 'inspect', 'ghost']);
  t.is(none.code, 1);
  t.is(none.stderr, 'strata: No such image: ghost\n');
  t.is((await strata(store.root, ['frobnicate'])).code, 1);
});

test('load reads the archive from stdin when -i is not given', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await buildImage({ format: 'oci', repoTags: ['piped:1'], layers: [[{ path: 'f', content: 'piped' }]], outerGzip: true });
  const out = await strataProcess(store.root, ['load'], { stdin: tar });
  t.is(out.code, 0, out.stderr);
  t.is(out.stdout, 'Loaded image: piped:1\n');
});

test('progress shows on a terminal only, and never with -q', async (t) => {
  const { store, dir } = await tmpStore(t);
  const { tar } = await buildImageWithInfo({ format: 'oci', repoTags: ['p:1'], layers: [[{ path: 'big', size: 1 << 20, seed: 1 }]] });
  const file = path.join(dir, 'p.tar');
  await fs.writeFile(file, tar);
  const tty = await strata(store.root, ['load', '-i', file], { tty: true });
  t.regex(tty.stdout, /Loading layer|Loaded/);
  t.regex(tty.stdout, /Loaded image: p:1/);
  await strata(store.root, ['rmi', 'p:1']);
  const quiet = await strata(store.root, ['load', '-q', '-i', file], { tty: true });
  t.is(quiet.stdout, 'Loaded image: p:1\n');
  await strata(store.root, ['rmi', 'p:1']);
  const piped = await strata(store.root, ['load', '-i', file]);
  t.is(piped.stdout, 'Loaded image: p:1\n');
});

// What a terminal shows: escape sequences gone, each \r or \n starts the line over.
const ESC = String.fromCharCode(0x1b);
const screenLines = (out: string) =>
  out
    .replace(new RegExp(`${ESC}\\[\\d*G`, 'g'), '\r')
    .replace(new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g'), '')
    .split(/[\r\n]/);

test('load progress fits a narrow terminal, and a layer already in the store shows its size', async (t) => {
  const { store, dir } = await tmpStore(t);
  const { tar } = await buildImageWithInfo({ format: 'oci', repoTags: ['p:1'], layers: [[{ path: 'big', size: 1 << 20, seed: 1 }]] });
  const file = path.join(dir, 'p.tar');
  await fs.writeFile(file, tar);
  for (const columns of [40, 50, 80, 120]) {
    const out = await strata(store.root, ['load', '-i', file], { tty: true, columns });
    const long = screenLines(out.stdout).filter((l) => [...l].length > columns);
    t.deepEqual(long, [], `${columns} columns`);
  }
  const again = await strata(store.root, ['load', '-i', file], { tty: true, columns: 80 });
  t.regex(again.stdout, /[0-9a-f]{12}: Already exists \(1\.05MB\)/);
});

test('a store written by a newer strata is refused with a clear message', async (t) => {
  const { store } = await tmpStore(t);
  const info = JSON.parse(await fs.readFile(store.paths.storeFile, 'utf8'));
  await fs.writeFile(store.paths.storeFile, JSON.stringify({ ...info, formatVersion: 99 }));
  const out = await strata(store.root, ['images']);
  t.is(out.code, 1);
  t.regex(out.stderr, /^strata: .*store\.json: store format 99 was written by a newer strata/);
});

test('history -H=false and --human=false print RFC 3339 dates and sizes in bytes; CREATED BY keeps its spacing', async (t) => {
  const { store, dir } = await tmpStore(t);
  const file = path.join(dir, 'spaced.tar');
  await fs.writeFile(
    file,
    await buildImage({
      format: 'docker',
      repoTags: ['spaced:1'],
      layers: [{ entries: [{ path: 'a.bin', size: 12_345, seed: 1 }], createdBy: '/bin/sh -c #(nop)  CMD ["sh"]\tdone' }],
    }),
  );
  await strata(store.root, ['load', '-i', file]);
  const human = await strata(store.root, ['history', 'spaced:1']);
  // docker/cli turns a tab into one space and keeps the double space; SIZE is %.3g.
  t.regex(human.stdout.split('\n')[1]!, /^[0-9a-f]{12} {3}\d+ years ago {3}\/bin\/sh -c #\(nop\) {2}CMD \["sh"\] done {3}12\.3kB$/);
  for (const flag of ['-H=false', '--human=false', '-H=0']) {
    const out = await strata(store.root, ['history', flag, 'spaced:1']);
    t.is(out.code, 0, flag);
    // The builder's fixed time, 2023-11-14T22:13:20Z, in Go's RFC 3339 (the suite runs in UTC or any zone).
    const row = out.stdout.split('\n')[1]!;
    t.regex(row, /^[0-9a-f]{12} {3}2023-11-1[45]T\d\d:\d3:20(Z|[+-]\d\d:\d\d) {3}/, flag);
    t.regex(row, / {3}12345$/, flag);
  }
  const bad = await strata(store.root, ['history', '-H=maybe', 'spaced:1']);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /invalid boolean value "maybe"/);
});

test('load --platform that matches no image of a docker-save archive says which platforms it has, and loads nothing', async (t) => {
  const { store } = await tmpStore(t);
  const out = await strata(store.root, ['load', '-i', demo, '--platform', 'linux/s390x']);
  t.deepEqual([out.code, out.stdout], [1, '']);
  t.regex(out.stderr, /^strata: .*demo\.tar: no image for linux\/s390x; it has linux\/[a-z0-9]+\n$/);
  t.is((await strata(store.root, ['images', '-q'])).stdout, '');
});

test('load --help says which compressions it reads', async (t) => {
  const { store } = await tmpStore(t);
  t.regex((await strata(store.root, ['load', '--help'])).stdout, /plain, gzip or zstd/);
});
