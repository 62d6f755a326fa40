/**
 * Every bound the outer-archive readers apply, in one place. Metadata (manifests,
 * indexes, configs, docker-save's manifest.json) is parsed whole, so each piece is
 * refused from the size its tar header or descriptor states, before a byte of it is
 * read: a hostile archive cannot make strata hold a 1 GiB "config" in memory.
 *
 * docker save's `repositories` and the legacy `<id>/json` files are never read
 * (manifest.json says the same), so they need no bound of their own.
 */
const MiB = 1024 * 1024;

export const ARCHIVE_LIMITS = {
  /**
   * manifest.json, index.json, oci-layout, and every OCI manifest and index blob:
   * containerd's limit for manifests. A docker-save manifest.json of this size lists
   * thousands of images.
   */
  maxJsonBytes: 4 * MiB,
  /**
   * An image config. Configs grow with their history (one entry per build step);
   * real ones stay well under 1 MiB, so this leaves room without risking memory.
   */
  maxConfigBytes: 8 * MiB,
  /** Entries of the outer tar (each costs a table row). */
  maxEntries: 1_000_000,
  /**
   * A PAX or GNU long-name record is a few hundred bytes; anything huge is hostile.
   * The same bound tar-stream applies, so a plain and a spooled archive agree.
   */
  maxExtendedHeaderBytes: 4 * MiB,
} as const;
