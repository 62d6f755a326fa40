import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Resolver } from '../../src/resolver/index.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { bothFormats } from '../helpers/both-formats.js';
import { LAYER_MTIME, buildLayer, d, f, ln } from './suite.js';

const asRoot = process.geteuid?.() === 0;

async function setup(t: { teardown(fn: () => Promise<void>): void }, format: WhiteoutFormat, rootless = false) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-chown-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  const lower = path.join(root, 'lower');
  await buildLayer(
    lower,
    [d('/etc'), f('/etc/conf', 'lower bytes', 0o640), ln('/etc/link', 'conf'), ln('/escape', '../../etc/conf')],
    format,
  );
  const upperDir = path.join(root, 'upper');
  await fs.mkdir(upperDir);
  const r = new Resolver({ lowerDirs: [lower], upperDir, workDir: path.join(root, 'work'), format, rootless, privileged: asRoot });
  return { r, lower, upperDir };
}

bothFormats('chown of a lower file copies it up whole and sets the owner', async (t, format) => {
  const { r, lower, upperDir } = await setup(t, format);
  await r.chown('/etc/conf', 1234, 5678);
  t.like(await r.lstat('/etc/conf'), { uid: 1234, gid: 5678, mode: 0o640, layer: 'upper' });
  t.is(await r.readFile('/etc/conf', 'utf8'), 'lower bytes');
  const up = await fs.lstat(path.join(upperDir, 'etc/conf'));
  t.is(up.mtimeMs, LAYER_MTIME * 1000);
  if (asRoot) t.deepEqual([up.uid, up.gid], [1234, 5678], 'the upper file really has the owner');
  t.is((await fs.lstat(path.join(lower, 'etc/conf'))).uid, process.geteuid?.() ?? 0, 'the lower file is untouched');
  // -1 leaves an id as it is.
  await r.chown('/etc/conf', -1, 42);
  t.like(await r.lstat('/etc/conf'), { uid: 1234, gid: 42 });
});

bothFormats('chown follows a symlink inside the root; lchown changes the link, never its target', async (t, format) => {
  const { r, upperDir } = await setup(t, format);
  await r.chown('/etc/link', 7, 8);
  t.like(await r.lstat('/etc/conf'), { uid: 7, gid: 8 });
  // An absolute-looking escape resolves inside the root: /etc/conf again.
  await r.chown('/escape', 9, 10);
  t.like(await r.lstat('/etc/conf'), { uid: 9, gid: 10 });
  await t.throwsAsync(r.lchown('/nope', 1, 1), { code: 'ENOENT' });
  if (!asRoot) return;
  await r.lchown('/etc/link', 11, 12);
  t.like(await r.lstat('/etc/link'), { uid: 11, gid: 12, layer: 'upper' });
  t.like(await r.lstat('/etc/conf'), { uid: 9, gid: 10 });
  const up = await fs.lstat(path.join(upperDir, 'etc/link'));
  t.deepEqual([up.isSymbolicLink(), up.uid, up.gid], [true, 11, 12]);
});

bothFormats('rootless chown records the owner on the upper copy', async (t, format) => {
  const { r, upperDir } = await setup(t, format, true);
  await r.chown('/etc/conf', 1000, 1001);
  t.like(await r.lstat('/etc/conf'), { uid: 1000, gid: 1001, layer: 'upper' });
  if (asRoot) t.deepEqual((await fs.lstat(path.join(upperDir, 'etc/conf'))).uid, 0, 'the host owner is left alone');
});
