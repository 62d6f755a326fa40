import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { sourceFiles } from '../helpers/source-files.js';

/**
 * The environment and the process's privilege are read once, at the CLI edge
 * (src/cli/), and passed down as options. The only other readers, each with its
 * reason in a comment beside it: openStore's default for library callers that do not
 * say whether they run as root, and the test-only fault points.
 */
const ALLOWED: Record<string, string[]> = {
  'src/store/root.ts': ['process.geteuid'],
  'src/store/fault-points.ts': ['process.env'],
};
const READS = /process\.(env|getuid|geteuid|getgid|getegid)\b/g;

test('below the CLI, nothing reads environment variables or asks the process for its uid', async (t) => {
  const found: string[] = [];
  for (const file of await sourceFiles(path.join(repoRoot, 'src'))) {
    const rel = path.relative(repoRoot, file);
    if (rel.startsWith(`src${path.sep}cli${path.sep}`)) continue;
    const code = (await fs.readFile(file, 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const [read] of code.matchAll(READS)) if (!(ALLOWED[rel] ?? []).includes(read)) found.push(`${rel}: ${read}`);
  }
  t.deepEqual(found, [], `read below the CLI:\n${found.join('\n')}`);
});
