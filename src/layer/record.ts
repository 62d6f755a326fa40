import type { WhiteoutFormat } from '../store/whiteout-probe.js';

/**
 * layer.json: what strata knows about one unpacked layer. Layers are immutable, so
 * everything here — sizes included — is computed once at unpack and trusted after.
 */
export interface LayerRecord {
  chainId: string;
  diffId: string;
  /** chainID of the layer below, or null for a base layer. */
  parent: string | null;
  /** Digest of the blob it was unpacked from (compressed or not, as stored in blobs/). */
  blobDigest: string;
  /** Docker's rule: st_size of every non-directory, symlinks as target length, hardlinks once, whiteouts 0. */
  size: number;
  /** st_blocks * 512 of the same entries, for `--allocated`. */
  allocatedSize: number;
  /** Number of tar entries applied. */
  entries: number;
  whiteoutFormat: WhiteoutFormat;
  /**
   * What the unpacking process could not apply (rootless): ownership that is not the
   * store owner's, device nodes (left as an empty placeholder file), xattrs not set.
   * Paths are layer-relative, starting with `/`. The resolver reports owners and devices.
   */
  unapplied: {
    owners: Record<string, { uid: number; gid: number }>;
    devices: Record<string, { type: 'char' | 'block'; major: number; minor: number; mode: number }>;
    /**
     * Per path, xattr name → its value as standard base64 (padded): still the file's
     * metadata, for export and commit to write back byte-exact. null: a reserved name
     * (trusted.overlay.*, user.overlay.*, user.strata.*) dropped by rule, never written
     * back. Read through recorded-xattrs.ts, which also reads records written before
     * values were kept (a list of names).
     */
    xattrs: Record<string, Record<string, string | null>>;
  };
  created: string;
}
