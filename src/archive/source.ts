import type { Readable } from 'node:stream';

/**
 * An image archive opened for reading, whatever it came as (a plain tar file read
 * by offset, or a gzipped tar / stdin spooled once into ingest/). Format readers
 * (docker-save, OCI layout) see only this interface.
 */
export interface ArchiveSource {
  /** What the user called the input (a path, or `stdin`), for error messages. */
  readonly displayName: string;
  /**
   * True when a regular file (after following in-archive links) exists at `name`;
   * false when nothing is there. A link that is broken, loops or leaves the archive
   * is EINVALIDARCHIVE naming the link, not false.
   */
  has(name: string): boolean;
  /** Byte size of the regular file at `name`, following in-archive symlinks. */
  size(name: string): number;
  /**
   * Streams the file at `name`. Symlink and hardlink entries are followed to other
   * entries of the same archive; a link that leaves the archive is EINVALIDARCHIVE.
   * A missing entry is EINVALIDARCHIVE naming it.
   */
  open(name: string): Readable;
  /**
   * Where the bytes of the file at `name` are (links followed as by open), so another
   * thread can read them on its own: a byte range of a file on disk, or the bytes
   * themselves for a small entry held in memory.
   */
  locate(name: string): EntryBytes;
  /**
   * Reads and parses a JSON entry, refusing ones larger than `maxBytes` (ELIMIT;
   * default: the archive's maxJsonBytes). With `digest`, the bytes must hash to it
   * (EINTEGRITY) — how manifests and indexes named by a descriptor are verified.
   * A bare number is `maxBytes`.
   */
  readJson(name: string, options?: number | ReadJsonOptions): Promise<unknown>;
  /** Releases file handles and removes any spool files. */
  close(): Promise<void>;
}

export type EntryBytes =
  | {
      file: string;
      offset: number;
      length: number;
      /** Open with O_NOFOLLOW (see IndexedSourceOptions.noFollow). */
      noFollow: boolean;
    }
  | { bytes: Uint8Array };

export interface ReadJsonOptions {
  maxBytes?: number;
  /** `sha256:<hex>` the entry's bytes must have. */
  digest?: string;
}

/** One image found in an archive, before anything is stored. */
export interface ArchiveImage {
  /** Entry name of the config blob inside the archive. */
  configPath: string;
  /** Digest the config was named by (OCI descriptors; the docker-save file name). */
  configDigest?: string;
  /** Digest of the manifest, when the archive has one (OCI layout). */
  manifestDigest?: string;
  /** Entry name of the manifest blob, stored with the image so `check` and a later save can use it. */
  manifestPath?: string;
  layers: ArchiveLayer[];
  /** Normalised references to tag, e.g. `app:1.0`, `registry.example/ns/app:2`. */
  repoTags: string[];
}

export interface ArchiveLayer {
  /** Entry name of the layer blob inside the archive. */
  path: string;
  /** Digest and size the blob was named by, when the format names it (OCI descriptors). */
  digest?: string;
  size?: number;
  mediaType?: string;
}
