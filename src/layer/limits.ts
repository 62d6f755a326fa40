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

  constructor(private readonly limits: UnpackLimits, private readonly source: string) {}

  addBytes(n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxBytes) {
      throw new StrataError('ELIMIT',
        `${this.source}: layer is larger than the limit of ${this.limits.maxBytes} uncompressed bytes (a decompression bomb or a limit set too low)`,
        { path: this.source, expected: this.limits.maxBytes, found: this.bytes });
    }
  }

  addEntry(): void {
    this.entries += 1;
    if (this.entries > this.limits.maxEntries) {
      throw new StrataError('ELIMIT',
        `${this.source}: layer has more than the limit of ${this.limits.maxEntries} entries`,
        { path: this.source, expected: this.limits.maxEntries, found: this.entries });
    }
  }
}
