import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { openArchive, type ArchiveInput } from '../../src/archive/open-archive.js';
import { readImages } from '../../src/archive/read-images.js';
import type { ArchiveSource } from '../../src/archive/source.js';
import { buildImageWithInfo, sha256, type BuildImageOptions, type LayerEntry } from '../helpers/image-builder.js';

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-open-archive-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/os-release', content: 'ID=strata\n' },
  { path: 'bin/', type: 'dir' },
  { path: 'bin/sh', size: 100_000, seed: 'sh', mode: 0o755 },
];
const top: LayerEntry[] = [
  { path: 'etc/os-release', type: 'whiteout' },
  { path: 'app/hello.txt', content: 'hello\n' },
];

async function allBytes(source: ArchiveSource, name: string): Promise<Buffer> {
  return buffer(source.open(name));
}

/** What readImages found plus every byte it points at: equal means "the same image". */
async function snapshot(input: ArchiveInput, spoolDir: string) {
  const source = await openArchive(input, { spoolDir });
  try {
    const images = await readImages(source);
    const contents = [];
    for (const image of images) {
      contents.push(await allBytes(source, image.configPath));
      for (const layer of image.layers) contents.push(await allBytes(source, layer.path));
    }
    return { images, contents };
  } finally {
    await source.close();
  }
}

for (const format of ['docker', 'oci', 'docker25'] as const) {
  test(`${format}: plain file, gzipped file, stdin and gzipped stdin give identical images`, async (t) => {
    const dir = await tempDir(t);
    const spoolDir = path.join(dir, 'ingest');
    const options: BuildImageOptions = { format, layers: [base, top], repoTags: ['demo:1'] };
    const { tar, image } = await buildImageWithInfo(options);
    const plain = path.join(dir, 'image.tar');
    const gz = path.join(dir, 'image.tar.gz');
    await fsp.writeFile(plain, tar);
    await fsp.writeFile(gz, zlib.gzipSync(tar));

    const fromPlain = await snapshot({ path: plain }, spoolDir);
    const fromGzip = await snapshot({ path: gz }, spoolDir);
    const fromStdin = await snapshot({ stream: fs.createReadStream(plain), displayName: 'stdin' }, spoolDir);
    const fromGzStdin = await snapshot({ stream: Readable.from([zlib.gzipSync(tar)]), displayName: 'stdin' }, spoolDir);
    t.deepEqual(fromGzip, fromPlain);
    t.deepEqual(fromStdin, fromPlain);
    t.deepEqual(fromGzStdin, fromPlain);
    t.is(fromPlain.images.length, 1);
    t.deepEqual(fromPlain.images[0]!.repoTags, ['demo:1']);
    t.is(fromPlain.images[0]!.configDigest, image.configDigest);
    t.deepEqual(await fsp.readdir(spoolDir), [], 'close() removed every spool directory');
  });
}

test('a big layer of a gzipped archive is spooled to a file under spoolDir, and close() removes it', async (t) => {
  const dir = await tempDir(t);
  const spoolDir = path.join(dir, 'ingest');
  const { tar, image } = await buildImageWithInfo({
    format: 'docker',
    layers: [[{ path: 'big', size: 3 * 1024 * 1024, seed: 7 }]],
    outerGzip: true,
  });
  const source = await openArchive({ stream: Readable.from([tar]), displayName: 'stdin' }, { spoolDir });
  const spools = await fsp.readdir(spoolDir);
  t.is(spools.length, 1);
  t.regex(spools[0]!, /^\.tmp-[0-9a-f]{12}-spool$/);
  const files = await fsp.readdir(path.join(spoolDir, spools[0]!));
  const sizes = await Promise.all(files.map(async (f) => (await fsp.stat(path.join(spoolDir, spools[0]!, f))).size));
  t.deepEqual(sizes, [image.layers[0]!.size], 'only the layer went to disk; the small JSON entries stayed in memory');
  const [found] = await readImages(source);
  t.is(source.size(found!.layers[0]!.path), image.layers[0]!.size);
  const open = source.open(found!.layers[0]!.path);
  await source.close();
  t.true(open.destroyed, 'close() destroys streams still open');
  t.deepEqual(await fsp.readdir(spoolDir), []);
  await source.close(); // idempotent
  t.throws(() => source.open(found!.layers[0]!.path), { code: 'EUSAGE' } as never);
});

async function openError(t: ExecutionContext, input: ArchiveInput, spoolDir: string) {
  const err = await t.throwsAsync(async () => {
    const source = await openArchive(input, { spoolDir });
    await source.close();
  });
  t.deepEqual(fs.existsSync(spoolDir) ? await fsp.readdir(spoolDir) : [], [], 'a failed open leaves no spool behind');
  return err as Error & { code: string };
}

const broken: Array<{ title: string; make: (tar: Buffer) => Buffer; file: string | RegExp; stream: string | RegExp }> = [
  {
    title: 'a truncated tar',
    make: (tar) => tar.subarray(0, 5000),
    file: 'FILE: truncated archive: entry "LAYER" needs SIZE bytes at offset 3072, the file ends at 5000',
    stream: 'stdin: truncated archive: data ends inside an entry',
  },
  {
    title: 'a bad header checksum',
    make: (tar) => {
      const b = Buffer.from(tar);
      b[512 + 5] = b[512 + 5]! ^ 0x20;
      return b;
    },
    file: 'FILE: bad header checksum at offset 512',
    stream: 'stdin: bad header checksum (corrupt tar header)',
  },
  {
    title: 'an empty file',
    make: () => Buffer.alloc(0),
    file: 'FILE: not a tar archive (empty file)',
    stream: 'stdin: not a tar archive (empty input)',
  },
  {
    title: 'a JSON file',
    make: () => Buffer.from(JSON.stringify({ not: 'a tar' }).repeat(100)),
    file: 'FILE: not a tar archive',
    stream: 'stdin: not a tar archive',
  },
  {
    title: 'a truncated gzip',
    make: (tar) => zlib.gzipSync(tar).subarray(0, 300),
    file: 'FILE: truncated gzip data',
    stream: 'stdin: truncated gzip data',
  },
  {
    title: 'corrupt gzip data',
    make: (tar) => {
      const gz = zlib.gzipSync(tar);
      gz.fill(0x55, 20, 200);
      return gz;
    },
    file: /^FILE: corrupt gzip data \(.+\)$/,
    stream: /^stdin: corrupt gzip data \(.+\)$/,
  },
];

for (const c of broken) {
  test(`${c.title} is EINVALIDARCHIVE with a one-line reason, from a file and from stdin`, async (t) => {
    const dir = await tempDir(t);
    const spoolDir = path.join(dir, 'ingest');
    const { tar, image } = await buildImageWithInfo({ format: 'docker', layers: [[{ path: 'f', size: 4000, seed: 1 }]] });
    const bytes = c.make(tar);
    const file = path.join(dir, 'broken');
    await fsp.writeFile(file, bytes);
    const layerId = sha256(`\n${image.layers[0]!.digest}`).slice('sha256:'.length);
    const fromFile = await openError(t, { path: file }, spoolDir);
    t.is(fromFile.code, 'EINVALIDARCHIVE');
    if (typeof c.file === 'string') {
      t.is(
        fromFile.message,
        c.file.replace('FILE', file).replace('LAYER', `${layerId}/layer.tar`).replace('SIZE', String(image.layers[0]!.size)),
      );
    } else {
      t.regex(fromFile.message.replace(file, 'FILE'), c.file);
    }
    const fromStream = await openError(t, { stream: Readable.from([bytes]), displayName: 'stdin' }, spoolDir);
    t.is(fromStream.code, 'EINVALIDARCHIVE');
    if (typeof c.stream === 'string') t.is(fromStream.message, c.stream);
    else t.regex(fromStream.message, c.stream);
  });
}

test('a missing file is ENOTFOUND, and a directory that is no image layout is not an image archive', async (t) => {
  const dir = await tempDir(t);
  const missing = path.join(dir, 'nope.tar');
  const err = await t.throwsAsync(openArchive({ path: missing }, { spoolDir: dir }));
  t.is((err as Error & { code: string }).code, 'ENOTFOUND');
  // A directory is read as an image layout (directory-source.ts); this one holds none.
  const source = await openArchive({ path: dir }, { spoolDir: dir });
  const isDir = await t.throwsAsync(readImages(source));
  await source.close();
  t.is((isDir as Error & { code: string }).code, 'EINVALIDARCHIVE');
  t.is(isDir!.message, `${dir}: not an image archive (neither manifest.json from docker save nor index.json of an OCI layout)`);
});

test('too many entries in the outer tar is ELIMIT, indexed or spooled', async (t) => {
  const dir = await tempDir(t);
  const { tar } = await buildImageWithInfo({ format: 'oci', layers: [[{ path: 'a', content: 'a' }], [{ path: 'b', content: 'b' }]] });
  const file = path.join(dir, 'x.tar');
  await fsp.writeFile(file, tar);
  const fromFile = await t.throwsAsync(openArchive({ path: file }, { spoolDir: dir, maxEntries: 3 }));
  t.is((fromFile as Error & { code: string }).code, 'ELIMIT');
  const fromStream = await t.throwsAsync(
    openArchive({ stream: Readable.from([tar]), displayName: 'stdin' }, { spoolDir: dir, maxEntries: 3 }),
  );
  t.is((fromStream as Error & { code: string }).code, 'ELIMIT');
  t.is(fromStream!.message, 'stdin: more than 3 entries');
});
