import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { getAttribute, setAttribute } from '@napi-rs/xattr';
import { Resolver } from '../../src/resolver/index.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { overlayFormatSkipReason } from '../helpers/both-formats.js';
import { testUnless } from '../helpers/skip.js';
import { LAYER_MTIME, buildLayer, d, f, opq } from './suite.js';

async function setup(
  t: { teardown(fn: () => Promise<void>): void },
  format: WhiteoutFormat,
  entries = [d('/etc'), f('/etc/conf', 'lower bytes', 0o640)],
) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-copyup-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  const lower = path.join(root, 'lower');
  await buildLayer(lower, entries, format);
  const upperDir = path.join(root, 'upper');
  const workDir = path.join(root, 'work');
  await fs.mkdir(upperDir);
  return {
    r: new Resolver({ lowerDirs: [lower], upperDir, workDir, format, privileged: process.geteuid?.() === 0 }),
    lower,
    upperDir,
    workDir,
  };
}

const asRoot = process.getuid?.() === 0;

test('a write never changes the lower layer', async (t) => {
  const { r, lower } = await setup(t, 'oci');
  const before = await fs.lstat(path.join(lower, 'etc/conf'));
  await r.appendFile('/etc/conf', ' and more');
  await r.chmod('/etc/conf', 0o600);
  await r.unlink('/etc/conf');
  t.is(await fs.readFile(path.join(lower, 'etc/conf'), 'utf8'), 'lower bytes');
  const after = await fs.lstat(path.join(lower, 'etc/conf'));
  t.deepEqual([after.mode, after.mtimeMs, after.ino], [before.mode, before.mtimeMs, before.ino]);
});

test('copy-up copies parents first with their mode, owner and times, and the file whole', async (t) => {
  const { r, lower, upperDir } = await setup(t, 'oci', [d('/a', 0o750), d('/a/b', 0o711), f('/a/b/c', 'x'.repeat(100_000), 0o604)]);
  if (asRoot) {
    await fs.chown(path.join(lower, 'a'), 1234, 5678);
    await fs.utimes(path.join(lower, 'a'), LAYER_MTIME, LAYER_MTIME);
  }
  await r.appendFile('/a/b/c', '!');
  const a = await fs.lstat(path.join(upperDir, 'a'));
  t.is(a.mode & 0o7777, 0o750);
  t.is(a.mtimeMs, LAYER_MTIME * 1000);
  if (asRoot) t.deepEqual([a.uid, a.gid], [1234, 5678]);
  t.is((await fs.lstat(path.join(upperDir, 'a/b'))).mode & 0o7777, 0o711);
  const c = await fs.lstat(path.join(upperDir, 'a/b/c'));
  t.is(c.mode & 0o7777, 0o604);
  t.is(c.size, 100_001);
});

testUnless(overlayFormatSkipReason)("copy-up takes xattrs along, but never overlayfs' private ones", async (t) => {
  const { r, lower, upperDir } = await setup(t, 'overlay', [opq('/d'), f('/d/f', 'x')]);
  await setAttribute(path.join(lower, 'd/f'), 'user.origin', 'layer');
  await r.chmod('/d/f', 0o600);
  t.is((await getAttribute(path.join(upperDir, 'd/f'), 'user.origin'))?.toString(), 'layer');
  t.is(await getAttribute(path.join(upperDir, 'd'), 'trusted.overlay.opaque'), null);
  t.deepEqual(await r.readdir('/d'), ['f'], 'the lower opaque directory still stops the merge below it');
});

test('a copy-up is prepared in the work dir: nothing half-made ever shows in the upper', async (t) => {
  const { r, upperDir, workDir } = await setup(t, 'oci');
  await r.writeFile('/etc/conf', 'new');
  await r.rm('/etc', { recursive: true });
  await r.mkdir('/etc');
  t.deepEqual(await fs.readdir(workDir), []);
  t.deepEqual((await fs.readdir(upperDir)).sort(), ['etc']);
});

test("the upper dir holds the store's own whiteout encoding (oci)", async (t) => {
  const { r, upperDir } = await setup(t, 'oci', [d('/d'), f('/d/f'), f('/gone')]);
  await r.unlink('/gone');
  await r.rm('/d', { recursive: true });
  await r.mkdir('/d');
  t.deepEqual((await fs.readdir(upperDir)).sort(), ['.wh.gone', 'd']);
  t.deepEqual(await fs.readdir(path.join(upperDir, 'd')), ['.wh..wh..opq']);
  t.deepEqual(await r.readdir('/'), ['d']);
  t.deepEqual(await r.readdir('/d'), []);
});

testUnless(overlayFormatSkipReason)("the upper dir holds the store's own whiteout encoding (overlay)", async (t) => {
  const { r, upperDir } = await setup(t, 'overlay', [d('/d'), f('/d/f'), f('/gone')]);
  await r.unlink('/gone');
  await r.rm('/d', { recursive: true });
  await r.mkdir('/d');
  const gone = await fs.lstat(path.join(upperDir, 'gone'));
  t.true(gone.isCharacterDevice());
  t.is(gone.rdev, 0);
  t.is((await getAttribute(path.join(upperDir, 'd'), 'trusted.overlay.opaque'))?.toString(), 'y');
  t.deepEqual(await r.readdir('/'), ['d']);
});

test('names that are whiteouts in the oci encoding cannot be created', async (t) => {
  const { r } = await setup(t, 'oci');
  await t.throwsAsync(r.writeFile('/etc/.wh.conf', 'x'), { code: 'EINVAL' });
  await t.throwsAsync(r.mkdir('/.wh..wh..opq'), { code: 'EINVAL' });
  await t.throwsAsync(r.rename('/etc/conf', '/etc/.wh.x'), { code: 'EINVAL' });
  await t.throwsAsync(r.lstat('/etc/.wh.conf'), { code: 'ENOENT' });
});

test('writeFile takes a stream and createReadStream gives the bytes back in chunks', async (t) => {
  const { r } = await setup(t, 'oci');
  const chunk = Buffer.alloc(256 * 1024, 7);
  await r.writeFile(
    '/big',
    Readable.from(
      (function* () {
        for (let i = 0; i < 12; i++) yield chunk;
      })(),
    ),
  );
  t.is((await r.lstat('/big')).size, 12 * chunk.length);
  let chunks = 0;
  let bytes = 0;
  for await (const piece of await r.createReadStream('/big')) {
    chunks++;
    bytes += (piece as Buffer).length;
  }
  t.is(bytes, 12 * chunk.length);
  t.true(chunks > 1, 'read in pieces, not as one buffer');
  await t.throwsAsync(r.createReadStream('/missing'), { code: 'ENOENT' });
});

test('concurrent changes to one lower file copy it up once and keep every write', async (t) => {
  const { r } = await setup(t, 'oci');
  await Promise.all(Array.from({ length: 20 }, (_, i) => r.appendFile('/etc/conf', `<${i}>`)));
  const text = await r.readFile('/etc/conf', 'utf8');
  t.true(text.startsWith('lower bytes'));
  for (let i = 0; i < 20; i++) t.true(text.includes(`<${i}>`));
});

test('errors name the container path, never where the layers are on this machine', async (t) => {
  const { r, upperDir } = await setup(t, 'oci');
  const errors = await Promise.all(
    [r.readFile('/etc/missing'), r.readdir('/etc/conf'), r.rename('/etc', '/x'), r.mkdir('/etc')].map((p) =>
      p.then(
        () => null,
        (err: Error) => err,
      ),
    ),
  );
  for (const err of errors) {
    t.truthy(err);
    t.false(err!.message.includes(path.dirname(upperDir)), err!.message);
  }
  t.is(errors[0]!.message, "ENOENT: No such file or directory, open '/etc/missing'");
  t.like(errors[2], { code: 'EXDEV', path: '/etc' });
});

test('a view without an upper dir or marked read-only refuses changes with EROFS', async (t) => {
  const { lower } = await setup(t, 'oci');
  const image = new Resolver({ lowerDirs: [lower], format: 'oci' });
  await t.throwsAsync(image.writeFile('/etc/conf', 'x'), { code: 'EROFS' });
  await t.throwsAsync(image.rm('/etc', { recursive: true }), { code: 'EROFS' });
  t.is(await image.readFile('/etc/conf', 'utf8'), 'lower bytes');
});
