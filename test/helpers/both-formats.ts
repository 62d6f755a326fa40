import test, { type ExecutionContext } from 'ava';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';

/**
 * Registers one test per whiteout encoding, titled `<title> (<format>)`. The overlay
 * encoding needs root (mknod, trusted.* xattrs); without it that test logs why it
 * skipped. CI runs as root, so both always run there.
 */
const formatMacro = test.macro({
  async exec(t, format: WhiteoutFormat, body: (t: ExecutionContext, format: WhiteoutFormat) => Promise<void>) {
    if (format === 'overlay' && process.geteuid?.() !== 0) {
      t.log('skipped: the overlay whiteout format needs root (mknod, trusted.* xattrs)');
      t.pass();
      return;
    }
    await body(t, format);
  },
  title: (title, format: WhiteoutFormat) => `${title ?? ''} (${format})`,
});

export function bothFormats(title: string, body: (t: ExecutionContext, format: WhiteoutFormat) => Promise<void>): void {
  for (const format of ['oci', 'overlay'] as const) test(title, formatMacro, format, body);
}
