/**
 * A `WWW-Authenticate` header: its scheme and parameters, e.g.
 * `Bearer realm="https://auth.example/token",service="registry",scope="repository:x:pull"`.
 */
export interface Challenge {
  /** Lower case: `basic` or `bearer` (others are kept, and refused by the caller). */
  scheme: string;
  params: Record<string, string>;
}

const PARAM = /\s*([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/y;

/** The first challenge of the header (registries send one); null when there is none. */
export function parseChallenge(header: string | undefined): Challenge | null {
  if (header === undefined) return null;
  const match = /^\s*([A-Za-z][\w-]*)(?:\s+|$)/.exec(header);
  if (!match) return null;
  const params: Record<string, string> = {};
  PARAM.lastIndex = match[0].length;
  for (let m = PARAM.exec(header); m !== null; m = PARAM.exec(header)) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    if (PARAM.lastIndex >= header.length) break;
  }
  return { scheme: match[1]!.toLowerCase(), params };
}
