import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { probeWhiteoutFormat, type WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { SUITE_CASES, resolverDriver, runCase, type SuiteCase } from './suite.js';

let overlayFormat: Promise<boolean> | undefined;

/** The overlay encoding needs mknod and trusted.* xattrs (root); the oci one runs anywhere. */
function formatAvailable(format: WhiteoutFormat): Promise<boolean> {
  if (format === 'oci') return Promise.resolve(true);
  overlayFormat ??= (async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-probe-'));
    try {
      return (await probeWhiteoutFormat(dir)) === 'overlay';
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  })();
  return overlayFormat;
}

const suiteCase = test.macro({
  async exec(t, c: SuiteCase, format: WhiteoutFormat) {
    if (!(await formatAvailable(format))) {
      t.log('skipped: the overlay whiteout format needs root (mknod, trusted.* xattrs)');
      t.pass();
      return;
    }
    if (c.needsRoot && process.getuid?.() !== 0) {
      t.log('skipped: the layer holds a device node, which only root can make');
      t.pass();
      return;
    }
    const result = await runCase(c, format, resolverDriver(format));
    t.deepEqual(
      result.steps.map((s) => ({ op: s.op, result: s.got })),
      result.steps.map((s) => ({ op: s.op, result: s.want })),
    );
    if (result.tree !== null) t.deepEqual(result.tree.got, result.tree.want);
  },
  title: (_provided, c: SuiteCase, format: WhiteoutFormat) => `${format} format: ${c.name}`,
});

for (const format of ['overlay', 'oci'] as const) {
  for (const c of SUITE_CASES) test(suiteCase, c, format);
}
