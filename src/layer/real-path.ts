import { joinRel } from './safe-fs.js';

/**
 * A real path inside a layer root (resolve-in-root.ts), carrying the sizes its
 * limits are checked on, kept up to date step by step so that checking a path never
 * means measuring it again from the start.
 */
export interface Place {
  /** Relative to the layer root, '' for the root; no component is a symlink. */
  real: string;
  /** UTF-8 bytes of `real`. */
  bytes: number;
  /** Components of `real`. */
  depth: number;
}

export const ROOT: Place = Object.freeze({ real: '', bytes: 0, depth: 0 });

/** The place of `name` in the directory `at`. */
export function below(at: Place, name: string): Place {
  return {
    real: joinRel(at.real, name),
    bytes: at.bytes + (at.depth === 0 ? 0 : 1) + Buffer.byteLength(name),
    depth: at.depth + 1,
  };
}

/** The parent of a real path; the root's parent is the root (`..` is clamped there). */
export function above(at: Place): Place {
  if (at.depth <= 1) return ROOT;
  const cut = at.real.lastIndexOf('/');
  return { real: at.real.slice(0, cut), bytes: at.bytes - Buffer.byteLength(at.real.slice(cut)), depth: at.depth - 1 };
}
