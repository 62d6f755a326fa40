import test from 'ava';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import { openArchive } from '../../src/archive/open-archive.js';
import { readImages } from '../../src/archive/read-images.js';
import { writeImage } from '../helpers/image-builder.js';

/**
 * The indexed reader's promise: a plain tar on disk is read by headers and byte
 * ranges only, so opening one layer reads that layer and nothing of the others.
 * Every read goes through `fs.createReadStream` or a `fsp.open` handle (default
 * imports, so patching them here reaches the modules), and is counted.
 */
test.serial('opening one layer of an indexed plain tar reads that layer and only headers besides', async (t) => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-random-access-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'image.tar');
  const layerSize = 2 * 1024 * 1024;
  const built = await writeImage(file, {
    format: 'oci',
    compression: 'none',
    layers: [0, 1, 2].map((i) => [{ path: `data-${i}`, size: layerSize, seed: i }]),
  });
  const archiveSize = (await fsp.stat(file)).size;

  let handleBytes = 0;
  const ranges: Array<{ start: number; end: number; stream: ReadStream }> = [];
  const realOpen = fsp.open;
  const realCreateReadStream = fs.createReadStream;
  fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args);
    const realRead = handle.read.bind(handle) as (...a: unknown[]) => Promise<{ bytesRead: number }>;
    (handle as unknown as { read: unknown }).read = async (...a: unknown[]) => {
      const result = await realRead(...a);
      handleBytes += result.bytesRead;
      return result;
    };
    return handle;
  }) as typeof fsp.open;
  fs.createReadStream = ((p: fs.PathLike, options: { start: number; end: number }) => {
    const stream = realCreateReadStream(p, options);
    ranges.push({ start: options.start, end: options.end, stream });
    return stream;
  }) as typeof fs.createReadStream;
  t.teardown(() => {
    fsp.open = realOpen;
    fs.createReadStream = realCreateReadStream;
  });

  const source = await openArchive({ path: file }, { spoolDir: path.join(dir, 'ingest') });
  const [image] = await readImages(source);
  const middle = image!.layers[1]!;
  const hash = createHash('sha256');
  for await (const chunk of source.open(middle.path)) hash.update(chunk as Buffer);
  await source.close();

  t.is(`sha256:${hash.digest('hex')}`, built.layers[1]!.digest);
  t.is(ranges.length, 1, 'one byte-range stream, for the layer asked for');
  t.is(ranges[0]!.end - ranges[0]!.start + 1, middle.size!);
  t.is(ranges[0]!.stream.bytesRead, middle.size!, 'the range stream read exactly the layer');
  // Headers (a few dozen blocks) plus index.json, oci-layout and the manifest.
  t.true(handleBytes > 0 && handleBytes < 16 * 1024, `headers and JSON only: ${handleBytes} bytes`);
  t.true(archiveSize > 3 * layerSize);
  t.false(fs.existsSync(path.join(dir, 'ingest')), 'nothing was spooled');
});
