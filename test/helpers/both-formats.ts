import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { probeWhiteoutFormat, type WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { firstReason, testUnless, type TestRegistrar } from './skip.js';

/**
 * Why a store in the overlay whiteout format cannot be made here, or null when it can:
 * the same probe a new store runs (mknod of a 0/0 device and a trusted.* xattr), so a
 * root that may not make devices skips too.
 */
export const overlayFormatSkipReason: string | null = await (async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-probe-'));
  try {
    return (await probeWhiteoutFormat(dir)) === 'overlay' ? null : 'the overlay whiteout format needs root (mknod, trusted.* xattrs)';
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
})();

/** `test` for a store in `format`: skipped, with the reason, where that format cannot be made. */
export function testInFormat(format: WhiteoutFormat): TestRegistrar {
  return testUnless(format === 'overlay' ? overlayFormatSkipReason : null);
}

/**
 * Registers one test per whiteout encoding, titled `<title> (<format>)`. Where the
 * overlay encoding cannot be made, that test is registered as skipped with the
 * reason. CI runs as root, so both always run there.
 */
const formatMacro = test.macro({
  exec: (t, format: WhiteoutFormat, body: (t: ExecutionContext, format: WhiteoutFormat) => Promise<void>) => body(t, format),
  title: (title, format: WhiteoutFormat) => `${title ?? ''} (${format})`,
});

/** `skipReason`: something both variants need that this machine lacks (a tool), or null. */
export function bothFormats(
  title: string,
  body: (t: ExecutionContext, format: WhiteoutFormat) => Promise<void>,
  skipReason: string | null = null,
): void {
  for (const format of ['oci', 'overlay'] as const) {
    testUnless(firstReason(skipReason, format === 'overlay' ? overlayFormatSkipReason : null))(title, formatMacro, format, body);
  }
}
