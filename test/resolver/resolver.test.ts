import test from 'ava';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { overlayFormatSkipReason } from '../helpers/both-formats.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { SUITE_CASES, resolverDriver, runCase, type SuiteCase } from './suite.js';

const suiteCase = test.macro({
  async exec(t, c: SuiteCase, format: WhiteoutFormat) {
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
  for (const c of SUITE_CASES) {
    const skip = firstReason(
      format === 'overlay' ? overlayFormatSkipReason : null,
      c.needsRoot && process.getuid?.() !== 0 ? 'the layer holds a device node, which only root can make' : null,
    );
    testUnless(skip)(suiteCase, c, format);
  }
}
