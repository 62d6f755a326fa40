import type { DiffEntry } from './layer-stack.js';

/** Files a layer's entry in the report names; the rest are counted, not listed. */
export const LAYER_FILES_LISTED = 100;

/**
 * The largest regular files a layer's diff holds (what the layer adds or replaces),
 * as paths in the image, and how many regular files it holds in all.
 */
export function layerFiles(diff: DiffEntry[]): { files: { path: string; size: number }[]; fileCount: number } {
  const files: { path: string; size: number }[] = [];
  for (const e of diff) if (e.kind === 'file' && e.regular) files.push({ path: e.path, size: e.size });
  files.sort((a, b) => b.size - a.size || a.path.localeCompare(b.path));
  return { files: files.slice(0, LAYER_FILES_LISTED), fileCount: files.length };
}
