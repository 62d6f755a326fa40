/**
 * `du --waste` in a store made without root: the image's 0000 directories belong to
 * the store's user but refuse it as they refuse anyone, and dive's figures must still
 * be computed from every file in them, with every mode left as it was. Runs the CLI as
 * uid 65534 (setpriv) from a root test run.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildImage } from '../helpers/image-builder.js';
import { handOver, sharedTempDir, strataUnprivileged, unprivilegedSkipReason } from '../helpers/unprivileged.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import { testUnless } from '../helpers/skip.js';
import { removeTree } from '../../src/store/atomic.js';

const maybe = testUnless(await unprivilegedSkipReason());

maybe("du --waste reads a rootless store's 0000 directories and leaves their modes as they were", async (t) => {
  const dir = await sharedTempDir('strata-waste-rootless-');
  t.teardown(() => removeTree(dir));
  const work = path.join(dir, 'work');
  await fs.mkdir(work);
  await handOver(work);
  const image = path.join(dir, 'app.tar');
  const layers = [
    [
      { path: 'd0000/', mode: 0 },
      { path: 'd0000/file', size: 500, seed: 1 },
      { path: 'd0000/sub/', mode: 0o755 },
      { path: 'd0000/sub/deep', size: 70, seed: 2 },
      { path: 'd0400/', mode: 0o400 },
      { path: 'd0400/file', size: 30, seed: 3, mode: 0 },
    ],
    [
      { path: 'd0000/', mode: 0 },
      { path: 'd0000/file', size: 400, seed: 4 },
    ],
    [{ path: 'd0000', type: 'whiteout' as const }],
  ];
  await fs.writeFile(image, await buildImage({ format: 'oci', repoTags: ['app:1'], layers }), { mode: 0o644 });
  const root = path.join(work, 'store');
  t.is((await strataUnprivileged(root, ['load', '-q', '-i', image], work)).code, 0);
  const before = await snapshotContent(root);

  const out = await strataUnprivileged(root, ['du', '--waste', '--format', 'json', 'app:1'], work);
  t.is(out.stderr, '');
  t.is(out.code, 0);
  // Paths: /d0000/file 500 + 400; /d0000/sub/deep 70; /d0400/file 30; the whiteout of /d0000: 400 + 70 below it.
  t.like(JSON.parse(out.stdout), {
    efficiencyScore: (400 + 70 + 30 + 470) / (900 + 70 + 30 + 470),
    wastedBytes: 900,
    reclaimableBytes: 500,
    sizeBytes: 1000,
    userSizeBytes: 400,
  });
  t.deepEqual(await snapshotContent(root), before, 'every mode is put back');
});
