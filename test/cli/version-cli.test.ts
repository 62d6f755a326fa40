import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { repoRoot, strata, strataProcess } from '../helpers/cli.js';

const version = async () => (JSON.parse(await fs.readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

test('strata --version prints one line, as docker --version does, whatever follows it', async (t) => {
  const expected = `strata version ${await version()}\n`;
  const out = await strataProcess('/nonexistent-store-is-never-opened', ['--version']);
  t.deepEqual([out.code, out.stdout, out.stderr], [0, expected, '']);
  const before = await strata('/nonexistent-store-is-never-opened', ['--version', 'images']);
  t.deepEqual([before.code, before.stdout], [0, expected]);
});

test('strata version shows the version, Node and platform', async (t) => {
  const out = await strata('/nonexistent-store-is-never-opened', ['version']);
  t.is(out.code, 0);
  t.is(out.stdout, `Version:    ${await version()}\nNode:       ${process.version}\nOS/Arch:    ${process.platform}/${process.arch}\n`);
});

test('system df --help says when cached container sizes are measured again', async (t) => {
  const out = await strata('/nonexistent-store-is-never-opened', ['system', 'df', '--help']);
  t.is(out.code, 0);
  t.regex(out.stdout, /--no-cache/);
  t.regex(out.stdout, /written straight into the upper dir by other\nmeans is not counted until one of those happens/);
});
