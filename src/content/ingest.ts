import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { fsyncDir, tempName } from '../store/atomic.js';
import { digestFromHex } from './digest.js';
import { faultPoint } from '../store/fault-points.js';

export interface IngestOptions {
  /** The digest the content was named by; a mismatch rejects it before it is visible. */
  expected?: string;
  expectedSize?: number;
  /** What to call the source in error messages (an archive entry name, usually). */
  source: string;
  /**
   * The temp file in ingest/ to write (default: a fresh temp name there). A caller
   * that has another thread write it names it, so it can remove it whatever that
   * thread does.
   */
  tempPath?: string;
  /**
   * The stream's producer writes these very bytes to `tempPath` itself, as it reads
   * them (a pull's resume spool: registry/blob-stream.ts): write() then only counts,
   * checks and hashes them, and fsyncs that file, so each byte reaches the disk once.
   * abort() leaves the file to its producer, which keeps it to resume from or drops it.
   */
  writtenBySource?: boolean;
}

/** A blob written to its temp file and hashed, not yet committed: what crosses to another thread. */
export interface WrittenBlob {
  tempPath: string;
  digest: string;
  size: number;
}

export interface IngestResult {
  digest: string;
  size: number;
  /** False when the blob was already stored (by an earlier or concurrent load). */
  created?: boolean;
}

/**
 * A blob being written into the content store. Bytes go to ingest/<tmp> while their
 * sha256 is computed; nothing appears under blobs/ until `commit()` has checked size
 * and digest and renamed the file into place — the rename is the commit.
 *
 * The two phases exist so a caller can tee one stream into a blob and an unpack and
 * commit both only when both succeeded.
 */
export class Ingest {
  readonly tempPath: string;
  private size = 0;
  private digest: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: IngestOptions,
  ) {
    this.tempPath = options.tempPath ?? path.join(store.paths.ingestDir, tempName());
  }

  /** An ingest another thread wrote (and verified): what is left is commit() or abort(). */
  static written(store: Store, source: string, blob: WrittenBlob): Ingest {
    const ingest = new Ingest(store, { source, tempPath: blob.tempPath });
    ingest.size = blob.size;
    ingest.digest = blob.digest;
    return ingest;
  }

  /** What was written so far, for another thread to commit (see `written`). */
  get written(): WrittenBlob {
    return { tempPath: this.tempPath, digest: this.verify(), size: this.size };
  }

  /** Consumes `input` into the temp file; resolves when it is on disk and fsynced. */
  async write(input: Readable): Promise<IngestResult> {
    const hash = createHash('sha256');
    // Counts, checks the size as it grows and hashes: null, or why the bytes are refused.
    const take = (chunk: Buffer): StrataError | null => {
      this.size += chunk.length;
      faultPoint('ingest.chunk');
      if (this.options.expectedSize !== undefined && this.size > this.options.expectedSize) return this.sizeError(this.size);
      hash.update(chunk);
      return null;
    };
    try {
      if (this.options.writtenBySource) {
        await pipeline(input, new Writable({ write: (chunk: Buffer, _enc, done) => done(take(chunk)) }));
        await this.syncSourceFile();
      } else {
        const counter = new Transform({ transform: (chunk: Buffer, _enc, done) => done(take(chunk), chunk) });
        // The stream owns the file: it is fsynced before it is closed (flush), and closed
        // exactly once, also when the copy fails. (It used to be handed a FileHandle's fd:
        // pipeline's destroy closed that fd on error, and closing the handle again gave
        // EBADF instead of the real error — or closed a file opened meanwhile.)
        await pipeline(input, counter, fs.createWriteStream(this.tempPath, { flags: 'wx', mode: 0o600, flush: true }));
      }
    } catch (err) {
      throw named(err, this.options.source);
    }
    this.digest = digestFromHex(hash.digest('hex'));
    return { digest: this.digest, size: this.size };
  }

  /**
   * The file the producer wrote: fsynced, and holding exactly the bytes hashed (a
   * file that grew or shrank beside the stream is not what was verified).
   */
  private async syncSourceFile(): Promise<void> {
    // 'a', not 'r': an empty blob's producer never had a byte to write, so never made the file.
    const file = await fsp.open(this.tempPath, 'a');
    try {
      await file.sync();
      const { size } = await file.stat();
      if (size !== this.size) {
        throw new StrataError(
          'EINTEGRITY',
          `${this.tempPath}: holds ${size} bytes, but ${this.size} were read from ${this.options.source}`,
          {
            path: this.tempPath,
            expected: this.size,
            found: size,
          },
        );
      }
    } finally {
      await file.close();
    }
  }

  /**
   * Verifies and publishes the blob. If the same digest is already stored (another
   * load got there first), ours is dropped: content addressing makes them identical.
   */
  async commit(): Promise<IngestResult> {
    let digest: string;
    try {
      digest = this.verify();
    } catch (err) {
      await this.abort();
      throw err;
    }
    const target = this.store.paths.blob(digest);
    if (await hasBlob(this.store, digest)) {
      await this.abort();
      return { digest, size: this.size, created: false };
    }
    faultPoint('ingest.commit');
    await fsp.chmod(this.tempPath, 0o444);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.rename(this.tempPath, target);
    await fsyncDir(path.dirname(target));
    return { digest, size: this.size, created: true };
  }

  /** Throws EINTEGRITY unless what was written has the expected size and digest. */
  verify(): string {
    const digest = this.digest;
    if (digest === undefined) throw new StrataError('EUSAGE', 'ingest verified before it was written');
    const { expected, expectedSize, source } = this.options;
    if (expectedSize !== undefined && this.size !== expectedSize) throw this.sizeError(this.size);
    if (expected !== undefined && digest !== expected) {
      throw new StrataError('EINTEGRITY', `${source}: digest mismatch (expected ${expected}, found ${digest})`, {
        path: source,
        expected,
        found: digest,
      });
    }
    return digest;
  }

  async abort(): Promise<void> {
    if (this.options.writtenBySource) return;
    await fsp.rm(this.tempPath, { force: true });
  }

  private sizeError(found: number): StrataError {
    const { expectedSize, source } = this.options;
    return new StrataError(
      'EINTEGRITY',
      `${source}: size mismatch (expected ${expectedSize} bytes, found ${found}${found > expectedSize! ? ' or more' : ''})`,
      { path: source, expected: expectedSize!, found },
    );
  }
}

/** A file-system error without a path (a failed write: ENOSPC, EIO) says which content it hit. */
function named(err: unknown, source: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (
    err instanceof Error &&
    !(err instanceof StrataError) &&
    typeof e.code === 'string' &&
    e.path === undefined &&
    !e.message.startsWith(source)
  ) {
    e.message = `${source}: ${e.message}`;
  }
  return err;
}

/** Writes and commits in one step, for content nobody else needs to see on the way in. */
export async function ingestBlob(store: Store, input: Readable, options: IngestOptions): Promise<IngestResult> {
  const ingest = new Ingest(store, options);
  try {
    await ingest.write(input);
    return await ingest.commit();
  } catch (err) {
    await ingest.abort();
    throw err;
  }
}

export async function hasBlob(store: Store, digest: string): Promise<boolean> {
  try {
    await fsp.access(store.paths.blob(digest));
    return true;
  } catch {
    return false;
  }
}
