import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Store } from '../store/root.js';
import { listStoreDir } from '../store/record-dir.js';
import { digestFromHex } from '../content/digest.js';
import { parseFileDigests } from '../layer/file-digests.js';
import type { Problem } from './check.js';
import { withOwnerAccess } from '../store/owner-access.js';

/**
 * `check --deep`: bit rot inside unpacked layers. Every regular file of a layer's
 * diff/ is hashed again and compared with the digest recorded while it was unpacked
 * (layers/<chainID>/files.sha256); a changed, missing or unrecorded file is one
 * problem naming the file. Reads only: a layer that fails needs its image loaded
 * again, which no repair can do from what is on disk.
 */
export async function deepCheckLayer(store: Store, chainId: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  const corrupt = (file: string, why: string) => problems.push({ kind: 'layer-corrupt', path: file, message: `${file}: ${why}` });
  const sidecar = store.paths.layerFileDigests(chainId);
  const diff = store.paths.layerDiff(chainId);
  let text: string;
  try {
    text = await fsp.readFile(sidecar, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    corrupt(
      sidecar,
      code === 'ENOENT'
        ? 'missing: the per-file digests of this layer are gone, so its files cannot be verified'
        : `unreadable (${code ?? (err as Error).message})`,
    );
    return problems;
  }
  const { files: recorded, badLines } = parseFileDigests(text);
  if (badLines.length > 0) corrupt(sidecar, `malformed line(s) ${badLines.slice(0, 10).join(', ')}${badLines.length > 10 ? ', …' : ''}`);

  const seen = new Set<string>();
  // Directories that could not be listed: what was recorded below them is not "missing", it is unreachable.
  const unlisted: string[] = [];
  const onUnlisted = (rel: string, abs: string, err: unknown) => {
    unlisted.push(rel);
    corrupt(
      abs,
      `directory cannot be listed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}), so the files below it cannot be verified`,
    );
  };
  await walk(diff, '', store.privileged, onUnlisted, async (rel, abs, type) => {
    const want = recorded.get(rel);
    if (want !== undefined) seen.add(rel);
    if (type !== 'file') {
      if (want !== undefined) corrupt(abs, `was a regular file when unpacked, is now a ${type}`);
      return;
    }
    let found: string;
    try {
      found = await hashFile(abs);
    } catch (err) {
      corrupt(abs, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      return;
    }
    if (want === undefined) corrupt(abs, `was not in the layer when it was unpacked (sha256:${found})`);
    else if (found !== want)
      corrupt(abs, `content does not match the digest recorded at unpack (recorded sha256:${want}, found sha256:${found})`);
  });
  for (const rel of recorded.keys()) {
    if (!seen.has(rel) && !unlisted.some((dir) => dir === '' || rel.startsWith(`${dir}/`))) {
      corrupt(path.join(diff, rel), 'missing: the file was in the layer when it was unpacked');
    }
  }
  return problems;
}

/** Every chainID-named layer of the store, deep-checked in turn. */
export async function deepCheckStore(store: Store): Promise<Problem[]> {
  const problems: Problem[] = [];
  const names = await listStoreDir(store.paths.layersDir);
  for (const name of names.sort()) {
    if (/^[0-9a-f]{64}$/.test(name)) problems.push(...(await deepCheckLayer(store, digestFromHex(name))));
  }
  return problems;
}

type EntryType = 'file' | 'directory' | 'symlink' | 'other';

/**
 * Depth-first over `dir`, never following a symlink. A store made without root owns
 * its layers, but an image's 000 directories and unreadable files lock their owner
 * out too: they are opened up for the moment they are read and put back at once
 * (the unpack does the same, umoci#222).
 */
async function walk(
  root: string,
  rel: string,
  privileged: boolean,
  unlisted: (rel: string, abs: string, err: unknown) => void,
  visit: (rel: string, abs: string, type: EntryType) => Promise<void>,
): Promise<void> {
  const dir = rel === '' ? root : path.join(root, rel);
  await withAccess(dir, 0o500, privileged, async () => {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      unlisted(rel, dir, err);
      return;
    }
    for (const entry of entries) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await visit(childRel, abs, 'directory');
        await walk(root, childRel, privileged, unlisted, visit);
      } else if (entry.isFile()) {
        await withAccess(abs, 0o400, privileged, () => visit(childRel, abs, 'file'));
      } else {
        await visit(childRel, abs, entry.isSymbolicLink() ? 'symlink' : 'other');
      }
    }
  });
}

/** Runs `fn` with the owner bits `need` set on `file` when a rootless owner lacks them (store/owner-access.ts). */
async function withAccess<T>(file: string, need: number, privileged: boolean, fn: () => Promise<T>): Promise<T> {
  if (privileged) return fn();
  return withOwnerAccess([{ path: file, bits: need }], fn);
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  // O_NOFOLLOW: a file swapped for a symlink since the readdir is not followed out of the layer.
  const handle = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  await pipeline(handle.createReadStream({ highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}
