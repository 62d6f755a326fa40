/**
 * Run by scripts/build-cli.ts: makes the bundle's V8 code cache from a warm script.
 * A cache made right after compiling holds only what V8 compiles eagerly; most of
 * a call's compile time goes to functions compiled on first use (commander building
 * the command tree, opening the store, listing). So the bundle runs here a few
 * everyday commands against a scratch store, and the cache is written afterwards,
 * holding the functions they compiled. They run at once, each with its own argv:
 * the bundle reads process.argv when it starts and does the rest asynchronously.
 * The scratch store holds the demo image and a container, made first by separate
 * processes, so listing a row and inspecting a record are compiled too (an empty
 * store's listing leaves them out) and loading is not.
 *
 * Usage: node dist/scripts/train-code-cache.js <scratch dir>
 */
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { BUNDLE_LAYOUT } from '../src/cli/bundle-layout.cjs';

const scratch = process.argv[2]!;
const root = path.join(scratch, 'store');
const COMMANDS = [['--version'], ['images'], ['ps', '-a'], ['inspect', 'demo'], ['image', 'ls', '-q']];

// dist/scripts/train-code-cache.js → the repository root is two levels up.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = (...args: string[]) =>
  execFileSync(process.execPath, [path.join(repoRoot, 'bin', 'strata.js'), '--root', root, ...args], { stdio: 'ignore' });
cli('load', '-q', '-i', path.join(repoRoot, 'fixtures', 'demo.tar'));
cli('create', '--name', 'trained', 'demo');

const { bundle, codeCache } = BUNDLE_LAYOUT;
// The bundle is already wrapped as the launcher compiles it (see wrapCommonJs).
const script = new vm.Script(fs.readFileSync(bundle, 'utf8'), { filename: bundle });
const run = script.runInThisContext() as (...args: unknown[]) => void;
const argv = process.argv;
for (const args of COMMANDS) {
  process.argv = [argv[0]!, bundle, '--root', root, ...args];
  const module = { exports: {} };
  run(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
}
process.argv = argv;

let crashed = false;
process.on('uncaughtExceptionMonitor', () => {
  crashed = true;
});
process.on('exit', () => {
  if (crashed) return;
  const tmp = `${codeCache}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, script.createCachedData());
  fs.renameSync(tmp, codeCache);
});
