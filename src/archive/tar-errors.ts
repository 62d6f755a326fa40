import { StrataError } from '../errors.js';

/**
 * tar-stream and zlib speak in their own words; the user gets one line that says
 * what is wrong with which file. Errors of our own (limits) and I/O errors of the
 * input pass through unchanged.
 */
export function describeTarError(err: unknown, compression: string, sawEntry: boolean, displayName: string): unknown {
  if (err instanceof StrataError) return err;
  const fail = (why: string) => new StrataError('EINVALIDARCHIVE', `${displayName}: ${why}`, { path: displayName, cause: err });
  const e = err as NodeJS.ErrnoException;
  const message = e?.message ?? String(err);
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) {
    return fail(e.code === 'Z_BUF_ERROR' ? 'truncated gzip data' : `corrupt gzip data (${message})`);
  }
  // fzstd's errors carry a numeric code (ZstdErrorCode).
  if (compression === 'zstd' && typeof (err as { code?: unknown })?.code === 'number') return fail(`corrupt zstd data (${message})`);
  if (/Unexpected end of data/i.test(message)) return fail('truncated archive: data ends inside an entry');
  if (/Header exceeds max size/i.test(message)) {
    return new StrataError('ELIMIT', `${displayName}: an extended (PAX or long-name) header exceeds 4 MiB`, {
      path: displayName,
      cause: err,
    });
  }
  if (/Invalid tar header|Invalid header/i.test(message))
    return fail(sawEntry ? 'bad header checksum (corrupt tar header)' : 'not a tar archive');
  if (e?.code === 'ERR_STREAM_PREMATURE_CLOSE') return fail('truncated archive');
  return err;
}
