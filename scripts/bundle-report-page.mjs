/**
 * Builds the report page's script and style into dist/src/report/page-script.js,
 * which src/report/page-script.d.ts declares and src/report/html.ts inlines into
 * every report: the page needs nothing from the network, so everything it runs is
 * in the module. Run by `npm run build`, `npm test` and `prepare`, after tsc.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const page = path.join(root, 'src', 'report', 'page');

const result = await build({
  entryPoints: [path.join(page, 'main.ts')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'chrome100',
  platform: 'browser',
  write: false,
  legalComments: 'none',
});
const script = result.outputFiles[0].text;
const style = await fs.readFile(path.join(page, 'style.css'), 'utf8');
const out = path.join(root, 'dist', 'src', 'report', 'page-script.js');
await fs.mkdir(path.dirname(out), { recursive: true });
await fs.writeFile(out, `export const PAGE_SCRIPT = ${JSON.stringify(script)};\nexport const PAGE_STYLE = ${JSON.stringify(style)};\n`);
