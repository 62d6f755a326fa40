import { createRequire } from 'node:module';
import type ssriModule from 'ssri';
import { StrataError } from '../errors.js';

/**
 * OCI digests (`sha256:<64 hex>`) are strata's names for content; ssri speaks
 * SRI (`sha256-<base64>`). This module is the only place that converts between them.
 */
const DIGEST = /^sha256:([0-9a-f]{64})$/;

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

/** Validates a digest read from untrusted input; `where` names the file it came from. */
export function parseDigest(value: unknown, where: string): string {
  if (!isDigest(value)) {
    throw new StrataError('EINVALIDARCHIVE', `${where}: invalid digest ${JSON.stringify(value)} (want sha256:<64 hex>)`, { path: where });
  }
  return value;
}

export function digestHex(digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new StrataError('EUSAGE', `not a sha256 digest: ${digest}`);
  return m[1]!;
}

export function digestFromHex(hex: string): string {
  return `sha256:${hex}`;
}

export function toIntegrity(digest: string): string {
  return `sha256-${Buffer.from(digestHex(digest), 'hex').toString('base64')}`;
}

export function fromIntegrity(integrity: ssriModule.Integrity | string): string {
  const parsed = typeof integrity === 'string' ? ssri().parse(integrity) : integrity;
  if (parsed.pickAlgorithm() !== 'sha256') throw new StrataError('EUSAGE', 'integrity has no sha256 hash');
  return `sha256:${parsed.hexDigest()}`;
}

export function digestOf(data: Buffer | string): string {
  return fromIntegrity(ssri().fromData(data, { algorithms: ['sha256'] }));
}

/** sha256 of a short ID prefix form: `sha256:abc…` → `abc…` (12 chars), as Docker prints. */
export function shortId(digest: string): string {
  return digestHex(digest).slice(0, 12);
}

let loaded: typeof ssriModule | undefined;

/**
 * ssri on first use: every command maps digests to paths (digestHex), few convert to
 * SRI, and loading ssri costs more than a small command's whole run.
 */
function ssri(): typeof ssriModule {
  loaded ??= createRequire(import.meta.url)('ssri') as typeof ssriModule;
  return loaded;
}
