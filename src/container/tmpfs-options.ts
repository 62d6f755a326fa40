import os from 'node:os';
import { StrataError } from '../errors.js';

/**
 * The options of `--tmpfs PATH:OPTIONS`, kept in the container record exactly as typed
 * (docker inspect shows them as HostConfig.Tmpfs) and read here, in one place, both
 * when the flag is parsed (so a typo fails `create`) and when the view is built.
 */
export interface TmpfsOptions {
  /** Bytes of file data the tmpfs holds, whole pages; null = no limit. */
  sizeBytes: number | null;
  /** Permission bits of the tmpfs root. */
  mode: number;
  readOnly: boolean;
}

/** tmpfs counts data in pages; 4 KiB on the machines strata targets. */
export const TMPFS_PAGE = 4096;

/** A fresh tmpfs root is 1777 unless `mode=` says otherwise (the kernel's default; Docker adds none). */
const DEFAULT_MODE = 0o1777;

/** Mount flags Docker accepts for a tmpfs (moby/sys/mount ParseOptions); only ro/rw change the view. */
const FLAGS = new Set([
  'defaults',
  'ro',
  'rw',
  'suid',
  'nosuid',
  'dev',
  'nodev',
  'exec',
  'noexec',
  'sync',
  'async',
  'dirsync',
  'remount',
  'mand',
  'nomand',
  'atime',
  'noatime',
  'diratime',
  'nodiratime',
  'bind',
  'rbind',
  'unbindable',
  'runbindable',
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
  'relatime',
  'norelatime',
  'strictatime',
  'nostrictatime',
]);

/** tmpfs data options Docker lets through (ParseTmpfsOptions); uid, gid, nr_inodes and mpol are kept, not enforced. */
const DATA_KEYS = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

export function parseTmpfsOptions(options: string, flag = options): TmpfsOptions {
  const result: TmpfsOptions = { sizeBytes: null, mode: DEFAULT_MODE, readOnly: false };
  for (const option of options.split(',')) {
    if (option === '' || FLAGS.has(option)) {
      if (option === 'ro' || option === 'rw') result.readOnly = option === 'ro';
      continue;
    }
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? null : option.slice(eq + 1);
    if (!DATA_KEYS.has(key) || value === null) throw invalid(option, flag);
    if (key === 'size') result.sizeBytes = pages(memparse(value, option, flag));
    else if (key === 'nr_blocks') result.sizeBytes = pages(memparse(value, option, flag) * TMPFS_PAGE);
    else if (key === 'mode') {
      if (!/^[0-7]{1,4}$/.test(value)) throw invalid(option, flag);
      result.mode = parseInt(value, 8);
    } else if ((key === 'uid' || key === 'gid') && !/^\d+$/.test(value)) throw invalid(option, flag);
    else if (key === 'nr_inodes') memparse(value, option, flag);
  }
  return result;
}

/** The kernel's memparse: a number with an optional K, M, G, T, P or E; tmpfs also takes a percentage of RAM. */
function memparse(value: string, option: string, flag: string): number {
  const m = /^(\d+)([kmgtpe%]?)$/i.exec(value);
  if (m === null) throw invalid(option, flag);
  const n = Number(m[1]);
  if (m[2] === '%') return Math.floor((os.totalmem() * n) / 100);
  return n * 1024 ** ' kmgtpe'.indexOf((m[2] || ' ').toLowerCase());
}

/** Rounded up to whole pages, as the kernel does; 0 means no limit. */
function pages(bytes: number): number | null {
  return bytes === 0 ? null : Math.ceil(bytes / TMPFS_PAGE) * TMPFS_PAGE;
}

function invalid(option: string, flag: string): StrataError {
  return new StrataError('EUSAGE', `invalid tmpfs option "${option}" in '${flag}'`);
}
