import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { sourceFiles } from '../helpers/source-files.js';

/**
 * Caches belong to an object the caller holds (a Resolver, a UsageMeter, a
 * LowerIndexes), so they die with it and two callers never see each other's answers.
 * Module-level state is allowed only where it is about the process itself, each with
 * the reason here and beside it.
 */
const ALLOWED: Record<string, string> = {
  'src/store/lock.ts heldHere': 'locks are held by the process, whichever Store asked',
  'src/store/lock.ts queues': 'in-process queue in front of a per-process lock',
  'src/store/fault-points.ts counters': 'test-only fault points count hits per process (shared with its import workers)',
  'src/store/process-identity.ts me': 'facts about this process that cannot change while it runs',
  'src/store/random.ts crypto': 'a module loaded on first use',
  'src/content/digest.ts loaded': 'a module loaded on first use',
  'src/cli/progress.ts loaded': 'a module loaded on first use',
  'src/xattr.ts loaded': 'a native addon loaded on first use',
  'src/cli/bin.ts stdinUsed': 'the process entry point',
  'src/store/owner-access.ts opened': 'owner bits this process has opened on files: one count per file for every store and view in it',
};

// Top-level `let x` and `const x = new Map/Set/WeakMap/WeakSet(` not filled from a literal table.
const STATE = /^(?:export )?(?:let (\w+)|const (\w+)\s*(?::[^=]+)?=\s*new (?:Map|Set|WeakMap|WeakSet)(?:<[^(]*>)?\((?!\s*\[))/gm;

test('no module-level caches: mutable state at module level is about the process only', async (t) => {
  const found: string[] = [];
  for (const file of await sourceFiles(path.join(repoRoot, 'src'))) {
    const rel = path.relative(repoRoot, file);
    for (const m of (await fs.readFile(file, 'utf8')).matchAll(STATE)) {
      const key = `${rel} ${m[1] ?? m[2]}`;
      if (!(key in ALLOWED)) found.push(key);
    }
  }
  t.deepEqual(found, [], `module-level state:\n${found.join('\n')}`);
});
