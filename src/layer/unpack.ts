import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import { createHash } from 'node:crypto';
import { Transform, pipeline as pipeCallback, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { StrataError, isStrataError } from '../errors.js';
import { decompress, type Compression } from '../archive/compression.js';
import { digestFromHex } from '../content/digest.js';
import { readJsonRecord } from '../store/records.js';
import { writeFileAtomic, writeJsonAtomic } from '../store/atomic.js';
import type { Store } from '../store/root.js';
import { LayerWriter } from './apply-entry.js';
import { chainIdOf } from './chain-id.js';
import { quoteName } from './entry-path.js';
import { EMPTY_SHA256, formatFileDigests, hashFileSync } from './file-digests.js';
import { layerParts } from '../store/paths.js';
import { DirBuild } from '../store/dir-by-rename.js';
import { DEFAULT_LIMITS, LimitMeter, type UnpackLimits } from './limits.js';
import type { LayerRecord } from './record.js';
import { joinRel } from './safe-fs.js';
import { missingLayerError } from './missing-layer.js';
import { SizeTally, hostInode, type TreeSize } from './size.js';
import { Yielder } from '../event-loop.js';
import { isOpaqueDir, whiteoutTarget } from './whiteout.js';
import { TarHeaderCheck } from './tar-header-check.js';

export interface UnpackOptions {
  store: Store;
  /**
   * The diffID the image config names; the uncompressed bytes must hash to it.
   * Absent when nothing names it yet (a layer made from a directory): the content's own.
   */
  diffId?: string;
  /** Absent: derived from `parent` and the diffID, as the OCI spec defines it. */
  chainId?: string;
  parent: string | null;
  limits?: UnpackLimits;
  /** Names the layer in every message, e.g. "app.tar: blobs/sha256/ab12…". */
  source: string;
  /** Called as the blob is read, with the total of (compressed) bytes read so far. */
  onProgress?: (compressedBytes: number) => void;
  /** Name of the temp directory in layers/ (default: a fresh temp name), for a caller that must be able to remove it. */
  tempName?: string;
  /**
   * The sha256 of the blob, from whoever else reads it (the content store's side of
   * the import). An uncompressed blob's digest *is* its diffID: given this, those
   * bytes are not hashed a second time. Awaited only after the whole blob was read.
   */
  blobDigest?: () => Promise<string>;
}

/** An unpacked, verified layer that is not yet visible in the store. */
export interface PreparedLayer {
  /** The temp directory in layers/ the layer was unpacked into. */
  tempDir: string;
  chainId: string;
  diffId: string;
  record: Omit<LayerRecord, 'blobDigest'>;
  /** Writes layer.json and renames the layer into place; the rename is the commit. */
  commit(blobDigest: string): Promise<LayerRecord>;
  /** Drops the unpacked layer; the store is as it was. */
  abort(): Promise<void>;
}

/**
 * Unpacks a layer blob (gzip, zstd or plain tar) into layers/<.tmp-…>/diff, streaming:
 * decompress → hash (the diffID) → parse → apply each entry. The diffID is checked
 * against the config before anything becomes visible; on any error the temp
 * directory is removed before the error propagates, so the store is left as it was.
 */
export async function prepareLayer(blob: Readable, options: UnpackOptions): Promise<PreparedLayer> {
  const { store, source } = options;
  const build = await DirBuild.begin(store.paths.layersDir, { mode: 0o700, ...(options.tempName ? { name: options.tempName } : {}) });
  const temp = build.path;
  try {
    const diffDir = layerParts(temp).diff;
    await fs.mkdir(diffDir);
    const writer = new LayerWriter(diffDir, store.whiteoutFormat, source, store.privileged);
    const { diffId, entries } = await readLayer(blob, writer, options);
    if (options.diffId !== undefined && diffId !== options.diffId) {
      throw new StrataError('EINTEGRITY', `${source}: layer content has diffID ${diffId}, but the image config says ${options.diffId}`, {
        path: source,
        expected: options.diffId,
        found: diffId,
      });
    }
    const files: [string, string][] = [];
    const sizes = await finishTree(writer, (rel, abs, size) => {
      const written = writer.fileDigests.get(rel);
      // Regular files this layer did not stream (oci whiteouts, rootless device placeholders) are empty.
      files.push([rel, written?.size === size ? written.digest : size === 0 ? EMPTY_SHA256 : hashFileSync(abs)]);
    });
    // Inside the temp dir, so the digests appear with the layer (check --deep reads them).
    await writeFileAtomic(layerParts(temp).fileDigests, formatFileDigests(files));
    const chainId = options.chainId ?? chainIdOf(options.parent, diffId);
    const record: Omit<LayerRecord, 'blobDigest'> = {
      chainId,
      diffId,
      parent: options.parent,
      size: sizes.size,
      allocatedSize: sizes.allocatedSize,
      entries,
      whiteoutFormat: store.whiteoutFormat,
      unapplied: writer.unapplied.toRecord(),
      created: new Date().toISOString(),
    };
    return {
      tempDir: temp,
      chainId,
      diffId,
      record,
      commit: (blobDigest) => commitLayer(store, build, record, blobDigest),
      abort: () => build.discard(),
    };
  } catch (err) {
    blob.destroy();
    await build.discard();
    throw err;
  }
}

/**
 * Streams the blob through decompression, the diffID hash and the tar parser into
 * `writer`. Every stage reports its own failure, and the first one wins: a broken
 * gzip stream is EINVALIDARCHIVE about the layer, not the "premature close" the tar
 * parser sees after it; a read error of the blob itself stays what it was.
 */
async function readLayer(blob: Readable, writer: LayerWriter, options: UnpackOptions): Promise<{ diffId: string; entries: number }> {
  const { source } = options;
  const meter = new LimitMeter(options.limits ?? DEFAULT_LIMITS, source);
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
  };
  blob.on('error', (err: Error) => fail(withSource(err, source)));

  let compressedBytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      compressedBytes += chunk.length;
      options.onProgress?.(compressedBytes);
      done(null, chunk);
    },
  });
  pipeCallback(blob, counted, () => {}); // failures are reported through `fail`
  const { stream: decoded, compression } = await decompress(counted);
  decoded.on('error', (err) => fail(corrupt(source, compression, err)));

  // Plain tar: the blob's own digest is the diffID (see UnpackOptions.blobDigest).
  const hash = compression === 'none' && options.blobDigest ? null : createHash('sha256');
  const check = new TarHeaderCheck(source);
  const hashing = new Transform({
    // Lets decompression (in the thread pool) run up to 1 MiB ahead while this thread
    // writes a burst of small files: the two overlap instead of taking turns.
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, done) {
      try {
        // Counted before it is parsed: a bomb stops here, after maxBytes, not at the end.
        meter.addBytes(chunk.length);
        // Every header is checked before tar-stream reads it (tar-header-check.ts says why);
        // what follows the end-of-archive marker is hashed but never parsed.
        const inArchive = check.write(chunk);
        hash?.update(chunk);
        if (inArchive === 0) done();
        else done(null, inArchive === chunk.length ? chunk : chunk.subarray(0, inArchive));
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done) {
      try {
        check.end();
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  hashing.on('error', fail);
  const extract = tarExtract();
  extract.on('error', (err: Error) => fail(invalidTar(source, err)));
  const feeding = pipeline(decoded, hashing, extract);
  feeding.catch(() => {}); // its failure is reported through `fail`, and awaited below

  try {
    for await (const entry of extract) {
      meter.addEntry();
      const extras = check.take((entry.header as { byteOffset?: number }).byteOffset ?? -1);
      if (extras === undefined)
        throw new StrataError(
          'EINVALIDARCHIVE',
          `${source}: entry ${JSON.stringify(entry.header.name)}: the tar parser found an entry the header check did not`,
          { path: entry.header.name },
        );
      try {
        await writer.apply(entry.header, entry, extras.xattrs);
      } catch (err) {
        throw withEntry(err, source, entry.header.name);
      }
      entry.resume(); // whatever an entry carries that we did not write (links, whiteouts) is skipped
    }
    await feeding;
  } catch (err) {
    fail(err);
    for (const stream of [blob, counted, decoded, hashing]) stream.destroy();
    extract.destroy();
    await feeding.catch(() => {});
  }
  if (failure !== undefined) throw failure;
  return { diffId: hash ? digestFromHex(hash.digest('hex')) : await options.blobDigest!(), entries: meter.entries };
}

/**
 * The last pass over the new layer, one walk deepest first that discovers paths by
 * readdir and never follows a symlink. It measures the layer (Docker's size rule,
 * size.ts) and tells `onFile` every regular file's path and size (for files.sha256);
 * in the overlay format it removes whiteouts inside a directory this layer made
 * opaque (the kernel would list them in readdir); and it gives each directory its
 * real mode and mtime after its children are done, so creating them could not
 * disturb either and a 000 directory stayed enterable for the walk. One readdir per
 * directory and one lstat per entry: measuring and settling used to be two walks.
 * Synchronous calls, like every per-entry call of the unpack (safe-fs.ts says why).
 */
async function finishTree(writer: LayerWriter, onFile: (rel: string, abs: string, size: number) => void): Promise<TreeSize> {
  const tally = new SizeTally();
  let allocatedSize = 0;
  const yielder = new Yielder();
  const visit = async (rel: string): Promise<void> => {
    const abs = writer.tree.abs(rel);
    const tidy = writer.opaqueDirs.has(rel) && isOpaqueDir(abs, writer.format);
    for (const entry of fsSync.readdirSync(abs, { withFileTypes: true })) {
      await yielder.maybe();
      const child = joinRel(rel, entry.name);
      if (entry.isDirectory()) {
        await visit(child);
        continue;
      }
      const full = `${abs}/${entry.name}`;
      const st = fsSync.lstatSync(full);
      if (tidy && st.isCharacterDevice() && whiteoutTarget(entry.name, st, writer.format) !== null) {
        await writer.tree.remove(child, st);
        continue;
      }
      // Every path of a regular file, hardlinks too (each one's digest is recorded).
      if (st.isFile()) onFile(child, full, st.size);
      if (tally.count(st, () => hostInode(full))) allocatedSize += st.blocks * 512;
    }
    const meta = writer.dirs.get(rel);
    if (meta === undefined) return;
    fsSync.chmodSync(abs, meta.mode);
    if (meta.mtime !== null) fsSync.utimesSync(abs, meta.mtime, meta.mtime);
  };
  await visit('');
  return { size: tally.size, allocatedSize };
}

/**
 * containerd's commit protocol for directories: the record goes in first, the rename
 * makes the layer visible. If the chainID is already there (another process unpacked
 * the same layer), ours is dropped and theirs returned: same chainID, same content.
 */
async function commitLayer(
  store: Store,
  build: DirBuild,
  prepared: Omit<LayerRecord, 'blobDigest'>,
  blobDigest: string,
): Promise<LayerRecord> {
  const { chainId, diffId, parent, ...rest } = prepared; // layer.json keeps LayerRecord's field order
  const record: LayerRecord = { chainId, diffId, parent, blobDigest, ...rest };
  try {
    await writeJsonAtomic(layerParts(build.path).record, record);
  } catch (err) {
    await build.discard();
    throw err;
  }
  if (await build.commit(store.paths.layerDir(record.chainId))) return record;
  await build.discard();
  return readLayerRecord(store, record.chainId);
}

/** Commits a layer another thread prepared in `tempDir` (PreparedLayer.commit, from here). */
export function commitPreparedLayer(
  store: Store,
  tempDir: string,
  record: Omit<LayerRecord, 'blobDigest'>,
  blobDigest: string,
): Promise<LayerRecord> {
  return commitLayer(store, DirBuild.resume(tempDir), record, blobDigest);
}

export async function layerExists(store: Store, chainId: string): Promise<boolean> {
  try {
    await fs.access(store.paths.layerRecord(chainId));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export async function readLayerRecord(store: Store, chainId: string): Promise<LayerRecord> {
  const file = store.paths.layerRecord(chainId);
  const raw = (await readJsonRecord(file, { optional: true })) as Partial<LayerRecord> | null;
  if (raw === null) throw missingLayerError(chainId, 'no layer record');
  if (
    typeof raw !== 'object' ||
    raw.chainId !== chainId ||
    typeof raw.diffId !== 'string' ||
    typeof raw.size !== 'number' ||
    typeof raw.unapplied !== 'object' ||
    raw.unapplied === null
  ) {
    throw new StrataError('EBADRECORD', `${file}: not a layer record for ${chainId}`, { path: file });
  }
  return raw as LayerRecord;
}

function corrupt(source: string, compression: Compression, err: Error): unknown {
  if (isStrataError(err)) return err;
  const what = compression === 'none' ? 'layer stream' : `${compression} data`;
  return new StrataError('EINVALIDARCHIVE', `${source}: corrupt or truncated ${what} (${err.message})`, { path: source, cause: err });
}

function invalidTar(source: string, err: Error): unknown {
  if (isStrataError(err)) return err;
  return new StrataError('EINVALIDARCHIVE', `${source}: not a valid tar stream (${err.message})`, { path: source, cause: err });
}

/** File-system failures keep their errno code but say which layer and entry they hit. */
function withEntry(err: unknown, source: string, entry: string): unknown {
  return withSource(err, source, `entry ${quoteName(entry)}: `);
}

function withSource(err: unknown, source: string, what = ''): unknown {
  if (!isStrataError(err) && err instanceof Error && !err.message.startsWith(source)) {
    err.message = `${source}: ${what}${err.message}`;
  }
  return err;
}
