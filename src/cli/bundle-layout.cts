import path from 'node:path';

/**
 * Where the CLI's one-file bundle and its V8 code cache live, for the build that
 * writes them (scripts/build-cli.ts) and the launcher that runs them
 * (src/cli/launch.cts). Both sit beside the tsc output: dist/cli/ next to dist/src/.
 * CommonJS (.cts), as the launcher is: see there why.
 */
const distDir = path.resolve(__dirname, '..', '..');

export const BUNDLE_LAYOUT = {
  /** The whole CLI, CommonJS: only a script compiled with vm.Script can use a code cache on Node 20. */
  bundle: path.join(distDir, 'cli', 'strata.cjs'),
  /** The same CLI for `--debug`: function names kept, and a source map beside it (`.map`). */
  debugBundle: path.join(distDir, 'cli', 'strata-debug.cjs'),
  /** V8's code cache for the bundle, made by the build. */
  codeCache: path.join(distDir, 'cli', 'strata.cjs.v8cache'),
  /** tsc's output for the CLI entry: the module graph the bundle was made from. */
  unbundledEntry: path.join(distDir, 'src', 'cli', 'bin.js'),
};

/**
 * The bundle's text as one function of CommonJS's five free names. The build makes
 * the code cache from exactly this text; V8 rejects a cache made from any other.
 */
export function wrapCommonJs(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}
