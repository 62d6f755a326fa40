import test from 'ava';
import { foldSmallFiles, FILES_KEPT_PER_DIR } from '../../src/report/file-tree.js';
import type { TreeNode } from '../../src/report/report-data.js';

/** A tree of `dirs` directories of `files` files each, file i of `i + 1` bytes in layer i % 2. */
function tree(dirs: number, files: number): TreeNode {
  return {
    n: '',
    c: Array.from({ length: dirs }, (_, d) => ({
      n: `d${d}`,
      c: Array.from({ length: files }, (_, i) => ({ n: `f${i}`, s: i + 1, l: i % 2 })),
    })),
  };
}

test(`a directory keeps its ${FILES_KEPT_PER_DIR} largest files by name and folds the rest per layer`, (t) => {
  const root = tree(1, 70);
  foldSmallFiles([root]);
  const dir = root.c![0]!;
  t.is(dir.c!.length, FILES_KEPT_PER_DIR + 2);
  t.deepEqual(dir.c!.slice(FILES_KEPT_PER_DIR), [
    // Files 1..6 bytes: layer 0 has 1, 3, 5; layer 1 has 2, 4, 6.
    { n: '(3 files, 12B)', s: 12, l: 1, k: 3 },
    { n: '(3 files, 9B)', s: 9, l: 0, k: 3 },
  ]);
});

test('a report of many trees keeps fewer files per directory, the same in each, to stay within its budget', (t) => {
  const trees = [tree(50, 10), tree(50, 10)];
  foldSmallFiles(trees, 500);
  // 100 directories of 10 files: 4 kept and 2 aggregates would be 600; 3 kept and 2 aggregates in each is 500.
  for (const dir of trees.flatMap((r) => r.c!)) {
    t.deepEqual(
      dir.c!.map((c) => c.n),
      ['f9', 'f8', 'f7', '(4 files, 16B)', '(3 files, 12B)'],
    );
  }
  const bytes = trees.flatMap((r) => r.c!).reduce((sum, d) => sum + d.c!.reduce((s, c) => s + c.s!, 0), 0);
  t.is(bytes, 100 * 55, 'no byte is lost in folding');
});
