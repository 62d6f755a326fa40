import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { sourceFiles } from '../helpers/source-files.js';

/**
 * The layering the pipeline depends on, checked on the sources: archive readers know
 * nothing of the image store, containers or the merged view above them; and image/,
 * container/, volume/ and gc/ can each be understood (and changed) without the others
 * reaching back into them. Every import counts, `import type` and `import()` too.
 */
const SRC = path.join(repoRoot, 'src');
const ARCHIVE_MUST_NOT_REACH = ['image', 'container', 'resolver'];
const ACYCLIC = ['image', 'container', 'volume', 'gc'];

interface Edge {
  /** Repo-relative paths, e.g. src/archive/tar-writer.ts. */
  from: string;
  to: string;
}

// Static imports and re-exports (`import x from`, `import type {…} from`, `export * from`,
// side-effect `import '…'`) and dynamic `import('…')`; comments are stripped first.
const SPECIFIER = /(?:\bimport\b|\bexport\b)(?:[^'";]*?\bfrom\b)?\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

async function importEdges(): Promise<Edge[]> {
  const edges: Edge[] = [];
  for (const file of await sourceFiles(SRC)) {
    const code = stripComments(await fs.readFile(file, 'utf8'));
    for (const match of code.matchAll(SPECIFIER)) {
      const specifier = match[1] ?? match[2]!;
      if (!specifier.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts');
      edges.push({ from: path.relative(repoRoot, file), to: path.relative(repoRoot, target) });
    }
  }
  return edges;
}

/** The folder under src/ a file lives in ('' for src/ itself). */
function folderOf(file: string): string {
  const parts = file.split(path.sep);
  return parts.length > 2 ? parts[1]! : '';
}

const show = (edges: Edge[]) => edges.map((e) => `${e.from} -> ${e.to}`).sort();

/** Folders of `among` that reach each other through imports between those folders: each set is a cycle. */
function folderCycles(edges: Edge[], among: string[]): string[][] {
  const next = new Map(among.map((f) => [f, new Set<string>()]));
  for (const e of edges) {
    const [a, b] = [folderOf(e.from), folderOf(e.to)];
    if (a !== b && next.has(a) && next.has(b)) next.get(a)!.add(b);
  }
  const reach = (from: string): Set<string> => {
    const seen = new Set<string>();
    const pending = [from];
    for (let f = pending.pop(); f !== undefined; f = pending.pop()) {
      for (const g of next.get(f)!)
        if (!seen.has(g)) {
          seen.add(g);
          pending.push(g);
        }
    }
    return seen;
  };
  const reached = new Map(among.map((f) => [f, reach(f)]));
  const cycles: string[][] = [];
  const placed = new Set<string>();
  for (const f of among) {
    if (placed.has(f) || !reached.get(f)!.has(f)) continue;
    const cycle = among.filter((g) => reached.get(f)!.has(g) && reached.get(g)!.has(f));
    for (const g of cycle) placed.add(g);
    cycles.push(cycle);
  }
  return cycles;
}

test('the import parser sees every kind of import the sources use', async (t) => {
  const edges = await importEdges();
  const from = (file: string) => edges.filter((e) => e.from === file).map((e) => e.to);
  // A plain import, a type-only import and a dynamic import, each known to exist.
  t.true(from('src/cli/main.ts').length > 0);
  t.true(
    edges.some((e) => e.from === 'src/usage/usage-meter.ts' && e.to === 'src/usage/container-usage.ts'),
    'dynamic import()',
  );
  t.true(
    edges.some((e) => e.from === 'src/usage/lower-index.ts' && e.to === 'src/resolver/resolver.ts'),
    'import type',
  );
  t.deepEqual(
    edges.filter((e) => !e.to.startsWith('src/')),
    [],
    'every relative import stays inside src/',
  );
});

test('nothing in src/archive/ imports from src/image/, src/container/ or src/resolver/', async (t) => {
  const upward = (await importEdges()).filter((e) => folderOf(e.from) === 'archive' && ARCHIVE_MUST_NOT_REACH.includes(folderOf(e.to)));
  t.deepEqual(show(upward), [], `archive/ reaches up:\n${show(upward).join('\n')}`);
});

test('src/image/, src/container/, src/volume/ and src/gc/ form no import cycle', async (t) => {
  const edges = await importEdges();
  const cycles = folderCycles(edges, ACYCLIC);
  const inCycles = edges.filter((e) => {
    const [a, b] = [folderOf(e.from), folderOf(e.to)];
    return a !== b && cycles.some((c) => c.includes(a) && c.includes(b));
  });
  t.deepEqual(cycles, [], `import cycles between folders; the edges that close them:\n${show(inCycles).join('\n')}`);
});
