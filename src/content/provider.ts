import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';

/** What the store knows about one blob: its digest and byte size, and its media type when a record names it. */
export interface BlobInfo {
  digest: string;
  size: number;
  /**
   * Blobs are bytes; a media type belongs to the descriptor that named them. Present
   * when the provider was told where to look it up (see `mediaTypeOf`).
   */
  mediaType?: string;
}

/** A blob as a manifest names it (an OCI descriptor's core). */
export interface BlobDescriptor {
  digest: string;
  size: number;
  mediaType: string;
}

/** Bytes `start` to `end` of a blob, both inclusive (as `fs.createReadStream` counts). */
export interface ByteRange {
  start?: number;
  end?: number;
}

/**
 * Read access to stored content, by digest — what save, push and a layer import of
 * stored blobs need, and nothing that writes. Small enough to implement again over
 * something that is not this store (a registry, a test double).
 */
export interface ContentProvider {
  /** ENOTFOUND when the blob is not stored. */
  info(digest: string): Promise<BlobInfo>;
  /** Streams the blob (or a range of it). ENOTFOUND when it is not stored, before any byte is read. */
  open(digest: string, range?: ByteRange): Promise<Readable>;
  /**
   * Reads a whole blob into memory, refusing (ELIMIT) one larger than `maxBytes`
   * before reading any of it: for configs and manifests, never for layers.
   */
  readBounded(digest: string, maxBytes: number): Promise<Buffer>;
}

export interface StoreContentOptions {
  /** Looks up the media type a blob was named with; absent or undefined: info() has none. */
  mediaTypeOf?: (digest: string) => Promise<string | undefined>;
}

const BLOB_READ_CHUNK = 1 << 20;

/** The blobs under `blobs/sha256/`, which are verified before they are visible and never change after. */
export class StoreContentProvider implements ContentProvider {
  constructor(
    private readonly store: Store,
    private readonly options: StoreContentOptions = {},
  ) {}

  async info(digest: string): Promise<BlobInfo> {
    const st = await this.stat(digest);
    const mediaType = await this.options.mediaTypeOf?.(digest);
    return mediaType === undefined ? { digest, size: st.size } : { digest, size: st.size, mediaType };
  }

  async open(digest: string, range: ByteRange = {}): Promise<Readable> {
    const handle = await this.openHandle(digest);
    // The stream owns the handle from here: it closes it at the end, on error and on destroy.
    // 1 MiB reads, not Node's 64 KiB: blobs are read whole and in order (save, push), and
    // each read is a thread-pool round trip (measured: a quarter to half the CPU of a 256 MiB read).
    return handle.createReadStream({ ...range, autoClose: true, highWaterMark: BLOB_READ_CHUNK });
  }

  async readBounded(digest: string, maxBytes: number): Promise<Buffer> {
    const handle = await this.openHandle(digest);
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) {
        throw new StrataError('ELIMIT', `blob ${digest} is ${size} bytes, more than the ${maxBytes} read into memory`, {
          path: this.store.paths.blob(digest),
          expected: maxBytes,
          found: size,
        });
      }
      const data = Buffer.alloc(size);
      let done = 0;
      while (done < size) {
        const { bytesRead } = await handle.read(data, done, size - done, done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done !== size) throw this.changed(digest, size, done);
      return data;
    } finally {
      await handle.close();
    }
  }

  private async stat(digest: string): Promise<{ size: number }> {
    try {
      return await fs.stat(this.store.paths.blob(digest));
    } catch (err) {
      throw this.missing(digest, err);
    }
  }

  private async openHandle(digest: string): Promise<fs.FileHandle> {
    try {
      return await fs.open(this.store.paths.blob(digest), 'r');
    } catch (err) {
      throw this.missing(digest, err);
    }
  }

  /** ENOENT is "not stored"; anything else (EACCES, EIO) stays what it was, so nobody reads it as absence. */
  private missing(digest: string, err: unknown): unknown {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err;
    const file = this.store.paths.blob(digest);
    return new StrataError('ENOTFOUND', `blob ${digest} is missing from ${this.store.paths.blobsDir}`, { path: file });
  }

  /** A blob that shrank while read was changed behind the store's back: an integrity failure, not a short file. */
  private changed(digest: string, expected: number, found: number): StrataError {
    const file = this.store.paths.blob(digest);
    return new StrataError('EINTEGRITY', `${file}: blob ${digest} is ${found} bytes, not the ${expected} it had when opened`, {
      path: file,
      expected,
      found,
    });
  }
}
