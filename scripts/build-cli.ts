/**
 * The second half of `npm run build` (after tsc): bundles the CLI into one CommonJS
 * file, dist/cli/strata.cjs, and makes V8's code cache for it; and once more, with
 * function names kept and a source map, into dist/cli/strata-debug.cjs for `--debug`.
 * bin/strata.js runs it. One file compiled from a cache starts in a fraction of
 * the time a graph of a hundred ES modules takes to resolve, read and compile.
 *
 * `import.meta.url` means in the bundle what it means in tsc's output: each module's
 * own URL under dist/src/. So files found relative to a module (package.json for
 * the version, a worker script) are found where tsc put them, bundled or not.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { BUNDLE_LAYOUT, wrapCommonJs } from '../src/cli/bundle-layout.cjs';

// dist/scripts/build-cli.js → the repository root is two levels up.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Defined at the top of the bundle: the URL of a module's tsc output, from its path under the repository. */
const MODULE_URL_HELPER =
  "function __strataModuleUrl(rel) { return require('node:url').pathToFileURL(require('node:path').join(__dirname, '..', rel)).href; }";

/** Replaces `import.meta.url` in each of our modules with its tsc output's URL (dist/src/x/y.js for src/x/y.ts). */
const moduleUrls: Plugin = {
  name: 'module-urls',
  setup(b) {
    const srcDir = path.join(repoRoot, 'src') + path.sep;
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(srcDir)) return undefined;
      const source = await fs.readFile(args.path, 'utf8');
      const compiled = path.relative(repoRoot, args.path).replace(/\.ts$/, '.js').split(path.sep).join('/');
      return { contents: source.replaceAll('import.meta.url', `__strataModuleUrl(${JSON.stringify(compiled)})`), loader: 'ts' };
    });
  },
};

/**
 * commander loads node:child_process (several ms, with net and its streams) at its top,
 * for executable subcommands strata never defines; it gets it on first use instead.
 */
const deferChildProcess: Plugin = {
  name: 'defer-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer) ? { path: 'deferred-child-process', namespace: 'defer-child-process' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'defer-child-process' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

/**
 * The report page's script is not a source but a build product (scripts/bundle-report-page.mjs
 * writes it beside tsc's output, src/report/page-script.d.ts declares it); the bundle takes it from there.
 */
const reportPageScript: Plugin = {
  name: 'report-page-script',
  setup(b) {
    b.onResolve({ filter: /^\.\/page-script\.js$/ }, (args) =>
      args.importer === path.join(repoRoot, 'src', 'report', 'html.ts')
        ? { path: path.join(repoRoot, 'dist', 'src', 'report', 'page-script.js') }
        : undefined,
    );
  },
};

async function main(): Promise<void> {
  const { bundle, debugBundle, codeCache } = BUNDLE_LAYOUT;
  await fs.mkdir(path.dirname(bundle), { recursive: true });
  // What --debug runs: every function keeps its name (esbuild renames them), so stack
  // traces name them, and the source map points them at the src/*.ts lines.
  const debug = await bundleCli(debugBundle, { keepNames: true, sourcemap: 'linked', sourcesContent: false });
  // What every other call runs: keepNames would define `name` on each function as its
  // module loads, a few percent of a start-up, for names only a stack trace shows.
  const code = wrapCommonJs(withLightInterop((await bundleCli(bundle, {})).get(bundle)!));
  // A cache of what V8 compiles eagerly, until trainCodeCache replaces it with a fuller one.
  const cache = new vm.Script(code, { filename: bundle }).createCachedData();
  await writeReplacing(`${debugBundle}.map`, debug.get(`${debugBundle}.map`)!);
  await writeReplacing(debugBundle, debug.get(debugBundle)!);
  await writeReplacing(codeCache, cache);
  // The bundle last: the launcher takes a bundle newer than tsc's output as current.
  await writeReplacing(bundle, code);
  await trainCodeCache();
}

/** The CLI as one CommonJS file at `outfile`; returns the files' texts by path. */
async function bundleCli(
  outfile: string,
  options: Pick<BuildOptions, 'keepNames' | 'sourcemap' | 'sourcesContent'>,
): Promise<Map<string, string>> {
  const result = await build({
    entryPoints: [path.join(repoRoot, 'src', 'cli', 'bin.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // import() of a built-in becomes require(): a vm.Script has no module loader of its
    // own for import() (Node 20's stand-in prints an ExperimentalWarning).
    supported: { 'dynamic-import': false },
    banner: { js: MODULE_URL_HELPER },
    plugins: [moduleUrls, deferChildProcess, reportPageScript],
    // Half the bytes to read and to keep in memory.
    minify: true,
    logLevel: 'warning',
    write: false,
    ...options,
  });
  if (result.warnings.length > 0) throw new Error(`esbuild warned about ${result.warnings.length} things; see above`);
  const files = new Map(result.outputFiles.map((f) => [f.path, f.text]));
  if (/\bimport\(/.test(files.get(outfile)!))
    throw new Error(`${path.relative(repoRoot, outfile)} still has an import(), which a vm.Script cannot run`);
  return files;
}

/**
 * esbuild's `__toESM` as its minifier writes it: `NAME=(mod,isNodeMode,target)=>(target=mod!=null?…`,
 * with its one-letter names captured. A newer esbuild that writes it otherwise fails the build (withLightInterop).
 */
const MINIFIED_TO_ESM =
  /([$\w]+)=\(([$\w]+),([$\w]+),([$\w]+)\)=>\(\4=\2!=null\?[$\w]+\([$\w]+\(\2\)\):\{\},[$\w]+\(\3\|\|!\2\|\|!\2\.__esModule\?[$\w]+\(\4,"default",\{value:\2,enumerable:!0\}\):\4,\2\)\)/g;

/**
 * A default import of CommonJS (`import fs from 'node:fs'`, in some sixty modules)
 * becomes `__toESM(require('node:fs'), 1)`: a new object with a getter defined for
 * every one of the module's exports, at every import site, as each module loads:
 * thousands of defineProperty calls and a scavenge or two before a command runs.
 * The stand-in gives the same lookups for the cost of one object: `default` is the
 * module, and every other name is found on the module itself, the object's prototype,
 * as live as the getters were. Only enumerating the wrapper differs (it lists just
 * `default`), which no code here does with an imported module. The `--debug` bundle
 * keeps esbuild's own.
 */
function withLightInterop(code: string): string {
  const found = [...code.matchAll(MINIFIED_TO_ESM)].length;
  if (found !== 1) throw new Error(`esbuild's __toESM helper found ${found} times in the bundle, not once; see withLightInterop`);
  return code.replace(
    MINIFIED_TO_ESM,
    (_, name: string, mod: string, nodeMode: string) =>
      `${name}=(${mod},${nodeMode})=>${mod}===null||typeof ${mod}!="object"&&typeof ${mod}!="function"?{default:${mod}}` +
      `:${nodeMode}||!${mod}.__esModule?Object.create(${mod},{default:{value:${mod},enumerable:!0}}):${mod}`,
  );
}

/** Replaces the cache with one from a warm script (scripts/train-code-cache.ts); a bundle that cannot list a store fails the build. */
async function trainCodeCache(): Promise<void> {
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-code-cache-'));
  try {
    await promisify(execFile)(process.execPath, [path.join(repoRoot, 'dist', 'scripts', 'train-code-cache.js'), scratch]);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** Under a temporary name, then renamed: a CLI started meanwhile (a test run) reads the old file or the new one, never half of one. */
async function writeReplacing(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}

await main();
