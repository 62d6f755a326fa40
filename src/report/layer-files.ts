import { measureTree } from '../layer/size.js';

/** Files a layer's entry in the report names; the rest are counted, not listed. */
export const LAYER_FILES_LISTED = 100;

/**
 * The largest files a layer's diff holds (what the layer adds or replaces), as
 * paths in the image, and how many files it holds in all.
 */
export async function layerFiles(diffDir: string): Promise<{ files: { path: string; size: number }[]; fileCount: number }> {
  const files: { path: string; size: number }[] = [];
  await measureTree(diffDir, (file, size) => files.push({ path: file.slice(diffDir.length), size }));
  files.sort((a, b) => b.size - a.size || a.path.localeCompare(b.path));
  return { files: files.slice(0, LAYER_FILES_LISTED), fileCount: files.length };
}
