import test from 'ava';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot, strata, strataProcess } from '../helpers/cli.js';
import { BUNDLE_LAYOUT } from '../../src/cli/bundle-layout.cjs';

/**
 * bin/strata.js runs the one-file bundle, not tsc's module graph.
 * `npm test` builds it; a run after `npx tsc` alone has a bundle older than tsc's
 * output, which the launcher would pass over, so it is rebuilt here first (written
 * by rename: CLIs other tests start meanwhile see the old bundle or the new one).
 */
const { bundle, unbundledEntry } = BUNDLE_LAYOUT;
const current = () => fs.existsSync(bundle) && fs.statSync(bundle).mtimeMs >= fs.statSync(unbundledEntry).mtimeMs;
if (!current()) await promisify(execFile)(process.execPath, [path.join(repoRoot, 'dist', 'scripts', 'build-cli.js')]);

async function tmpRoot(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-bundle-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'store');
}

// NODE_DEBUG=esm logs every ES module Node loads: the bundle is CommonJS run from a
// vm.Script, so a line there means tsc's output (dist/src/…) ran instead.
const ESM_TRACE = { NODE_DEBUG: 'esm' };

test('bin/strata.js runs the bundle: --help is the in-process help, and no ES module is loaded', async (t) => {
  t.true(current(), 'the bundle is newer than tsc output');
  const root = await tmpRoot(t);
  const bundled = await strataProcess(root, ['--help'], { env: ESM_TRACE });
  const inProcess = await strata(root, ['--help']);
  t.is(bundled.code, 0);
  t.is(bundled.stderr, '');
  t.true(bundled.stdout.startsWith('Usage: strata [options] [command]\n'));
  t.is(bundled.stdout, inProcess.stdout);
});

test('a failing command through the bundle exits 1 with its one line, and loads no ES module', async (t) => {
  const root = await tmpRoot(t);
  const r = await strataProcess(root, ['rmi', 'nope'], { env: ESM_TRACE });
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.is(r.stderr, 'strata: No such image: nope\n');
});

test('--debug through the bundle prints a stack naming the src/*.ts lines (source map), then the one line', async (t) => {
  const root = await tmpRoot(t);
  const r = await strataProcess(root, ['--debug', 'rmi', 'nope']);
  t.is(r.code, 1);
  t.is(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines[0], 'StrataError: No such image: nope');
  t.regex(lines[1]!, /^ {4}at findImage \(.*[\\/]src[\\/]image[\\/]lookup\.ts:\d+:\d+\)$/);
  t.false(r.stderr.includes(`dist${path.sep}`), 'no frame in tsc output or in the bundle itself');
  t.is(lines.at(-1), 'strata: No such image: nope');
});
