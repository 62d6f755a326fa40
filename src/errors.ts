/**
 * Every failure strata reports is a StrataError with a machine-readable code.
 * Callers branch on `code`; users read `message`, which always names the file or
 * object it is about. The CLI turns these into one line and an exit code.
 */
export type StrataErrorCode =
  | 'EINVALIDARCHIVE' // an archive, manifest or layer that breaks the format or a safety rule
  | 'EINTEGRITY' // content whose digest (or diffID) is not the one it was named by
  | 'ELIMIT' // a configured bound (entries, bytes, JSON size) was exceeded
  | 'ENOTFOUND' // no such image, container, volume or blob
  | 'EAMBIGUOUS' // an ID prefix matches more than one object
  | 'ECONFLICT' // the operation clashes with existing state (name in use, image in use)
  | 'ESTOREVERSION' // store.json was written by a newer strata
  | 'EBADRECORD' // a record on disk is unreadable or malformed
  | 'EPLATFORM' // no image in an index matches the wanted platform
  | 'EUSAGE' // the caller asked for something that makes no sense
  | 'EREFERENCE' // a name that is not a valid image reference
  | 'ENOTTY' // -it asks for the user's terminal and stdin is not one
  | 'ELOCKED' // another process holds a lock for longer than we wait
  | 'ESTORE' // the store's own directories cannot be made, read or written (permissions, a file in the way)
  | 'EREGISTRY' // a registry failed, refused or timed out a request, or broke the distribution protocol
  | 'EUNAUTHORIZED' // a registry wants credentials strata does not have, or refused the ones it sent
  | 'EINTERRUPTED' // SIGINT/SIGTERM arrived while working
  | 'ECOMMAND'; // a container's command is not found or cannot be executed (`found` is Docker's exit code, 127 or 126)

export interface StrataErrorDetails {
  /** The file, entry or object the error is about, as the user named it. */
  path?: string;
  expected?: string | number;
  found?: string | number;
  cause?: unknown;
}

export class StrataError extends Error {
  readonly code: StrataErrorCode;
  readonly path?: string;
  readonly expected?: string | number;
  readonly found?: string | number;

  constructor(code: StrataErrorCode, message: string, details: StrataErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'StrataError';
    this.code = code;
    if (details.path !== undefined) this.path = details.path;
    if (details.expected !== undefined) this.expected = details.expected;
    if (details.found !== undefined) this.found = details.found;
  }
}

export function isStrataError(err: unknown, code?: StrataErrorCode): err is StrataError {
  return err instanceof StrataError && (code === undefined || err.code === code);
}

/** A Node-style file-system error (err.code is the errno name), as the resolver returns them. */
export interface FsError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export function fsError(code: string, syscall: string, path: string, detail?: string): FsError {
  const text = detail ?? FS_ERROR_TEXT[code] ?? code;
  const err = new Error(`${code}: ${text}, ${syscall} '${path}'`) as FsError;
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

export function isFsError(err: unknown, code?: string): err is FsError {
  return err instanceof Error && typeof (err as FsError).code === 'string' && (code === undefined || (err as FsError).code === code);
}

/** The strerror texts users know from a shell, e.g. `Read-only file system`. */
export const FS_ERROR_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EEXIST: 'File exists',
  ENOTEMPTY: 'Directory not empty',
  EROFS: 'Read-only file system',
  EXDEV: 'Invalid cross-device link',
  ELOOP: 'Too many levels of symbolic links',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EINVAL: 'Invalid argument',
  ENOSPC: 'No space left on device',
  EMFILE: 'Too many open files',
  EBUSY: 'Device or resource busy',
  EIO: 'Input/output error',
};

/**
 * Why JSON.parse refused, on one line: V8 quotes the bad input in its message,
 * newlines and all, and an error strata prints must stay one line.
 */
export function jsonErrorReason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}
