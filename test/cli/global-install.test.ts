import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/cli.js';
import { testUnless } from '../helpers/skip.js';

const run = promisify(execFile);

// README's global install: `npm link` puts `strata` on the PATH. Done here into a
// private prefix (NPM_CONFIG_PREFIX), so the machine's global packages are untouched.
const npm = await run('npm', ['--version']).then(
  () => true,
  () => false,
);

testUnless(npm ? null : 'npm is not on PATH')('npm link puts a strata command on the PATH that works from any directory', async (t) => {
  const prefix = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-prefix-'));
  t.teardown(() => fs.rm(prefix, { recursive: true, force: true }));
  await fs.mkdir(path.join(prefix, 'lib'));
  const env = { ...process.env, NPM_CONFIG_PREFIX: prefix };
  await run('npm', ['link', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: repoRoot, env });
  const bin = path.join(prefix, 'bin', 'strata');
  const elsewhere = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-cwd-'));
  t.teardown(() => fs.rm(elsewhere, { recursive: true, force: true }));
  const version = await run(bin, ['--version'], { cwd: elsewhere });
  t.regex(version.stdout, /^strata version \d+\.\d+\.\d+\n$/);
  const images = await run(bin, ['--root', path.join(elsewhere, 'store'), 'images'], { cwd: elsewhere });
  t.is(images.stdout, 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n');
});
