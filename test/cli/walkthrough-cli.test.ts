import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';

// The storage walkthrough from Docker's docs, typed as a user would, on both encodings.
const formats: WhiteoutFormat[] = process.geteuid?.() === 0 ? ['oci', 'overlay'] : ['oci'];
const BIG = 4 * 1024 * 1024;

for (const format of formats) {
  test(`the storage walkthrough through the CLI (${format})`, async (t) => {
    const { store, dir } = await tmpStore(t, { whiteoutFormat: format });
    const s = (args: string[], stdin?: string) => strata(store.root, args, { stdin: stdin === undefined ? undefined : Buffer.from(stdin) });
    const tar = path.join(dir, 'walk.tar');
    await fs.writeFile(
      tar,
      await buildImage({
        format: 'docker',
        repoTags: ['walk:1'],
        layers: [
          [
            { path: 'etc/', type: 'dir' },
            { path: 'etc/hostname', content: 'original\n' },
            { path: 'tmp/', type: 'dir', mode: 0o1777 },
            { path: 'srv/', type: 'dir' },
            { path: 'srv/keep.txt', content: 'keep\n' },
            { path: 'data/', type: 'dir' },
            { path: 'data/big.bin', size: BIG, seed: 9 },
          ],
        ],
      }),
    );
    t.is((await s(['load', '-i', tar])).stdout, 'Loaded image: walk:1\n');
    await s(['create', '--name', 'ca', '-v', 'keepvol:/vol', 'walk:1']);
    await s(['create', '--name', 'cb', 'walk:1']);

    // A write in one container is invisible in the other.
    t.is((await s(['fs', 'write', 'ca', '/tmp/marker.txt'], 'marker\n')).code, 0);
    t.is((await s(['fs', 'cat', 'ca', '/tmp/marker.txt'])).stdout, 'marker\n');
    t.is((await s(['fs', 'cat', 'cb', '/tmp/marker.txt'])).stderr, "cat: can't open '/tmp/marker.txt': No such file or directory\n");

    // /etc/hostname changed in one container; a fresh one sees the original.
    await s(['fs', 'write', 'ca', '/etc/hostname'], 'modified\n');
    await s(['create', '--name', 'fresh', 'walk:1']);
    t.is((await s(['fs', 'cat', 'fresh', '/etc/hostname'])).stdout, 'original\n');
    t.deepEqual((await s(['diff', 'ca'])).stdout.split('\n').filter(Boolean), ['C /etc', 'C /etc/hostname', 'C /tmp', 'A /tmp/marker.txt']);

    // Deleting a lower file leaves a whiteout in UpperDir; the layer keeps its bytes.
    await s(['fs', 'rm', 'ca', '/srv/keep.txt']);
    const upper = (await s(['inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', 'ca'])).stdout.trim();
    const lower = (await s(['inspect', '--format', '{{.GraphDriver.Data.LowerDir}}', 'ca'])).stdout.trim();
    if (format === 'overlay') t.true((await fs.lstat(path.join(upper, 'srv', 'keep.txt'))).isCharacterDevice());
    else t.deepEqual(await fs.readdir(path.join(upper, 'srv')), ['.wh.keep.txt']);
    t.is(await fs.readFile(path.join(lower, 'srv', 'keep.txt'), 'utf8'), 'keep\n');
    t.regex((await s(['diff', 'ca'])).stdout, /^D \/srv\/keep\.txt$/m);

    // One appended byte copies the whole file up; a second copies nothing more.
    const sizeOf = async () =>
      JSON.parse((await s(['ps', '-a', '-s', '--format', 'json'])).stdout.split('\n').find((l) => l.includes('"Names":"cb"'))!);
    const before = (await sizeOf()).Size;
    await s(['fs', 'append', 'cb', '/data/big.bin'], 'x');
    const once = await sizeOf();
    t.is(once.Size - before, BIG + 1);
    t.is(once.CopiedUp, BIG + 1);
    await s(['fs', 'append', 'cb', '/data/big.bin'], 'y');
    t.is((await sizeOf()).Size - once.Size, 1);

    // Removing a container removes its upper dir; the named volume's data stays.
    await s(['fs', 'write', 'ca', '/vol/data.txt'], 'persisted\n');
    t.is((await s(['rm', 'ca'])).stdout, 'ca\n');
    await t.throwsAsync(fs.access(upper));
    await s(['create', '--name', 'again', '-v', 'keepvol:/vol', 'walk:1']);
    t.is((await s(['fs', 'cat', 'again', '/vol/data.txt'])).stdout, 'persisted\n');
  });
}
