/**
 * Layers that must be refused as a whole: bombs, floods, corrupt or truncated
 * streams, content that is not what the config says. Each row asserts the exact
 * code, that the message names the layer, and that layers/ is left empty.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import type { StrataErrorCode } from '../../src/errors.js';
import type { UnpackLimits } from '../../src/layer/limits.js';
import { diffIdOf, makeTar } from '../helpers/make-tar.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { testUnless } from '../helpers/skip.js';
import { zstdSkipReason } from '../helpers/tools.js';
import { SOURCE, rejects, unpack } from './helpers.js';

interface Case {
  name: string;
  code: StrataErrorCode;
  reason: RegExp;
  /** The layer as stored (possibly compressed), the diffID to expect and the limits. */
  build(): Promise<{ blob: Buffer; diffId?: string; limits?: UnpackLimits }>;
  /** The zstd command makes this case's test data. */
  needsZstd?: true;
}

const small = () =>
  makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', content: 'root:x:0:0\n'.repeat(200) },
  ]);

function zstd(data: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c'], { input: data });
}

const cases: Case[] = [
  {
    name: 'entry flood beyond maxEntries',
    code: 'ELIMIT',
    reason: /more than the limit of 100 entries/,
    build: async () => ({
      blob: await makeTar(Array.from({ length: 101 }, (_, i) => ({ name: `f${i}` }))),
      limits: { maxEntries: 100, maxBytes: 1 << 30 },
    }),
  },
  {
    name: 'uncompressed bytes beyond maxBytes',
    code: 'ELIMIT',
    reason: /larger than the limit of 4096 uncompressed bytes/,
    build: async () => ({ blob: await small(), limits: { maxEntries: 100, maxBytes: 4096 } }),
  },
  {
    name: 'diffID mismatch',
    code: 'EINTEGRITY',
    reason: /but the image config says sha256:0{64}/,
    build: async () => ({ blob: await small(), diffId: `sha256:${'0'.repeat(64)}` }),
  },
  {
    name: 'truncated tar',
    code: 'EINVALIDARCHIVE',
    reason: /entry "etc\/passwd": its size \(2200 bytes\) runs past the end of the layer stream: 1900 bytes of data missing$/,
    build: async () => {
      const tar = await small();
      return { blob: tar.subarray(0, 1024 + 300), diffId: diffIdOf(tar) };
    },
  },
  {
    name: 'not a tar at all',
    code: 'EINVALIDARCHIVE',
    reason: /not a valid tar stream/,
    build: async () => ({ blob: Buffer.from('this is a text file, not a layer\n'.repeat(40)) }),
  },
  {
    name: 'truncated gzip',
    code: 'EINVALIDARCHIVE',
    reason: /corrupt or truncated gzip data/,
    build: async () => {
      const tar = await small();
      const gz = zlib.gzipSync(tar);
      return { blob: gz.subarray(0, gz.length - 20), diffId: diffIdOf(tar) };
    },
  },
  {
    name: 'corrupt gzip',
    code: 'EINVALIDARCHIVE',
    reason: /corrupt or truncated gzip data/,
    build: async () => {
      const tar = await small();
      const gz = Buffer.from(zlib.gzipSync(tar));
      gz[3] = 0xff; // reserved FLG bits: zlib refuses the header
      return { blob: gz, diffId: diffIdOf(tar) };
    },
  },
  {
    name: 'corrupt zstd',
    code: 'EINVALIDARCHIVE',
    reason: /corrupt or truncated zstd data \(invalid block type\)/,
    needsZstd: true,
    build: async () => {
      const tar = await small();
      const z = zstd(tar);
      // Make the first block's type the reserved value 3 (RFC 8878 3.1.1.2).
      const fhd = z[4]!;
      const single = (fhd >> 5) & 1;
      const blockAt = 4 + 1 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + [single, 2, 4, 8][fhd >> 6]!;
      z[blockAt]! |= 0b110;
      return { blob: z, diffId: diffIdOf(tar) };
    },
  },
  {
    name: 'truncated zstd',
    code: 'EINVALIDARCHIVE',
    reason: /corrupt or truncated zstd data/,
    needsZstd: true,
    build: async () => {
      const tar = await small();
      const z = zstd(tar);
      return { blob: z.subarray(0, z.length - 10), diffId: diffIdOf(tar) };
    },
  },
  {
    name: 'pax header larger than the parser buffers (5 MiB)',
    code: 'EINVALIDARCHIVE',
    reason: /entry "PaxHeader": header extension of 5242906 bytes exceeds max size \(4194304 bytes\)$/,
    build: async () => ({ blob: await makeTar([{ name: 'f', content: 'x', pax: { comment: 'x'.repeat(5 << 20) } }]) }),
  },
];

const rejected = test.macro({
  async exec(t, c: Case) {
    const built = await c.build();
    const { store } = await tmpStore(t);
    const err = await rejects(t, store, built.blob, c.code, { diffId: built.diffId ?? diffIdOf(built.blob), limits: built.limits });
    t.regex(err.message, c.reason);
  },
  title: (_provided, c: Case) => `${c.name} is refused as ${c.code} and leaves the store as it was`,
});

const zstdMissing = await zstdSkipReason();
for (const c of cases) testUnless(c.needsZstd ? zstdMissing : null)(rejected, c);

test('a gzip bomb stops at maxBytes, long before the blob is read to its end', async (t) => {
  // 256 MiB of zeros gzip to about 260 KB; with a 1 MiB limit the unpack must stop
  // after reading a few KB of it, not inflate everything and fail at the end.
  const gz = await gzipZeros(256 << 20);
  let read = 0;
  const chunks = function* () {
    for (let at = 0; at < gz.length; at += 4096) yield gz.subarray(at, at + 4096);
  };
  const { store } = await tmpStore(t);
  const err = await rejects(t, store, Buffer.alloc(0), 'ELIMIT', {
    blob: Readable.from(chunks(), { objectMode: false, highWaterMark: 4096 }),
    diffId: `sha256:${'1'.repeat(64)}`,
    limits: { maxEntries: 10, maxBytes: 1 << 20 },
    onProgress: (n) => {
      read = n;
    },
  });
  t.regex(err.message, /larger than the limit of 1048576 uncompressed bytes/);
  t.is(err.expected, 1 << 20);
  t.true(read > 0 && read < 64 * 1024, `read ${read} of ${gz.length} compressed bytes`);
});

test('an I/O error reading the blob keeps its code, names the layer and leaves the store as it was', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await small();
  const failing = new Readable({
    read() {
      this.push(tar.subarray(0, 1024));
      this.destroy(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
    },
  });
  const err = (await t.throwsAsync(unpack(store, tar, { blob: failing }))) as NodeJS.ErrnoException;
  t.is(err.code, 'EIO');
  t.true(err.message.startsWith(`${SOURCE}: `), err.message);
  t.deepEqual(await fs.readdir(store.paths.layersDir), []);
});

async function gzipZeros(bytes: number): Promise<Buffer> {
  const gzip = zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = new Promise((resolve) => gzip.on('end', resolve));
  const mib = Buffer.alloc(1 << 20);
  for (let i = 0; i < bytes >> 20; i++) if (!gzip.write(mib)) await new Promise((resolve) => gzip.once('drain', resolve));
  gzip.end();
  await ended;
  return Buffer.concat(out);
}
