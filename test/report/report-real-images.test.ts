import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { listImageRecords } from '../../src/image/record.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { writeImage } from '../helpers/image-builder.js';
import { strata } from '../helpers/cli.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { chromiumSkipReason } from '../helpers/tools.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { launchChromium } from '../helpers/report-browser.js';
import { everyFigureMatches, expectedFigures } from '../helpers/report-figures.js';

const maybe = testUnless(firstReason(await chromiumSkipReason(), sharedSkipReason()));

let browser: Promise<Browser> | undefined;
test.after.always(async () => (await browser)?.close());

/**
 * Images not made for this test: Docker's own `docker save` of a real base image,
 * umoci's and skopeo's OCI archives (gzip and zstd) from ../shared/conformance, and a
 * Docker ≥ 25 archive (an OCI layout plus manifest.json) written by the image builder.
 */
maybe('the report of real Docker, OCI and Docker 25 archives shows what the CLI says', async (t) => {
  const { store, dir } = await tmpStore(t);
  for (const name of ['dk-base.docker.tar', 'base.docker.tar', 'app.oci.tar', 'app.zstd.oci.tar'])
    await loadImages(store, { path: path.join(conformanceImages, name) });
  const docker25 = path.join(dir, 'docker25.tar');
  await writeImage(docker25, {
    format: 'docker25',
    repoTags: ['docker25:1'],
    layers: [
      [
        { path: 'opt/', type: 'dir' },
        { path: 'opt/data.bin', size: 30_000, seed: 7 },
      ],
      [{ path: 'opt/data.bin', size: 1_000, seed: 8 }],
    ],
  });
  await loadImages(store, { path: docker25 });
  const images = await listImageRecords(store);
  t.true(images.length >= 4);
  for (const [i, image] of images.entries()) {
    const view = await containerView(store, await createContainer(store, image.id, { name: `c${i}` }));
    await view.writeFile('/report-note.txt', 'n'.repeat(100 + i));
  }
  const file = path.join(dir, 'report.html');
  const out = await strata(store.root, ['report', '-o', file]);
  t.deepEqual([out.code, out.stderr], [0, '']);
  t.true((await fs.stat(file)).size > 10_000);
  await everyFigureMatches(t, await (browser ??= launchChromium()), file, await expectedFigures(t, store.root, 0));
});
