/**
 * The all-modes fixture of the mode round-trip tests: a layer with a file of each of
 * the 4096 modes (/f/MODE) and a directory of each of a representative set (/d/MODE/,
 * each holding a file `x`), and how to list modes from a tar or a host directory.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseTar } from './raw-tar.js';
import type { LayerEntry } from './image-builder.js';

export const MODES = Array.from({ length: 0o10000 }, (_, mode) => mode);
/**
 * Directories: every special bit and every owner/group/other permission alone and
 * combined, not all 4096 (each directory costs a mkdir, a chmod and a child file on
 * every copy, which made the suite take minutes).
 */
export const DIR_MODES = [
  0o0000, 0o0001, 0o0002, 0o0004, 0o0007, 0o0010, 0o0020, 0o0040, 0o0070, 0o0100, 0o0200, 0o0300, 0o0400, 0o0500, 0o0600, 0o0700, 0o0711,
  0o0750, 0o0755, 0o0777, 0o1000, 0o1777, 0o2000, 0o2755, 0o3000, 0o4000, 0o4755, 0o5000, 0o6000, 0o7000, 0o7777,
];
export const name = (mode: number) => mode.toString(8).padStart(4, '0');

/** /f/MODE: a file of each mode; /d/MODE/: a directory of each mode, holding a file `x`. */
export const LAYER: LayerEntry[] = [
  { path: 'f/', mode: 0o755 },
  ...MODES.map((mode): LayerEntry => ({ path: `f/${name(mode)}`, content: `${name(mode)}\n`, mode })),
  { path: 'd/', mode: 0o755 },
  ...DIR_MODES.flatMap((mode): LayerEntry[] => [
    { path: `d/${name(mode)}/`, mode },
    { path: `d/${name(mode)}/x`, content: 'x\n', mode: 0o644 },
  ]),
];

/** `NAME MODE` for every file and directory of a tar, mode in octal. */
export function tarModes(tar: Buffer, prefix: string): string[] {
  return parseTar(tar)
    .filter((e) => e.name.startsWith(prefix) && e.name !== prefix && !e.name.endsWith('/x'))
    .map((e) => `${e.name.slice(prefix.length).replace(/\/$/, '')} ${name(e.mode)}`);
}

export function expected(modes = MODES): string[] {
  return modes.map((mode) => `${name(mode)} ${name(mode)}`);
}

export async function hostModes(dir: string): Promise<string[]> {
  const rows: string[] = [];
  for (const entry of (await fs.readdir(dir)).sort()) rows.push(`${entry} ${name((await fs.lstat(path.join(dir, entry))).mode & 0o7777)}`);
  return rows;
}
