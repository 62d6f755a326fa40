import fs from 'node:fs/promises';
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
  /** This process runs as root: it may chown, make device nodes and set trusted.* xattrs. */
  readonly privileged: boolean;
  /** How long to wait for a live lock holder before ELOCKED. */
  readonly lockTimeoutMs: number;
  /** Where mount holds live (src/mount/run-base.ts); left out: the default for `privileged`. */
  readonly runBase?: string;
}

export interface OpenStoreOptions {
  /** The store's directory (the CLI's `--root`, else defaultRoot()). */
  root: string;
  /** Only used when the store is created; an existing store keeps its format. Default: what the store's file system can hold. */
  whiteoutFormat?: WhiteoutFormat;
  /**
   * Whether this process runs as root. The CLI passes what it read; when left out it
   * is asked of the process here, the one place the library asks.
   */
  privileged?: boolean;
  /** How long to wait for a live lock holder; default 120 s. */
  lockTimeoutMs?: number;
  /** Where mount holds live (the CLI passes $XDG_RUNTIME_DIR/strata for a user); default src/mount/run-base.ts. */
  runBase?: string;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 120_000;

export { defaultRoot } from './default-root.js';

const CACHEDIR_TAG =
  'Signature: 8a477f597d28d172789f06886806bc55\n' + '# This file marks a strata layer store; backup tools may skip it.\n';

/** Opens the store at the resolved root, creating it on first use. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const root = path.resolve(options.root);
  const paths = new StorePaths(root);
  const privileged = options.privileged ?? process.geteuid?.() === 0;
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
      info = await createStore(paths, options.whiteoutFormat, privileged);
    } catch (err) {
      throw storeError(root, 'create', err) ?? err;
    }
  }
  return {
    root,
    paths,
    whiteoutFormat: info.whiteoutFormat,
    info,
    privileged,
    lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    ...(options.runBase === undefined ? {} : { runBase: options.runBase }),
  };
}

async function readStoreInfo(paths: StorePaths): Promise<StoreInfo | null> {
  const raw = await readJsonRecord(paths.storeFile, { optional: true });
  if (raw === null) return null;
  const info = raw as Partial<StoreInfo>;
  if (typeof info.formatVersion !== 'number' || (info.whiteoutFormat !== 'overlay' && info.whiteoutFormat !== 'oci')) {
    throw new StrataError('EBADRECORD', `${paths.storeFile}: not a strata store record`, { path: paths.storeFile });
  }
  if (info.formatVersion > STORE_FORMAT_VERSION) {
    throw new StrataError(
      'ESTOREVERSION',
      `${paths.storeFile}: store format ${info.formatVersion} was written by a newer strata (this one reads up to ${STORE_FORMAT_VERSION})`,
      { path: paths.storeFile, expected: STORE_FORMAT_VERSION, found: info.formatVersion },
    );
  }
  return { rootless: false, ...info } as StoreInfo;
}

async function createStore(paths: StorePaths, wanted: WhiteoutFormat | undefined, privileged: boolean): Promise<StoreInfo> {
  await makeDir(paths.root, 0o700);
  for (const dir of [paths.blobsDir, paths.ingestDir, paths.layersDir, paths.imagesDir, paths.containersDir, paths.volumesDir]) {
    await makeDir(dir, 0o700);
  }
  const probed = await probeWhiteoutFormat(paths.root);
  const whiteoutFormat = wanted ?? probed;
  if (whiteoutFormat === 'overlay' && probed !== 'overlay') {
    throw new StrataError(
      'EUSAGE',
      `${paths.root}: the overlay whiteout format needs device nodes and trusted.* xattrs, which this process cannot make`,
    );
  }
  const info: StoreInfo = {
    formatVersion: STORE_FORMAT_VERSION,
    whiteoutFormat,
    rootless: !privileged,
    created: new Date().toISOString(),
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
