import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { startContainer } from '../../src/container/lifecycle.js';
import { parseVolumeFlag } from '../../src/container/mount-spec.js';
import { containerUsage } from '../../src/usage/container-usage.js';
import { diskUsage } from '../../src/usage/df.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import { strata } from '../helpers/cli.js';

// File sizes chosen here; every expected number below follows from them by
// Docker's rule (regular files and symlink targets, hardlinks once, dirs 0).
const base: LayerEntry[] = [
  { path: 'bin/', type: 'dir' },
  { path: 'bin/tool', size: 1000, seed: 1 },
  { path: 'bin/tool-link', type: 'hardlink', linkname: 'bin/tool' },
  { path: 'bin/alias', type: 'symlink', linkname: 'tool' }, // 4 bytes
  { path: 'data/', type: 'dir' },
  { path: 'data/big.bin', size: 5000, seed: 2 },
  { path: 'data/small.txt', content: 'x'.repeat(200) },
];
const BASE = 1000 + 4 + 5000 + 200;
const formats: WhiteoutFormat[] = process.geteuid?.() === 0 ? ['oci', 'overlay'] : ['oci'];

async function lab(t: Parameters<typeof tmpStore>[0], format: WhiteoutFormat) {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: format });
  const images: [string, LayerEntry[][]][] = [
    ['base:1', [base]],
    ['a:1', [base, [{ path: 'a.txt', content: 'a'.repeat(300) }]]],
    ['b:1', [base, [{ path: 'b.bin', size: 4000, seed: 3 }]]],
  ];
  for (const [tag, layers] of images) {
    const file = path.join(dir, `${tag.replace(':', '-')}.tar`);
    await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: [tag], layers }));
    await loadImages(store, { path: file });
  }
  return store;
}

for (const format of formats) {
  test(`shared and unique sizes of images with a common base (${format})`, async (t) => {
    const store = await lab(t, format);
    const usage = await diskUsage(store);
    const row = (tag: string) => usage.images.find((i) => i.repoTags.includes(tag))!;
    t.deepEqual([row('base:1').size, row('base:1').sharedSize, row('base:1').uniqueSize], [BASE, BASE, 0]);
    t.deepEqual([row('a:1').size, row('a:1').sharedSize, row('a:1').uniqueSize], [BASE + 300, BASE, 300]);
    t.deepEqual([row('b:1').size, row('b:1').sharedSize, row('b:1').uniqueSize], [BASE + 4000, BASE, 4000]);
    t.is(usage.layersSize, BASE + 300 + 4000, 'the base is on disk once');
    t.is(usage.savedBySharing, 2 * BASE);
  });

  test(`a container's size after writes, copy-up and delete; virtual size (${format})`, async (t) => {
    const store = await lab(t, format);
    const c = await createContainer(store, 'a:1');
    const view = await containerView(store, c);
    t.deepEqual(await containerUsage(store, c), {
      sizeRw: 0,
      copiedUp: 0,
      added: 0,
      hidden: 0,
      entries: { added: 0, copiedUp: 0, whiteouts: 0, opaque: 0 },
    });

    await view.writeFile('/new.txt', 'n'.repeat(123));
    let u = await containerUsage(store, c);
    t.deepEqual([u.sizeRw, u.added, u.copiedUp, u.hidden], [123, 123, 0, 0]);

    await view.chmod('/data/big.bin', 0o600); // copy-up without a byte changed
    u = await containerUsage(store, c);
    t.is(u.copiedUp, 5000, "CopiedUp equals the copied file's size");
    t.is(u.hidden, 5000, 'the lower copy is still stored but no longer visible');
    t.is(u.sizeRw, 123 + 5000);

    await view.unlink('/data/small.txt');
    u = await containerUsage(store, c);
    t.is(u.hidden, 5000 + 200, "Hidden grows by the deleted file's size");
    t.is(u.entries.whiteouts, 1);
    t.is(u.sizeRw, 123 + 5000, 'a whiteout costs nothing');

    const ps = JSON.parse((await strata(store.root, ['ps', '-a', '-s', '--format', 'json'])).stdout);
    t.is(ps.Size, 123 + 5000);
    t.is(ps.VirtualSize, BASE + 300 + 123 + 5000);
    t.is(ps.CopiedUp, 5000);
    t.is(ps.Hidden, 5200);
    t.regex((await strata(store.root, ['ps', '-a', '-s'])).stdout, /5\.12kB \(virtual 11\.6kB\)\n$/);
  });

  test(`a deleted directory hides a hardlinked file once (${format})`, async (t) => {
    const store = await lab(t, format);
    const c = await createContainer(store, 'base:1');
    await (await containerView(store, c)).rm('/bin', { recursive: true });
    const u = await containerUsage(store, c);
    // bin/tool and bin/tool-link are one 1000-byte inode; bin/alias is a 4-byte symlink.
    t.is(u.hidden, 1000 + 4);
    t.deepEqual([u.sizeRw, u.entries.whiteouts], [0, 1]);
  });

  test(`system df totals and reclaimable space (${format})`, async (t) => {
    const store = await lab(t, format);
    const running = await createContainer(store, 'a:1', { name: 'up' });
    await startContainer(store, running.id);
    await (await containerView(store, running)).writeFile('/r.txt', 'r'.repeat(10));
    const stopped = await createContainer(store, 'a:1', { name: 'down', mounts: [parseVolumeFlag('vol:/v')] });
    await (await containerView(store, stopped)).writeFile('/v/data', 'v'.repeat(70));
    await (await containerView(store, stopped)).writeFile('/s.txt', 's'.repeat(30));
    const usage = await diskUsage(store);
    t.deepEqual(usage.summary, [
      // docker/cli's formula: every layer byte minus the unique bytes of a:1, the one image in use.
      { type: 'Images', total: 3, active: 1, size: BASE + 300 + 4000, reclaimable: BASE + 4000 },
      { type: 'Containers', total: 2, active: 1, size: 40, reclaimable: 30 },
      { type: 'Local Volumes', total: 1, active: 1, size: 70, reclaimable: 0 },
      { type: 'Build Cache', total: 0, active: 0, size: 0, reclaimable: 0 },
    ]);
    const out = await strata(store.root, ['system', 'df']);
    t.is(
      out.stdout.split('\n').slice(0, 5).join('\n'),
      'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n' +
        'Images          3         1         10.5kB    10.2kB (97%)\n' +
        'Containers      2         1         40B       30B (75%)\n' +
        'Local Volumes   1         1         70B       0B (0%)\n' +
        'Build Cache     0         0         0B        0B',
    );
    // What would really be freed: only b:1's layer, since a:1 needs the base.
    t.is(usage.unusedLayersSize, 4000);
    t.regex(out.stdout, /\nUnused images: 4kB of layers no container's image holds .*Docker's RECLAIMABLE above counts 10\.2kB\)\n/);
    const json = JSON.parse((await strata(store.root, ['system', 'df', '-v', '--format', 'json'])).stdout);
    t.deepEqual(Object.keys(json).slice(0, 3), ['Images', 'Containers', 'Volumes']);
    t.deepEqual(json.Volumes, [{ Name: 'vol', Links: 1, Size: 70 }]);
    t.is(json.Images.find((i: { Tag: string; Repository: string }) => i.Repository === 'b').UniqueSize, 4000);
  });
}

test('system df -v prints container sizes with 3 significant digits, as Docker does', async (t) => {
  const store = await lab(t, 'oci');
  const c = await createContainer(store, 'a:1', { name: 'sized' });
  await (await containerView(store, c)).writeFile('/n.bin', Buffer.alloc(12_345, 1));
  const out = (await strata(store.root, ['system', 'df', '-v'])).stdout;
  const row = out.split('\n').find((l) => l.endsWith(' sized'))!;
  // Docker: HumanSizeWithPrecision(SizeRw, 3), so 12.3kB where %.4g would say 12.35kB.
  t.regex(row, / 12\.3kB {3}/);
});

test("du's UPPER line counts new and copied-up files, whiteouts and opaque directories, in the singular for one", async (t) => {
  const store = await lab(t, 'oci');
  const c = await createContainer(store, 'base:1', { name: 'worded' });
  const v = await containerView(store, c);
  await v.writeFile('/new.txt', 'n'.repeat(10));
  await v.appendFile('/data/small.txt', 'x'); // copy-up: 201 bytes, hides the lower 200
  await v.unlink('/data/big.bin'); // a whiteout hiding 5000
  await v.rm('/bin', { recursive: true });
  await v.mkdir('/bin'); // opaque: hides tool (1000) and alias (4)
  const out = (await strata(store.root, ['du', 'worded'])).stdout;
  t.regex(
    out,
    /\nUPPER: 211B — new 10B in 1 file, copied up 201B in 1 file; 1 whiteout, 1 opaque directory and the copied-up files hide 6\.204kB of the image\n$/,
  );
  const json = JSON.parse((await strata(store.root, ['du', 'worded', '--format', 'json'])).stdout);
  t.deepEqual(json.upper.entries, { added: 1, copiedUp: 1, whiteouts: 1, opaque: 1 });
});
