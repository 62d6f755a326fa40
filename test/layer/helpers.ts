/** Shared pieces of the layer tests: unpack a tar buffer, list a tree, watch a victim dir. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setAttribute } from '@napi-rs/xattr';
import type { ExecutionContext } from 'ava';
import type { Store } from '../../src/store/root.js';
import type { StrataError, StrataErrorCode } from '../../src/errors.js';
import { prepareLayer, type UnpackOptions } from '../../src/layer/unpack.js';
import type { LayerRecord } from '../../src/layer/record.js';
import { diffIdOf } from '../helpers/make-tar.js';

export const SOURCE = 'test.tar: blobs/sha256/layer';
export const FAKE_BLOB = `sha256:${'b'.repeat(64)}`;

export interface Unpacked {
  record: LayerRecord;
  /** The committed layer's diff directory. */
  diff: string;
}

/** Unpacks `tar` (its own diffID unless `diffId` says otherwise) and commits it. */
export async function unpack(
  store: Store,
  tar: Buffer,
  options: Partial<UnpackOptions> & { blob?: Buffer | Readable } = {},
): Promise<Unpacked> {
  const diffId = options.diffId ?? diffIdOf(tar);
  const blob = options.blob ?? tar;
  const prepared = await prepareLayer(Buffer.isBuffer(blob) ? Readable.from([blob]) : blob, {
    store,
    diffId,
    chainId: options.chainId ?? diffId,
    parent: options.parent ?? null,
    source: SOURCE,
    ...options,
  });
  const record = await prepared.commit(FAKE_BLOB);
  return { record, diff: store.paths.layerDiff(record.chainId) };
}

/** Expects the unpack to fail with `code`, naming the layer, and the store's layers/ to be empty after. */
export async function rejects(
  t: ExecutionContext,
  store: Store,
  tar: Buffer,
  code: StrataErrorCode,
  options: Partial<UnpackOptions> & { blob?: Buffer | Readable } = {},
): Promise<StrataError> {
  const err = (await t.throwsAsync(unpack(store, tar, options))) as StrataError;
  t.is(err.code, code, err.message);
  t.true(err.message.includes(SOURCE), `message names the layer: ${err.message}`);
  t.deepEqual(await fs.readdir(store.paths.layersDir), [], 'no layer or temp dir is left behind');
  return err;
}

export interface TreeEntry {
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'fifo' | 'char' | 'block' | 'other';
  mode: number;
  nlink: number;
  size: number;
  mtime: number;
  /** File contents or symlink target. */
  data?: string;
}

/** Every entry under `dir`, sorted, with what a user would compare: type, mode, links, bytes. */
export async function listTree(dir: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await fs.readdir(path.join(dir, rel))).sort()) {
      const child = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, child);
      const st = await fs.lstat(full);
      const type = st.isDirectory()
        ? 'dir'
        : st.isFile()
          ? 'file'
          : st.isSymbolicLink()
            ? 'symlink'
            : st.isFIFO()
              ? 'fifo'
              : st.isCharacterDevice()
                ? 'char'
                : st.isBlockDevice()
                  ? 'block'
                  : 'other';
      const entry: TreeEntry = { path: child, type, mode: st.mode & 0o7777, nlink: st.nlink, size: st.size, mtime: st.mtimeMs };
      if (type === 'file') entry.data = await fs.readFile(full, 'utf8');
      if (type === 'symlink') entry.data = await fs.readlink(full);
      out.push(entry);
      if (type === 'dir') await walk(child);
    }
  }
  await walk('');
  return out;
}

export async function readText(file: string): Promise<string> {
  return fs.readFile(file, 'utf8');
}

export async function sameInode(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([fs.lstat(a), fs.lstat(b)]);
  return x.ino === y.ino && x.dev === y.dev;
}

export async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Why user.* xattrs cannot be set where test stores live (the temp dir's file system), or null. */
export async function userXattrSkipReason(): Promise<string | null> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-xattr-probe-'));
  try {
    const probe = path.join(dir, 'probe');
    await fs.writeFile(probe, '');
    return await setAttribute(probe, 'user.probe', 'y').then(
      () => null,
      (err: Error) => `this file system refuses user.* xattrs (${err.message})`,
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
