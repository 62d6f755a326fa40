import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { loadImages } from '../../src/transfer/load.js';
import { findImage } from '../../src/image/lookup.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { containerDirs } from '../../src/container/record.js';
import { containerLockName } from '../../src/container/lock.js';
import { ensureVolume } from '../../src/volume/volume.js';
import { Lease } from '../../src/store/lease.js';
import { locksDir } from '../../src/store/lock.js';
import { self } from '../../src/store/process-identity.js';
import { checkStore } from '../../src/check/check.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import { strata } from '../helpers/cli.js';

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/os-release', content: 'ID=check\n' },
];

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('close', resolve));
  return child.pid!;
}

async function loadVariants(t: Parameters<typeof tmpStore>[0], names: string[]) {
  const { store, dir } = await tmpStore(t);
  for (const name of names) {
    const file = path.join(dir, `${name}.tar`);
    await fs.writeFile(
      file,
      await buildImage({ format: 'oci', repoTags: [`${name}:1`], layers: [base, [{ path: name, content: `${name}\n` }]] }),
    );
    await loadImages(store, { path: file });
  }
  return { store, dir };
}

const norm = (text: string, root: string) =>
  text
    .split(root)
    .join('ROOT')
    .replace(/\b\d{3,7}\b/g, 'PID');

test('check names every kind of damage; --repair fixes what it can without guessing, one line each, and keeps container data', async (t) => {
  const { store } = await loadVariants(t, ['a', 'b', 'c', 'd']);
  const [a, b, c, d] = await Promise.all(['a:1', 'b:1', 'c:1', 'd:1'].map((r) => findImage(store, r)));
  const keep = await createContainer(store, 'a:1', { name: 'keep' });
  await (await containerView(store, keep)).writeFile('/data.txt', 'precious\n');
  const orphan = await createContainer(store, 'c:1', { name: 'orphan' });
  await (await containerView(store, orphan)).writeFile('/mine.txt', 'mine\n');
  const broken = await createContainer(store, 'a:1', { name: 'broken' });
  await (await containerView(store, broken)).writeFile('/also.txt', 'also\n');
  await ensureVolume(store, 'vol');

  // b: its top layer's blob rots. c: its top layer loses layer.json. d: its record is garbage.
  const bBlob = store.paths.blob(b!.layers[1]!.blobDigest);
  await fs.chmod(bBlob, 0o644);
  await fs.appendFile(bBlob, 'rot');
  await fs.rm(store.paths.layerRecord(c!.layers[1]!.chainId));
  await fs.writeFile(store.paths.imageRecord(d!.id), '{"id": ');
  // a's base layer.json misstates its size; a layer directory nobody recorded.
  const baseRecord = store.paths.layerRecord(a!.layers[0]!.chainId);
  const rec = JSON.parse(await fs.readFile(baseRecord, 'utf8')) as { size: number };
  await fs.writeFile(baseRecord, JSON.stringify({ ...rec, size: rec.size + 7 }));
  await fs.mkdir(path.join(store.paths.layersDir, 'f'.repeat(64), 'diff'), { recursive: true });
  // Leftovers of interrupted operations, a dead load's lease, a dead fs command's lock and scratch.
  await fs.mkdir(path.join(store.paths.layersDir, '.tmp-0123456789ab'));
  await fs.mkdir(path.join(store.paths.containersDir, '.rm-0123456789ab-gone'));
  await fs.writeFile(path.join(store.paths.ingestDir, '.tmp-abcdefabcdef'), 'half a blob');
  await fs.writeFile(path.join(store.root, '.tmp-abcdefabcdef-tags.json'), '{}');
  const dead = await deadPid();
  await fs.mkdir(path.join(store.root, 'leases'), { recursive: true });
  await fs.writeFile(
    path.join(store.root, 'leases', `${dead}-aaaaaaaaaaaa.json`),
    JSON.stringify({ pid: dead, created: new Date().toISOString(), blobs: [], layers: [] }),
  );
  const lock = path.join(locksDir(store), containerLockName(keep.id));
  await fs.mkdir(lock, { recursive: true });
  await fs.writeFile(
    path.join(lock, 'owner.json'),
    JSON.stringify({ ...self(), pid: dead, nonce: 'n'.repeat(32), acquired: new Date().toISOString() }),
  );
  await fs.writeFile(path.join(containerDirs(store, keep.id).work, '.tmp-0123456789ab-strata'), 'scratch');
  // Records only a human can fix: a container's config.json and a volume's volume.json.
  await fs.writeFile(path.join(store.paths.containerDir(broken.id), 'config.json'), 'not json');
  await fs.writeFile(path.join(store.paths.volumeDir('vol'), 'volume.json'), '[');

  const before = await checkStore(store);
  t.deepEqual([...new Set(before.problems.map((p) => p.kind))].sort(), [
    'blob-corrupt',
    'container-layers',
    'container-record',
    'image-record',
    'image-size',
    'layer-missing',
    'layer-record',
    'layer-size',
    'lease-stale',
    'leftover',
    'lock-stale',
    'volume-record',
  ]);
  const checked = await strata(store.root, ['check']);
  t.is(checked.code, 1);
  t.is(checked.stdout.trim().split('\n').length, before.problems.length);

  const repaired = await strata(store.root, ['check', '--repair']);
  t.is(repaired.code, 1, 'problems that need a human remain');
  const out = norm(repaired.stdout, store.root).split('\n').filter(Boolean);
  const hex = (digest: string) => digest.slice(7);
  for (const line of [
    `removed corrupt blob ROOT/blobs/sha256/${hex(b!.layers[1]!.blobDigest)}`,
    `removed layer ROOT/layers/${'f'.repeat(64)} (layer directory has no layer.json)`,
    `recomputed the size of layer ${a!.layers[0]!.chainId}: ${rec.size + 7} -> ${rec.size} bytes`,
    `recomputed the layer sizes in image record ${a!.id}`,
    // b's layers are intact: the image stays, its blob is marked missing until b is loaded again.
    `marked blob ${b!.layers[1]!.blobDigest} of image b:1 missing (the unpacked layers are intact, so the image stays usable; load or pull b:1 again to restore it)`,
    `dropped tag d:1 (image ${d!.id} is missing)`,
    'removed leftover ROOT/layers/.tmp-0123456789ab',
    'removed leftover ROOT/containers/.rm-0123456789ab-gone',
    'removed leftover ROOT/ingest/.tmp-abcdefabcdef',
    'removed leftover ROOT/.tmp-abcdefabcdef-tags.json',
    `removed leftover ROOT/containers/${keep.id}/work/.tmp-0123456789ab-strata`,
    `removed stale lease ROOT/leases/PID-aaaaaaaaaaaa.json (lease of process PID, which is gone)`,
    `broke stale lock ROOT/locks/container-${keep.id} (held by process PID, which is gone)`,
  ])
    t.true(out.includes(line), `missing fix line: ${line}\n${out.join('\n')}`);
  t.true(
    out.some((l) => l.startsWith(`dropped image ${d!.id} (unreadable image record`)),
    out.join('\n'),
  );
  // c's broken layer and its image are kept: container orphan stands on them (repair never
  // removes what a container depends on); reloading c:1 is the fix.
  for (const line of out)
    t.false(
      /^(removed layer|dropped image|dropped tag)/.test(line) &&
        (line.includes(c!.id) || line.includes(hex(c!.layers[1]!.chainId)) || /tag [bc]:1/.test(line)),
      line,
    );
  await fs.access(store.paths.layerDiff(c!.layers[1]!.chainId));
  // What is left is exactly what needs a human; the containers' upper data is all still there.
  const after = await checkStore(store);
  t.deepEqual(after.problems.map((p) => p.kind).sort(), [
    'container-layers',
    'container-record',
    'layer-missing',
    'layer-record',
    'volume-record',
  ]);
  t.true(after.problems.every((p) => p.fix === undefined));
  t.regex(
    after.problems.find((p) => p.kind === 'container-layers')!.message,
    /container orphan stands on 1 layer\(s\) that are gone .*load its image c:1 again/,
  );
  t.regex(
    after.problems.find((p) => p.kind === 'layer-missing')!.message,
    /container orphan uses this image, so it is kept: load c:1 again$/,
  );
  t.deepEqual(after.notes, [`image b:1 lacks blob ${b!.layers[1]!.blobDigest} (removed as corrupt); load or pull it again to restore it`]);
  t.is(await fs.readFile(path.join(containerDirs(store, keep.id).upper, 'data.txt'), 'utf8'), 'precious\n');
  t.is(await fs.readFile(path.join(containerDirs(store, orphan.id).upper, 'mine.txt'), 'utf8'), 'mine\n');
  t.is(await fs.readFile(path.join(containerDirs(store, broken.id).upper, 'also.txt'), 'utf8'), 'also\n');
  t.is(await fs.readFile(path.join(store.paths.volumeDir('vol'), 'volume.json'), 'utf8'), '[');
  t.deepEqual(Object.keys(JSON.parse(await fs.readFile(store.paths.tagsFile, 'utf8'))).sort(), ['a:1', 'b:1', 'c:1']);
  // Repair is idempotent: a second run fixes nothing and says so.
  const again = await strata(store.root, ['check', '--repair']);
  t.is(again.code, 1);
  t.is(again.stdout.split('\n').filter(Boolean).length, 6, '5 problems and 1 note');
  t.regex(again.stderr, /0 fixed, 5 problems/);
});

test('unreadable store.json and tags.json are reported, never rewritten by guesswork', async (t) => {
  const { store } = await loadVariants(t, ['a']);
  await fs.writeFile(store.paths.tagsFile, '{"a:1": 5}');
  await fs.writeFile(store.paths.storeFile, '{');
  for (const args of [['check'], ['check', '--repair']]) {
    const result = await strata(store.root, args);
    t.is(result.code, 1);
    const lines = norm(result.stdout, store.root).split('\n').filter(Boolean).sort();
    t.is(lines.length, 2, lines.join('\n'));
    t.true(lines[0]!.startsWith('ROOT/store.json: invalid JSON ('));
    t.is(lines[1], 'ROOT/tags.json: not a tag map');
  }
  t.is(await fs.readFile(store.paths.storeFile, 'utf8'), '{');
  t.is(await fs.readFile(store.paths.tagsFile, 'utf8'), '{"a:1": 5}');
});

test('what a load still in flight has made is not a leftover, for check or for repair', async (t) => {
  const { store } = await loadVariants(t, ['a']);
  const lease = await Lease.create(store); // this process: alive
  const spool = path.join(store.paths.ingestDir, '.tmp-0123456789ab-spool');
  await fs.mkdir(spool);
  const half = path.join(store.paths.layersDir, '.tmp-ba9876543210');
  await fs.mkdir(half);
  t.deepEqual((await checkStore(store)).problems, []);
  const repaired = await strata(store.root, ['check', '--repair']);
  t.is(repaired.code, 0);
  t.is(repaired.stdout, '');
  await fs.access(spool);
  await fs.access(half);
  await lease.release();
  t.deepEqual((await checkStore(store)).problems.map((p) => p.path).sort(), [spool, half].sort());
  const fixed = await strata(store.root, ['check', '--repair']);
  t.is(fixed.code, 0);
  t.is(fixed.stdout.split('\n').filter(Boolean).length, 2);
  t.regex(fixed.stderr, /2 fixed, no problems/);
});

test('check --format json prints one object per problem, with the fix repair would apply', async (t) => {
  const { store } = await loadVariants(t, ['a']);
  await fs.writeFile(path.join(store.paths.ingestDir, '.tmp-abcdefabcdef'), 'x');
  const result = await strata(store.root, ['check', '--format', 'json']);
  t.is(result.code, 1);
  const problems = result.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; fix?: { action: string } });
  t.deepEqual(
    problems.map((p) => [p.kind, p.fix?.action]),
    [['leftover', 'remove']],
  );
});

test('repair keeps an image whose only damage is a corrupt blob; a container of it still works, and a reload restores the blob', async (t) => {
  const { store, dir } = await loadVariants(t, ['a']);
  const a = (await findImage(store, 'a:1'))!;
  const user = await createContainer(store, 'a:1', { name: 'user' });
  const blob = store.paths.blob(a.layers[1]!.blobDigest);
  await fs.chmod(blob, 0o644);
  await fs.appendFile(blob, 'rot');
  const repaired = await strata(store.root, ['check', '--repair']);
  t.is(repaired.code, 0, repaired.stdout);
  t.regex(
    repaired.stdout,
    /^removed corrupt blob .*\nmarked blob sha256:[0-9a-f]{64} of image a:1 missing \(the unpacked layers are intact, so the image stays usable; load or pull a:1 again to restore it\)\nnote: image a:1 lacks blob/,
  );
  t.is((await strata(store.root, ['images', '-q'])).stdout, `${a.id.slice(7, 19)}\n`, 'image and tag kept');
  t.is((await strata(store.root, ['du', 'user'])).code, 0);
  t.is(await (await containerView(store, user)).readFile('/a', 'utf8'), 'a\n');
  const check = await strata(store.root, ['check']);
  t.is(check.code, 0, 'a marked blob is a note, not a problem');
  t.regex(check.stdout, /^note: image a:1 lacks blob sha256:[0-9a-f]{64} \(removed as corrupt\); load or pull it again to restore it\n$/);
  await loadImages(store, { path: path.join(dir, 'a.tar') });
  await fs.access(blob);
  t.deepEqual(await strata(store.root, ['check']), {
    code: 0,
    stdout: '',
    stderr: 'checked 4 blobs, 2 layers, 1 images, 1 tags, 1 containers: no problems\n',
  });
});
