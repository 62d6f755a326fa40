import test, { type ExecutionContext } from 'ava';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { testUnless } from './skip.js';

/** Why a store in the overlay whiteout format cannot be made here, or null when it can. */
export const overlayFormatSkipReason: string | null =
  process.geteuid?.() === 0 ? null : 'the overlay whiteout format needs root (mknod, trusted.* xattrs)';

/**
 * Registers one test per whiteout encoding, titled `<title> (<format>)`. The overlay
 * encoding needs root (mknod, trusted.* xattrs); without it that test is registered
 * as skipped with the reason. CI runs as root, so both always run there.
 */
const formatMacro = test.macro({
  exec: (t, format: WhiteoutFormat, body: (t: ExecutionContext, format: WhiteoutFormat) => Promise<void>) => body(t, format),
  title: (title, format: WhiteoutFormat) => `${title ?? ''} (${format})`,
});

export function bothFormats(title: string, body: (t: ExecutionContext, format: WhiteoutFormat) => Promise<void>): void {
  test(title, formatMacro, 'oci', body);
  testUnless(overlayFormatSkipReason)(title, formatMacro, 'overlay', body);
}
