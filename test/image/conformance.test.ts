import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { findImage } from '../../src/image/lookup.js';
import { imageView } from '../../src/image/view.js';
import { formatTreeTsv, listTree } from '../../src/resolver/tree.js';
import { Resolver } from '../../src/resolver/resolver.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { conformanceTarballs, sharedSkipReason } from '../helpers/shared.js';
import { kernelOverlaySkipReason, mountOverlay } from '../helpers/kernel-overlay.js';
import { testInFormat } from '../helpers/both-formats.js';
import { testUnless } from '../helpers/skip.js';

// Ground truth: the merged tree `umoci unpack` (as root) produced for each real
// tarball. Loading it and reading the image's merged view must give the same rows.
const formats: WhiteoutFormat[] = ['oci', 'overlay'];
const kernelSkipReason = await kernelOverlaySkipReason();

// Without ../shared there are no tarballs to name the tests below after: this one stands for them.
testUnless(sharedSkipReason())('../shared/conformance holds tarballs, each with the merged tree it must load to', (t) => {
  t.not(conformanceTarballs().length, 0);
});

for (const { tarball, tsv } of conformanceTarballs()) {
  for (const format of formats) {
    testInFormat(format)(`${path.basename(tarball)} (${format} store) loads to exactly ${path.basename(tsv)}`, async (t) => {
      const { store } = await tmpStore(t, { whiteoutFormat: format });
      const [loaded] = await loadImages(store, { path: tarball });
      const image = await findImage(store, loaded!.id);
      const rows = await listTree(
        await imageView(
          store,
          image.layers.map((l) => l.chainId),
        ),
      );
      t.is(formatTreeTsv(rows), await fs.readFile(tsv, 'utf8'));
    });
  }
}

// The overlay-format store's directories must be what the kernel reads: mounting
// LowerDir as printed gives the same tree.
for (const { tarball, tsv } of conformanceTarballs()) {
  testUnless(kernelSkipReason)(
    `${path.basename(tarball)}: the kernel's overlay mount of the layer dirs shows ${path.basename(tsv)}`,
    async (t) => {
      const { store } = await tmpStore(t, { whiteoutFormat: 'overlay' });
      const [loaded] = await loadImages(store, { path: tarball });
      const image = await findImage(store, loaded!.id);
      const lowerDirs = image.layers.map((l) => store.paths.layerDiff(l.chainId)).reverse();
      const target = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-mnt-'));
      // overlayfs needs two lowers for a read-only mount; an empty one changes nothing.
      const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-empty-'));
      t.teardown(() => fs.rm(empty, { recursive: true, force: true }));
      const mount = await mountOverlay({ lowerDirs: lowerDirs.length === 1 ? [...lowerDirs, empty] : lowerDirs, target, readOnly: true });
      try {
        const rows = await listTree(new Resolver({ lowerDirs: [mount.merged], format: 'overlay', readOnly: true }));
        t.is(formatTreeTsv(rows), await fs.readFile(tsv, 'utf8'));
      } finally {
        await mount.unmount();
        await fs.rm(target, { recursive: true, force: true });
      }
    },
  );
}
