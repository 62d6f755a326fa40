import { StrataError } from '../errors.js';

/**
 * Bounds on what one layer may make us do. A layer is untrusted input: a gzip bomb
 * (a few KiB that inflate to terabytes) or an entry flood must end in ELIMIT naming
 * the layer, never in a full disk or an out-of-memory kill.
 */
export interface UnpackLimits {
  /** Tar entries per layer (what `tar -t | wc -l` counts). */
  maxEntries: number;
  /** Uncompressed tar bytes per layer, headers and padding included. */
  maxBytes: number;
}

/** The one place the defaults live: far above any real image, far below harm. */
export const DEFAULT_LIMITS: UnpackLimits = Object.freeze({
  maxEntries: 1_000_000,
  maxBytes: 64 * 1024 ** 3,
});

/*
 * Header extensions (pax 'x'/'g', GNU 'L'/'K') are the only part of a tar that the
 * parser buffers in memory. tar-stream 3 refuses any single one larger than 4 MiB
 * ("Header exceeds max size", extract.js MAX_HEADER_SIZE) and keeps at most one of
 * each kind, so memory stays bounded without a guard of our own; unpack reports that
 * refusal as EINVALIDARCHIVE like any other malformed tar.
 */

/** Counts entries and bytes of one layer and stops the unpack when a bound is passed. */
export class LimitMeter {
  entries = 0;
  bytes = 0;

  constructor(
    private readonly limits: UnpackLimits,
    private readonly source: string,
  ) {}

  addBytes(n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxBytes) {
      throw new StrataError(
        'ELIMIT',
        `${this.source}: layer is larger than the limit of ${this.limits.maxBytes} uncompressed bytes (a decompression bomb or a limit set too low)`,
        { path: this.source, expected: this.limits.maxBytes, found: this.bytes },
      );
    }
  }

  addEntry(): void {
    this.entries += 1;
    if (this.entries > this.limits.maxEntries) {
      throw new StrataError('ELIMIT', `${this.source}: layer has more than the limit of ${this.limits.maxEntries} entries`, {
        path: this.source,
        expected: this.limits.maxEntries,
        found: this.entries,
      });
    }
  }
}

/** PATH_MAX of Linux, the terminating NUL included. */
export const PATH_MAX = 4096;

/**
 * Bounds on names and on where they lead, so that no name costs more than a bounded
 * amount of work to accept or refuse (an entry name of 100,000 components used to
 * take tens of seconds to resolve). They are the kernel's own where it has one, so a
 * layer refused here is one the kernel could not have held by name either:
 *
 * - `maxPathBytes`: PATH_MAX counts the terminating NUL, so the longest path a system
 *   call takes is 4095 bytes. It bounds every entry name, hardlink target and symlink
 *   target (symlink(2) refuses a longer target), and every path an entry resolves to,
 *   which symlinks can make longer than the name. The kernel can hold deeper trees
 *   (made and reached only by relative walks), but a process in the container could
 *   not open such a file by its path, and neither could strata, which names every
 *   file by its whole host path (Node has no openat). So a layer whose nested
 *   directories pass PATH_MAX is refused rather than unpacked half-reachable. The
 *   resolved path is counted as that host path (the layer directory's, `/`, the
 *   layer's own), so a store deep in the host's tree refuses a few bytes earlier.
 * - `maxComponentBytes`: NAME_MAX (255), one component of a name.
 * - `maxDepth`: 1024 components, node-tar's default `maxDepth` (its fix for
 *   CVE-2024-28863). Checked on the cleaned name and again on the resolved path.
 *   10,000 nested directories are refused at the 1,025th.
 * - `maxSymlinks`: Linux gives up after 40 links in one lookup (MAXSYMLINKS, ELOOP),
 *   counted over the whole lookup as the kernel counts them. With targets bounded by
 *   `maxPathBytes`, this bounds the work of resolving any one name: at most ~33,000
 *   lstat calls (40 targets of `d/../d/../…`), as the kernel bounds one lookup.
 * - `lookupBase` and `lookupsPerEntry`: what the whole layer may spend resolving its
 *   names, in lstat and readlink calls. The bound per name is the kernel's, but the
 *   kernel walks a cached component in nanoseconds and we make a system call, and
 *   resolve-in-root.ts must drop its caches whenever the layer removes a directory or
 *   a link: a layer that alternates such a removal with a name through a long chain of
 *   links would pay the whole chain for every few entries, for minutes. Real layers
 *   use a few calls per entry (none when the caches answer), far below either figure.
 *
 * Not options of a load, unlike UnpackLimits: they describe what Linux can name, and
 * the lookup budget is a bound no real layer comes near. RootResolver takes them as
 * a parameter only so that tests can reach the budget cheaply.
 */
export interface NameLimits {
  maxPathBytes: number;
  maxComponentBytes: number;
  maxDepth: number;
  maxSymlinks: number;
  lookupBase: number;
  lookupsPerEntry: number;
}

export const NAME_LIMITS: Readonly<NameLimits> = Object.freeze({
  maxPathBytes: PATH_MAX - 1,
  maxComponentBytes: 255,
  maxDepth: 1024,
  maxSymlinks: 40,
  lookupBase: 1_000_000,
  lookupsPerEntry: 64,
});
