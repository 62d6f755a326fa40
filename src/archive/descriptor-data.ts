import { createHash } from 'node:crypto';
import { StrataError } from '../errors.js';

/**
 * OCI descriptors may embed their content as base64 in `data`. strata still stores
 * the blob the archive holds (a `data` that matches the digest is byte-for-byte that
 * blob), but a descriptor whose `data` says something else is refused: a reader that
 * trusts `data` and one that reads the blob would see different images.
 */
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Checks `data` (when present) against the descriptor's `digest` and `size`.
 * `where` names the archive and the descriptor, `blob` the entry it stands for.
 */
export function verifyDescriptorData(data: unknown, digest: string, size: number, where: string, blob: string): void {
  // JSON null is how Go's encoder writes an absent []byte: every reader sees no data.
  if (data === undefined || data === null) return;
  // The image-spec asks for RFC 4648 base64; a lenient decoder would skip stray
  // characters and line breaks, so only the canonical form is accepted. The text is
  // bounded by the manifest or index holding it (ARCHIVE_LIMITS.maxJsonBytes).
  if (typeof data !== 'string' || !CANONICAL_BASE64.test(data)) {
    throw new StrataError('EINVALIDARCHIVE', `${where}: descriptor data for ${blob} is not base64 of ${size} bytes`, { path: blob });
  }
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length !== size) {
    throw new StrataError('EINTEGRITY', `${where}: descriptor data for ${blob} is ${bytes.length} bytes, but its size says ${size}`, {
      path: blob,
      expected: size,
      found: bytes.length,
    });
  }
  const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (actual !== digest) {
    throw new StrataError('EINTEGRITY', `${where}: descriptor data for ${blob} is ${actual}, but its digest says ${digest}`, {
      path: blob,
      expected: digest,
      found: actual,
    });
  }
}
