import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { BUNDLE_LAYOUT, wrapCommonJs } from './bundle-layout.cjs';

/**
 * What bin/strata.js runs: the CLI from its one-file bundle (`npm run build` makes
 * it), compiled with the V8 code cache the build made beside it, so a call pays
 * neither for resolving and reading a hundred modules nor for compiling them.
 * CommonJS, as bin/strata.js is (bin/package.json): an ES module entry would cost
 * Node 20 its ES module loader, several milliseconds of a 50 ms start.
 *
 * - `--debug` loads the bundle's twin that keeps function names through require(),
 *   with source maps on, so stack traces name src/*.ts lines and functions; reading
 *   the map costs time only then.
 * - A bundle older than tsc's output (`npx tsc` after the last `npm run build`), or
 *   none at all, would run stale code: then the module graph tsc wrote runs instead.
 * - A cache V8 rejects (another Node version or V8 flags) only costs the compile.
 */
const { bundle, debugBundle, codeCache, unbundledEntry } = BUNDLE_LAYOUT;

if (!bundleIsCurrent()) {
  void import('./bin.js');
} else if (process.argv.includes('--debug')) {
  process.setSourceMapsEnabled(true);
  require(debugBundle);
} else {
  runCached();
}

function bundleIsCurrent(): boolean {
  try {
    return fs.statSync(bundle).mtimeMs >= fs.statSync(unbundledEntry).mtimeMs;
  } catch {
    return false;
  }
}

function runCached(): void {
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(codeCache);
  } catch {
    // No cache: V8 compiles as it would for require().
  }
  // The build turned every import() into require(): a vm.Script has no loader for import().
  const script = new vm.Script(wrapCommonJs(fs.readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
}
