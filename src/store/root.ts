import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StrataError, isFsError } from '../errors.js';
import { StorePaths } from './paths.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic.js';
import { probeWhiteoutFormat, type WhiteoutFormat } from './whiteout-probe.js';
import { readJsonRecord } from './records.js';
import { makeDir } from './make-dir.js';
import { storeError } from './store-error.js';

/** Bumped when the on-disk layout changes in a way older strata cannot read. */
export const STORE_FORMAT_VERSION = 1;

export interface StoreInfo {
  formatVersion: number;
  whiteoutFormat: WhiteoutFormat;
  /**
   * Made by a user who cannot chown: layer files belong to that user, and ownership
   * from the image lives in layer.json instead (the resolver reports it).
   */
  rootless: boolean;
  created: string;
}

export interface Store {
  readonly root: string;
  readonly paths: StorePaths;
  readonly whiteoutFormat: WhiteoutFormat;
  readonly info: StoreInfo;
}

export interface OpenStoreOptions {
  /** `--root`; falls back to $STRATA_ROOT, then the per-user default. */
  root?: string;
  /** Only used when the store is created; an existing store keeps its format. */
  whiteoutFormat?: WhiteoutFormat;
}

export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STRATA_ROOT) return path.resolve(env.STRATA_ROOT);
  if (process.getuid?.() === 0) return '/var/lib/strata';
  const dataHome = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(dataHome, 'strata');
}

const CACHEDIR_TAG = 'Signature: 8a477f597d28d172789f06886806bc55\n' +
  '# This file marks a strata layer store; backup tools may skip it.\n';

/** Opens the store at the resolved root, creating it on first use. */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const root = path.resolve(options.root ?? defaultRoot());
  const paths = new StorePaths(root);
  let info: StoreInfo | null;
  try {
    info = await readStoreInfo(paths);
  } catch (err) {
    // ENOTDIR: a file in the way is no store yet; creating one says why it cannot be.
    if (!isFsError(err, 'ENOTDIR')) throw storeError(root, 'read', err) ?? err;
    info = null;
  }
  if (!info) {
    try {
      info = await createStore(paths, options.whiteoutFormat);
    } catch (err) {
      throw storeError(root, 'create', err) ?? err;
    }
  }
  return { root, paths, whiteoutFormat: info.whiteoutFormat, info };
}

async function readStoreInfo(paths: StorePaths): Promise<StoreInfo | null> {
  const raw = await readJsonRecord(paths.storeFile, { optional: true });
  if (raw === null) return null;
  const info = raw as Partial<StoreInfo>;
  if (typeof info.formatVersion !== 'number' || (info.whiteoutFormat !== 'overlay' && info.whiteoutFormat !== 'oci')) {
    throw new StrataError('EBADRECORD', `${paths.storeFile}: not a strata store record`, { path: paths.storeFile });
  }
  if (info.formatVersion > STORE_FORMAT_VERSION) {
    throw new StrataError('ESTOREVERSION',
      `${paths.storeFile}: store format ${info.formatVersion} was written by a newer strata (this one reads up to ${STORE_FORMAT_VERSION})`,
      { path: paths.storeFile, expected: STORE_FORMAT_VERSION, found: info.formatVersion });
  }
  return { rootless: false, ...info } as StoreInfo;
}

async function createStore(paths: StorePaths, wanted?: WhiteoutFormat): Promise<StoreInfo> {
  await makeDir(paths.root, 0o700);
  for (const dir of [paths.blobsDir, paths.ingestDir, paths.layersDir, paths.imagesDir, paths.containersDir, paths.volumesDir]) {
    await makeDir(dir, 0o700);
  }
  const probed = await probeWhiteoutFormat(paths.root);
  const whiteoutFormat = wanted ?? envFormat() ?? probed;
  if (whiteoutFormat === 'overlay' && probed !== 'overlay') {
    throw new StrataError('EUSAGE', `${paths.root}: the overlay whiteout format needs device nodes and trusted.* xattrs, which this process cannot make`);
  }
  const info: StoreInfo = {
    formatVersion: STORE_FORMAT_VERSION, whiteoutFormat, rootless: process.geteuid?.() !== 0, created: new Date().toISOString(),
  };
  await writeFileAtomic(paths.cacheDirTag, CACHEDIR_TAG);
  // Two processes may create the same store at once; the first store.json wins and
  // the loser adopts it, so a store never changes format under a running process.
  try {
    await fs.access(paths.storeFile);
    return (await readStoreInfo(paths))!;
  } catch {
    await writeJsonAtomic(paths.storeFile, info);
    return info;
  }
}

function envFormat(): WhiteoutFormat | undefined {
  const value = process.env.STRATA_WHITEOUT_FORMAT;
  if (value === undefined || value === '') return undefined;
  if (value === 'overlay' || value === 'oci') return value;
  throw new StrataError('EUSAGE', `STRATA_WHITEOUT_FORMAT must be "overlay" or "oci", not ${JSON.stringify(value)}`);
}
