import { createHash } from 'node:crypto';
import type { Resolver } from './resolver.js';
import type { EntryType } from './options.js';
import { compareNames } from './readdir.js';

/** The types list_tree.py prints (a socket is `other` there). */
export type TreeType = Exclude<EntryType, 'socket'> | 'other';

/** One line of conformance/list_tree.py's TSV. */
export interface TreeRow {
  /** Path below the listed root, starting with `/`. */
  path: string;
  type: TreeType;
  /** Permission bits (S_IMODE), printed as 4-digit octal. */
  mode: number;
  /** Files only. */
  size: number | null;
  /** Files only: hex sha256 of the content. */
  sha256: string | null;
  /** Symlinks only: the target as stored. */
  link: string | null;
}

export const TREE_TSV_HEADER = 'path\ttype\tmode\tsize\tsha256\tlink';

/**
 * The merged tree below `root` as list_tree.py prints a directory: every entry, sorted
 * by path, file contents hashed by streaming them.
 */
export async function listTree(resolver: Resolver, root = '/'): Promise<TreeRow[]> {
  const rows: TreeRow[] = [];
  const base = root === '/' ? '' : root.replace(/\/+$/, '');
  for await (const { path, stats } of resolver.walk(root)) {
    const row: TreeRow = {
      path: path.slice(base.length),
      type: stats.type === 'socket' ? 'other' : stats.type,
      mode: stats.mode,
      size: null,
      sha256: null,
      link: null,
    };
    if (stats.type === 'file') {
      row.size = stats.size;
      row.sha256 = await sha256Of(resolver, path);
    } else if (stats.type === 'symlink') {
      row.link = await resolver.readlink(path);
    }
    rows.push(row);
  }
  return rows.sort((a, b) => compareNames(a.path, b.path));
}

async function sha256Of(resolver: Resolver, path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await resolver.createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function formatTreeTsv(rows: TreeRow[]): string {
  const lines = rows.map((r) =>
    [r.path, r.type, r.mode.toString(8).padStart(4, '0'), r.size === null ? '' : String(r.size), r.sha256 ?? '', r.link ?? ''].join('\t'),
  );
  return `${[TREE_TSV_HEADER, ...lines].join('\n')}\n`;
}
