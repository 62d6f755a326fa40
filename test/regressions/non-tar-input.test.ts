import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { strata, strataProcess } from '../helpers/cli.js';
import { snapshotContent } from '../helpers/store-snapshot.js';

/*
 * A few bytes that are no tar, given to `load` (stdin or -i) or `cp -`: one line
 * that says so (or the real reason), exit 1, and the store exactly as it was —
 * never "stream.unshift() after end event" or a silent exit 0.
 */
const TEXT = 'a few words of plain text, not an archive\n';
const SHORT = '(%d, less than one 512-byte tar header)';
const short = (n: number, extra = '') => `not a tar archive ${SHORT.replace('%d', `${n} ${n === 1 ? 'byte' : 'bytes'}${extra}`)}`;
const NOT_IMAGE = 'not an image archive (neither manifest.json from docker save nor index.json of an OCI layout)';

interface Case {
  name: string;
  bytes: Buffer;
  /** The reason after `stdin: ` / `FILE: `; for load -i a different one where a file says more. */
  load: string;
  loadFile?: string;
  /** cp - of this input: an error reason, or null when it is a valid (empty) tar. */
  cp: string | null;
}

const text100 = Buffer.from(TEXT.repeat(3)).subarray(0, 100);
const gzText = zlib.gzipSync(TEXT);
const cases: Case[] = [
  {
    name: 'empty input',
    bytes: Buffer.alloc(0),
    load: 'not a tar archive (empty input)',
    loadFile: 'not a tar archive (empty file)',
    cp: 'not a tar archive (empty input)',
  },
  { name: '1 byte', bytes: Buffer.from('x'), load: short(1), cp: short(1) },
  { name: '100 bytes of text', bytes: text100, load: short(100), cp: short(100) },
  { name: '1000 bytes of text', bytes: Buffer.from(TEXT.repeat(30)).subarray(0, 1000), load: 'not a tar archive', cp: 'not a tar archive' },
  { name: '511 zero bytes', bytes: Buffer.alloc(511), load: short(511), cp: short(511) },
  // A zero block is tar's end-of-archive marker: an empty archive, which holds no image and copies nothing.
  { name: '512 zero bytes', bytes: Buffer.alloc(512), load: NOT_IMAGE, cp: null },
  { name: '513 zero bytes', bytes: Buffer.alloc(513), load: NOT_IMAGE, cp: null },
  {
    name: 'a gzip of text',
    bytes: gzText,
    load: short(TEXT.length, ' after gzip decompression'),
    cp: short(TEXT.length, ' after gzip decompression'),
  },
  {
    name: 'a truncated gzip',
    bytes: zlib.gzipSync(TEXT.repeat(100)).subarray(0, 20),
    load: 'truncated gzip data',
    cp: 'truncated gzip data',
  },
];

async function world(t: Parameters<typeof tmpStore>[0]) {
  const { store, dir } = await tmpStore(t);
  const image = path.join(dir, 'app.tar');
  await fs.writeFile(
    image,
    await buildImage({
      format: 'docker',
      repoTags: ['app:1'],
      layers: [
        [
          { path: 'dst/', type: 'dir' },
          { path: 'dst/keep', content: 'keep\n' },
        ],
      ],
    }),
  );
  t.is((await strata(store.root, ['load', '-i', image])).code, 0);
  t.is((await strata(store.root, ['create', '--name', 'c1', 'app:1'])).code, 0);
  return { root: store.root, dir };
}

for (const c of cases) {
  test(`${c.name}: load from stdin and from a file, and cp -, say why in one line and change nothing`, async (t) => {
    const { root, dir } = await world(t);
    const file = path.join(dir, 'input');
    await fs.writeFile(file, c.bytes);
    const before = await snapshotContent(root);

    t.deepEqual(await strata(root, ['load'], { stdin: c.bytes }), { code: 1, stdout: '', stderr: `strata: stdin: ${c.load}\n` });
    t.deepEqual(await strata(root, ['load', '-i', file]), { code: 1, stdout: '', stderr: `strata: ${file}: ${c.loadFile ?? c.load}\n` });
    t.deepEqual(await snapshotContent(root), before, 'a refused load leaves the store as it was');

    const copied = await strata(root, ['cp', '-', 'c1:/dst'], { stdin: c.bytes });
    if (c.cp === null) t.deepEqual(copied, { code: 0, stdout: '', stderr: '' });
    else t.deepEqual(copied, { code: 1, stdout: '', stderr: `strata: stdin: ${c.cp}\n` });
    t.deepEqual(await snapshotContent(root), before, 'the container is unchanged');
  });
}

test('a real process given one byte on a pipe: "not a tar archive", not "stream.unshift() after end event"', async (t) => {
  const { root } = await world(t);
  const loaded = await strataProcess(root, ['load'], { stdin: Buffer.from('x') });
  t.deepEqual({ code: loaded.code, stderr: loaded.stderr }, { code: 1, stderr: `strata: stdin: ${short(1)}\n` });
  const copied = await strataProcess(root, ['cp', '-', 'c1:/dst'], { stdin: Buffer.from('x') });
  t.deepEqual({ code: copied.code, stderr: copied.stderr }, { code: 1, stderr: `strata: stdin: ${short(1)}\n` });
});
