#!/usr/bin/env node
'use strict';
/**
 * The CLI from its one-file bundle (`npm run build` makes it, scripts/build-cli.ts),
 * compiled with the V8 code cache the build made beside it, so a call pays neither
 * for resolving and reading a hundred modules nor for compiling them.
 *
 * All of the launcher is this one file, in plain CommonJS (bin/package.json): each
 * further file would be one more module to resolve, read and compile without a
 * cache before any command runs, and an ES module entry would cost Node 20 its ES
 * module loader. The paths below are those of src/cli/bundle-layout.cts, which the
 * build writes to; keep the two alike.
 *
 * - `--debug` loads the bundle's twin that keeps function names through require(),
 *   with source maps on, so stack traces name src/*.ts lines and functions; reading
 *   the map costs time only then.
 * - A bundle older than tsc's output (`npx tsc` after the last `npm run build`), or
 *   none at all, would run stale code: then the module graph tsc wrote runs instead.
 * - A cache V8 rejects (another Node version or V8 flags) only costs the compile.
 */
const fs = require('node:fs');
const path = require('node:path');

const cliDir = path.join(__dirname, '..', 'dist', 'cli');
const bundle = path.join(cliDir, 'strata.cjs');
const unbundledEntry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'bin.js');

if (!bundleIsCurrent()) {
  void import('../dist/src/cli/bin.js');
} else if (process.argv.includes('--debug')) {
  process.setSourceMapsEnabled(true);
  require('../dist/cli/strata-debug.cjs');
} else {
  runCached();
}

function bundleIsCurrent() {
  try {
    return fs.statSync(bundle).mtimeMs >= fs.statSync(unbundledEntry).mtimeMs;
  } catch {
    return false;
  }
}

function runCached() {
  let cachedData;
  try {
    cachedData = fs.readFileSync(`${bundle}.v8cache`);
  } catch {
    // No cache: V8 compiles as it would for require().
  }
  const vm = require('node:vm');
  const { createRequire } = require('node:module');
  // The build wrote the bundle as one function of CommonJS's five free names (and
  // turned every import() into require(): a vm.Script has no loader for import()).
  const script = new vm.Script(fs.readFileSync(bundle, 'utf8'), { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, cliDir);
}
