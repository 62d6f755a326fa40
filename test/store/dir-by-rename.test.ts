import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createDirByRename, DirBuild } from '../../src/store/dir-by-rename.js';

async function parent(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-dir-by-rename-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a built directory appears whole under its name, and nothing else is left', async (t) => {
  const dir = await parent(t);
  const created = await createDirByRename(path.join(dir, 'thing'), async (tmp) => {
    t.true(path.basename(tmp).startsWith('.tmp-'), 'built under a name gc and check know as a leftover');
    await fs.writeFile(path.join(tmp, 'record.json'), '{}\n');
  });
  t.true(created);
  t.deepEqual(await fs.readdir(dir), ['thing']);
  t.is(await fs.readFile(path.join(dir, 'thing', 'record.json'), 'utf8'), '{}\n');
});

test('a failed build leaves nothing behind and throws its own error', async (t) => {
  const dir = await parent(t);
  const err = await t.throwsAsync(
    createDirByRename(path.join(dir, 'thing'), async (tmp) => {
      await fs.mkdir(path.join(tmp, 'locked'), { mode: 0o000 });
      throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    }),
  );
  t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
  t.deepEqual(await fs.readdir(dir), []);
});

test('an existing target is kept as it was: false, and the new build is gone', async (t) => {
  const dir = await parent(t);
  await fs.mkdir(path.join(dir, 'thing'));
  await fs.writeFile(path.join(dir, 'thing', 'theirs'), 'theirs');
  const created = await createDirByRename(path.join(dir, 'thing'), async (tmp) => {
    await fs.writeFile(path.join(tmp, 'ours'), 'ours');
  });
  t.false(created);
  t.deepEqual(await fs.readdir(dir), ['thing']);
  t.deepEqual(await fs.readdir(path.join(dir, 'thing')), ['theirs']);
});

test("a build whose target exists stays the caller's to retry until it is discarded", async (t) => {
  const dir = await parent(t);
  await fs.mkdir(path.join(dir, 'lock'));
  await fs.writeFile(path.join(dir, 'lock', 'owner'), 'other');
  const build = await DirBuild.begin(dir, { mode: 0o700 });
  await fs.writeFile(path.join(build.path, 'owner'), 'me');
  t.false(await build.commit(path.join(dir, 'lock'), { durable: false }));
  t.is(await fs.readFile(path.join(build.path, 'owner'), 'utf8'), 'me', 'still there for another try');
  await fs.rm(path.join(dir, 'lock'), { recursive: true });
  t.true(await build.commit(path.join(dir, 'lock'), { durable: false }));
  t.true(build.committed);
  await build.discard(); // nothing once committed
  t.deepEqual(await fs.readdir(dir), ['lock']);
  t.is(await fs.readFile(path.join(dir, 'lock', 'owner'), 'utf8'), 'me');
});
