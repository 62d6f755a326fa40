import fsp from 'node:fs/promises';

/** A directory check walks may be missing (a store made by an older strata): that is an empty one. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  return fsp.readdir(dir).catch(() => [] as string[]);
}

/** lstat, not access: a dangling name is still a name that is there. */
export async function exists(file: string): Promise<boolean> {
  return fsp.lstat(file).then(() => true, () => false);
}

export async function mtimeMs(file: string): Promise<number | null> {
  return fsp.lstat(file).then((st) => st.mtimeMs, () => null);
}

export async function isDirectory(file: string): Promise<boolean> {
  return fsp.lstat(file).then((st) => st.isDirectory(), () => false);
}
