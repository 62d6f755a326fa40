import fsp from 'node:fs/promises';

/** lstat, not access: a dangling name is still a name that is there. Only ENOENT/ENOTDIR mean absent. */
export async function exists(file: string): Promise<boolean> {
  return fsp.lstat(file).then(() => true, absentOrThrow);
}

export async function mtimeMs(file: string): Promise<number | null> {
  return fsp.lstat(file).then(
    (st) => st.mtimeMs,
    () => null,
  );
}

export async function isDirectory(file: string): Promise<boolean> {
  return fsp.lstat(file).then((st) => st.isDirectory(), absentOrThrow);
}

/**
 * A path that is not there (or whose parent is not a directory) is absent; EACCES or
 * EIO says nothing about whether it is, and check must not report — nor repair drop —
 * a record for a file it merely could not see.
 */
function absentOrThrow(err: unknown): false {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return false;
  throw err;
}
