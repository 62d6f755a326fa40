import path from 'node:path';

/**
 * Where the CLI's one-file bundle and its V8 code cache live, for the build that
 * writes them (scripts/build-cli.ts) and the tests. Both sit beside the tsc output:
 * dist/cli/ next to dist/src/. The launcher, bin/strata.js, names the same paths
 * itself: it is one file on purpose (see there).
 */
const distDir = path.resolve(__dirname, '..', '..');

export const BUNDLE_LAYOUT = {
  /**
   * The whole CLI as the text of one function of CommonJS's five free names (wrapCommonJs):
   * only a script compiled with vm.Script can use a code cache on Node 20.
   */
  bundle: path.join(distDir, 'cli', 'strata.cjs'),
  /** The same CLI for `--debug`: function names kept, and a source map beside it (`.map`). */
  debugBundle: path.join(distDir, 'cli', 'strata-debug.cjs'),
  /** V8's code cache for the bundle, made by the build. */
  codeCache: path.join(distDir, 'cli', 'strata.cjs.v8cache'),
  /** tsc's output for the CLI entry: the module graph the bundle was made from. */
  unbundledEntry: path.join(distDir, 'src', 'cli', 'bin.js'),
};

/**
 * A CommonJS file's text as one function of CommonJS's five free names, as the build
 * writes the bundle: the launcher compiles the file's text as it is, so V8 gets the
 * very text the code cache was made from (it rejects a cache made from any other),
 * and a 500 KB string is not copied once more to prepend the wrapper.
 */
export function wrapCommonJs(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}
