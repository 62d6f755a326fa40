import { StrataError } from '../errors.js';

/**
 * Image references as Docker (distribution/reference) parses and prints them.
 * Stored and compared in their full form (`docker.io/library/app:1.0`), shown in
 * their familiar form (`app:1.0`), exactly as `docker images` does.
 */
export interface ParsedReference {
  /** Registry host[:port], `docker.io` when none was written. */
  domain: string;
  /** Repository path inside the registry, `library/app` for official images. */
  path: string;
  tag?: string;
  digest?: string;
}

export interface NormalizedReference {
  /** Repository as Docker shows it: `app`, `user/app`, `localhost:5000/x`. */
  repository: string;
  tag: string;
  /** Fully qualified `domain/path:tag`, e.g. `docker.io/library/app:1.0`. */
  full: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
const MAX_NAME_LENGTH = 255;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/**
 * distribution/reference's words, as Docker prints them: `invalid reference format`,
 * with the reason only where Docker gives one. The reference itself is the error's
 * `path`; a caller with more to say (tag: `Error parsing reference: "X" is not …`) adds it.
 */
function invalid(ref: string, why?: string): StrataError {
  return new StrataError('EREFERENCE', `invalid reference format${why ? `: ${why}` : ''}`, { path: ref });
}

/** Parses any reference (tagged, digested, or bare); a malformed one is EUSAGE. */
export function parseReference(ref: string): ParsedReference {
  if (ref.length === 0) throw invalid(ref);
  let name = ref;
  let digest: string | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref);
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref);
  }
  let { domain, path } = splitDomain(name);
  if (!DOMAIN.test(domain)) throw invalid(ref);
  if (path.length === 0 || !path.split('/').every((c) => PATH_COMPONENT.test(c))) {
    throw invalid(ref, path.toLowerCase() !== path ? 'repository name must be lowercase' : undefined);
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_PREFIX + path;
  if (`${domain}/${path}`.length > MAX_NAME_LENGTH)
    throw invalid(ref, `repository name must not be more than ${MAX_NAME_LENGTH} characters`);
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * Docker's rule: the first component is a registry only when it looks like a host
 * (has a `.` or `:`, is `localhost`, or has capitals, which no repository may).
 */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  if (slash < 0) return { domain: DEFAULT_DOMAIN, path: name };
  const first = name.slice(0, slash);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost' && first.toLowerCase() === first) {
    return { domain: DEFAULT_DOMAIN, path: name };
  }
  return { domain: first, path: name.slice(slash + 1) };
}

function familiarRepository(parsed: ParsedReference): string {
  if (parsed.domain !== DEFAULT_DOMAIN) return `${parsed.domain}/${parsed.path}`;
  const rest = parsed.path.slice(OFFICIAL_PREFIX.length);
  return parsed.path.startsWith(OFFICIAL_PREFIX) && !rest.includes('/') ? rest : parsed.path;
}

/**
 * A reference that names a tag: `latest` when none is written. Digest references
 * (`app@sha256:…`) point at content, not at a tag, so they are EUSAGE here.
 */
export function normalizeReference(ref: string): NormalizedReference {
  const parsed = parseReference(ref);
  if (parsed.digest !== undefined) throw new StrataError('EREFERENCE', `${ref}: a digest reference is not a tag`, { path: ref });
  const tag = parsed.tag ?? 'latest';
  return { repository: familiarRepository(parsed), tag, full: `${parsed.domain}/${parsed.path}:${tag}` };
}

/** How Docker prints a reference: `docker.io/library/app:1.0` → `app:1.0`, `user/app` → `user/app:latest`. */
export function familiarName(ref: string): string {
  const parsed = parseReference(ref);
  const repository = familiarRepository(parsed);
  if (parsed.digest !== undefined) return `${repository}${parsed.tag ? `:${parsed.tag}` : ''}@${parsed.digest}`;
  return `${repository}:${parsed.tag ?? 'latest'}`;
}
