import test from 'ava';
import { kernelOverlaySkipReason } from '../helpers/kernel-overlay.js';
import { testUnless } from '../helpers/skip.js';
import { SUITE_CASES, kernelDriver, runCase, type SuiteCase } from './suite.js';

/**
 * The same table as resolver.test.ts, answered by Linux overlayfs itself: if the
 * kernel disagrees with an expectation, the expectation (and then the resolver) is
 * wrong. The kernel only reads the overlay whiteout encoding.
 */
const kernelCase = test.macro({
  async exec(t, c: SuiteCase) {
    const result = await runCase(c, 'overlay', kernelDriver);
    t.deepEqual(
      result.steps.map((s) => ({ op: s.op, result: s.got })),
      result.steps.map((s) => ({ op: s.op, result: s.want })),
    );
    if (result.tree !== null) t.deepEqual(result.tree.got, result.tree.want);
  },
  title: (_provided, c: SuiteCase) => `kernel overlayfs: ${c.name}`,
});

const withKernel = testUnless(await kernelOverlaySkipReason());
for (const c of SUITE_CASES) withKernel(kernelCase, c);
