import test from 'ava';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot, strata } from '../helpers/cli.js';

/**
 * Output on a pipe is written by src/cli/standard-output.ts: straight to fd 1 at
 * first, through process.stdout past a pipe's worth. Through a shell pipe, as a
 * user runs `strata … | reader`, with more output than a pipe holds.
 */
const run = promisify(execFile);
const bin = path.join(repoRoot, 'bin', 'strata.js');

async function storeWithDemo(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-stdout-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'store');
  const loaded = await strata(root, ['load', '-q', '-i', path.join(repoRoot, 'fixtures', 'demo.tar')]);
  if (loaded.code !== 0) throw new Error(loaded.stderr);
  return root;
}

/** `image inspect --format` of the demo image `times` times over: one line per name, ~80 bytes each. */
function inspectMany(times: number): string[] {
  return ['image', 'inspect', '--format', '{{.Id}} {{.Os}} {{.Architecture}}', ...Array<string>(times).fill('demo')];
}

test('more output than a pipe holds, to a reader slow to start, arrives whole and in order', async (t) => {
  const root = await storeWithDemo(t);
  const args = inspectMany(3000);
  const expected = await strata(root, args);
  t.is(expected.code, 0);
  t.true(expected.stdout.length > 128 * 1024, 'more output than a pipe holds');
  const piped = await run('bash', ['-c', 'node "$@" | { sleep 0.5; cat; }', 'bash', bin, '--root', root, ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  t.is(piped.stderr, '');
  t.is(piped.stdout, expected.stdout);
});

test('a reader that stops reading early ends the command quietly, with exit 0', async (t) => {
  const root = await storeWithDemo(t);
  // Far more than a pipe holds, so strata is still writing when head has gone.
  const args = inspectMany(12000);
  // $PIPESTATUS: the exit status of the pipe's first command, strata's.
  const piped = await run('bash', ['-c', 'node "$@" | head -c 10; echo " exit $PIPESTATUS"', 'bash', bin, '--root', root, ...args]);
  t.is(piped.stderr, '');
  t.is(piped.stdout, 'sha256:8eb exit 0\n');
});
