import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { findImage } from '../../src/image/lookup.js';
import { readImageRecord } from '../../src/image/record.js';
import { LayerListings, measureWaste, type WasteReport } from '../../src/usage/waste.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import type { Store } from '../../src/store/root.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type ImageFormat, type LayerInput } from '../helpers/image-builder.js';
import { bothFormats } from '../helpers/both-formats.js';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { diveTestLayers } from '../helpers/dive-test-image.js';

async function loadedImage(
  t: ExecutionContext,
  format: WhiteoutFormat,
  layers: LayerInput[],
  archive: ImageFormat = 'docker',
): Promise<{ store: Store; report: WasteReport }> {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: format });
  const file = path.join(dir, 'image.tar');
  await fs.writeFile(file, await buildImage({ format: archive, repoTags: ['w:1'], layers }));
  await loadImages(store, { path: file });
  return { store, report: await measureWaste(store, { image: await findImage(store, 'w:1') }) };
}

/** The summary figures and the table without the per-layer detail: what most assertions compare. */
const figures = (r: WasteReport) => ({
  efficiencyScore: r.efficiencyScore,
  wastedBytes: r.wastedBytes,
  reclaimableBytes: r.reclaimableBytes,
  sizeBytes: r.sizeBytes,
  userSizeBytes: r.userSizeBytes,
});
const table = (r: WasteReport) => r.paths.map((p) => [p.path, p.count, p.bytes, p.reclaimableBytes]);

bothFormats("dive's published results for its own test image", async (t, format) => {
  const { report } = await loadedImage(t, format, diveTestLayers);
  // dive's export snapshot (cmd/dive/cli/internal/command/export/testdata/snapshots/export_test.snap).
  t.is(report.efficiencyScore, 0.9844212134184309);
  t.is(report.wastedBytes, 32025);
  t.is(report.sizeBytes, 1220598);
  t.deepEqual(
    report.paths.map((p) => [p.path, p.count, p.bytes]),
    [
      ['/root/example/somefile1.txt', 2, 12810],
      ['/root/saved.txt', 2, 12810],
      ['/root/example/somefile3.txt', 2, 6405],
    ],
  );
  // What dive does not say: keeping one copy of each frees 6,405 B per path.
  t.is(report.reclaimableBytes, 19215);
  t.is(report.userSizeBytes, 66237);
  t.is(report.userWastedPercent, 0.4834911001404049); // dive's image_archive_analysis_test.go
  t.deepEqual(
    report.paths.find((p) => p.path === '/root/example/somefile3.txt')?.occurrences,
    [
      { layer: 6, bytes: 6405, whiteout: false },
      { layer: 7, bytes: 0, whiteout: true },
    ],
    'a file whiteout costs 0',
  );
  t.is(report.layers.length, 14);
  t.deepEqual(
    report.layers.map((l) => l.sizeBytes),
    [1154361, 6405, 0, 6405, 6405, 6405, 6405, 6405, 6405, 0, 2187, 6405, 6405, 6405],
  );
});

for (const archive of ['docker25', 'oci'] as const) {
  test(`dive's test image from a ${archive === 'oci' ? 'plain OCI layout' : 'Docker ≥ 25 archive'} gives the same figures`, async (t) => {
    const { report } = await loadedImage(t, 'oci', diveTestLayers, archive);
    t.deepEqual(figures(report), {
      efficiencyScore: 0.9844212134184309,
      wastedBytes: 32025,
      reclaimableBytes: 19215,
      sizeBytes: 1220598,
      userSizeBytes: 66237,
    });
  });
}

bothFormats('a directory whiteout costs every byte below it in the layers beneath', async (t, format) => {
  const { report } = await loadedImage(t, format, [
    [
      { path: 'keep.bin', size: 1000, seed: 1 },
      { path: 'd/', type: 'dir' },
      { path: 'd/a.bin', size: 300, seed: 2 },
      { path: 'd/sub/b.bin', size: 200, seed: 3 },
    ],
    [{ path: 'd/c.bin', size: 50, seed: 4 }],
    [{ path: 'd', type: 'whiteout' }],
  ]);
  // Paths: keep 1000; d/a 300; d/sub/b 200; d/c 50; d (the whiteout, seen once) 550.
  t.deepEqual(figures(report), {
    efficiencyScore: 1,
    wastedBytes: 0,
    reclaimableBytes: 0,
    sizeBytes: 1550,
    userSizeBytes: 50,
  });
  t.deepEqual(table(report), [], 'the whiteout is the only leaf at /d: seen once, nothing wasted');
});

bothFormats('a directory whited out where it was a leaf before is a path seen twice', async (t, format) => {
  const { report } = await loadedImage(t, format, [
    [{ path: 'base.bin', size: 100, seed: 1 }],
    [{ path: 'cache/', type: 'dir' }],
    [{ path: 'cache/x.bin', size: 400, seed: 2 }],
    [{ path: 'cache', type: 'whiteout' }],
    [{ path: 'cache/', type: 'dir' }],
  ]);
  // /cache is a leaf in layers 1 (empty dir, 0), 3 (whiteout: 400 below) and 4 (empty dir, 0).
  // Σ cumulative = 100 + 400 + 400 = 900; Σ min = 100 + 400 + 0 = 500.
  t.deepEqual(figures(report), {
    efficiencyScore: 500 / 900,
    wastedBytes: 400,
    reclaimableBytes: 400,
    sizeBytes: 500,
    userSizeBytes: 400,
  });
  t.deepEqual(report.paths[0]?.occurrences, [
    { layer: 1, bytes: 0, whiteout: false },
    { layer: 3, bytes: 400, whiteout: true },
    { layer: 4, bytes: 0, whiteout: false },
  ]);
});

bothFormats('the same path in three layers: dive counts every copy, reclaimable all but the smallest', async (t, format) => {
  const { report } = await loadedImage(t, format, [
    [{ path: 'etc/app.conf', size: 1000, seed: 1 }],
    [{ path: 'etc/app.conf', size: 3000, seed: 2 }],
    [
      { path: 'etc/app.conf', size: 2000, seed: 3 },
      { path: 'other.txt', size: 10, seed: 4 },
    ],
  ]);
  t.deepEqual(figures(report), {
    efficiencyScore: 1010 / 6010,
    wastedBytes: 6000,
    reclaimableBytes: 5000,
    sizeBytes: 6010,
    userSizeBytes: 5010,
  });
  t.deepEqual(table(report), [['/etc/app.conf', 3, 6000, 5000]]);
  t.deepEqual(
    report.paths[0]?.occurrences.map((o) => o.layer),
    [0, 1, 2],
  );
});

bothFormats('hardlinks weigh 0 after the first name, symlinks and directories always', async (t, format) => {
  const { report } = await loadedImage(t, format, [
    [
      { path: 'bin/a', size: 700, seed: 1 },
      { path: 'bin/b', type: 'hardlink', linkname: 'bin/a' },
      { path: 'bin/link', type: 'symlink', linkname: 'a' },
    ],
    [{ path: 'bin/b', size: 700, seed: 1 }],
  ]);
  // bin/b: 0 as a second name, then 700 as its own file; both copies count for dive.
  t.deepEqual(figures(report), {
    efficiencyScore: 700 / 1400,
    wastedBytes: 700,
    reclaimableBytes: 700,
    sizeBytes: 1400,
    userSizeBytes: 700,
  });
  t.deepEqual(table(report), [['/bin/b', 2, 700, 700]]);
});

bothFormats("a container's upper dir is one more layer", async (t, format) => {
  const { store, record, view } = await containerFromLayers(t, format, [
    [
      { path: 'data/big.bin', size: 5000, seed: 1 },
      { path: 'data/old/', type: 'dir' },
      { path: 'data/old/x.bin', size: 800, seed: 2 },
      { path: 'small.txt', content: 'x'.repeat(200) },
    ],
  ]);
  await view.chmod('/data/big.bin', 0o600); // copy-up: a second copy of 5,000 B
  await view.rm('/data/old', { recursive: true }); // a directory whiteout in the upper: 800 B below it
  await view.unlink('/small.txt'); // a file whiteout: 0
  await view.writeFile('/new.txt', 'n'.repeat(123));
  const report = await measureWaste(store, { image: await readImageRecord(store, record.image), container: record });
  t.deepEqual(
    report.layers.map((l) => [l.index, l.kind, l.sizeBytes]),
    [
      [0, 'layer', 6000],
      [1, 'upper', 5123],
    ],
  );
  // Paths: big 5000+5000 (min 5000); old/x 800; old (whiteout) 800; small 200+0; new 123.
  t.deepEqual(figures(report), {
    efficiencyScore: (5000 + 800 + 800 + 0 + 123) / (10000 + 800 + 800 + 200 + 123),
    wastedBytes: 10200,
    reclaimableBytes: 5200,
    sizeBytes: 11123,
    userSizeBytes: 5123,
  });
  t.deepEqual(table(report), [
    ['/data/big.bin', 2, 10000, 5000],
    ['/small.txt', 2, 200, 200],
  ]);
});

bothFormats('a whiteout of a path no layer below has costs 0, and the rest of its layer still counts', async (t, format) => {
  const { report } = await loadedImage(t, format, [
    [{ path: 'a.bin', size: 100, seed: 1 }],
    [
      { path: 'ghost', type: 'whiteout' },
      { path: 'z.bin', size: 50, seed: 2 },
      { path: 'a.bin', size: 100, seed: 1 },
    ],
  ]);
  t.deepEqual(figures(report), {
    efficiencyScore: (100 + 0 + 50) / (200 + 0 + 50),
    wastedBytes: 200,
    reclaimableBytes: 100,
    sizeBytes: 250,
    userSizeBytes: 150,
  });
  t.deepEqual(table(report), [['/a.bin', 2, 200, 100]]);
});

bothFormats('an opaque directory hides nothing by dive’s rule, and its marker is no entry', async (t, format) => {
  const { report } = await loadedImage(t, format, [
    [{ path: 'd/x.bin', size: 300, seed: 1 }],
    [
      { path: 'd/', type: 'dir' },
      { path: 'd', type: 'opaque' },
      { path: 'd/y.bin', size: 10, seed: 2 },
    ],
    [
      { path: 'e/', type: 'dir' },
      { path: 'e', type: 'opaque' },
    ],
    [{ path: 'e/', type: 'dir' }],
  ]);
  // Leaves: /d/x.bin 300, /d/y.bin 10, and /e in the last two layers, empty but for the marker: 0 each.
  t.deepEqual(figures(report), { efficiencyScore: 1, wastedBytes: 0, reclaimableBytes: 0, sizeBytes: 310, userSizeBytes: 10 });
  t.deepEqual(table(report), [['/e', 2, 0, 0]]);
});

test('images measured with one LayerListings read a shared layer once, with the same figures', async (t) => {
  const { store, dir } = await tmpStore(t);
  const base = [{ path: 'lib/base.bin', size: 900, seed: 1 }];
  for (const [tag, top] of [
    ['a:1', [{ path: 'lib/base.bin', size: 900, seed: 2 }]],
    ['b:1', [{ path: 'b.txt', size: 20, seed: 3 }]],
  ] as const) {
    const file = path.join(dir, `${tag.replace(':', '-')}.tar`);
    await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: [tag], layers: [base, [...top]] }));
    await loadImages(store, { path: file });
  }
  const [a, b] = [await findImage(store, 'a:1'), await findImage(store, 'b:1')];
  const alone = [await measureWaste(store, { image: a }), await measureWaste(store, { image: b })];
  const baseDiff = store.paths.layerDiff(a.layers[0]!.chainId);
  const listings = new LayerListings();
  const reads: string[] = [];
  const readdirSync = fsSync.readdirSync;
  fsSync.readdirSync = ((p: fsSync.PathLike, o?: unknown) => {
    reads.push(String(p));
    return (readdirSync as (p: fsSync.PathLike, o?: unknown) => unknown)(p, o);
  }) as typeof fsSync.readdirSync;
  let shared: WasteReport[];
  try {
    shared = [
      await measureWaste(store, { image: a }, { layerListings: listings }),
      await measureWaste(store, { image: b }, { layerListings: listings }),
    ];
  } finally {
    fsSync.readdirSync = readdirSync;
  }
  t.deepEqual(shared, alone);
  t.deepEqual(
    reads.filter((p) => p === baseDiff),
    [baseDiff],
    'the shared base layer is listed once',
  );
  t.deepEqual(figures(alone[0]!), { efficiencyScore: 0.5, wastedBytes: 1800, reclaimableBytes: 900, sizeBytes: 1800, userSizeBytes: 900 });
});
