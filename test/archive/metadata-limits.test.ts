import test from 'ava';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { ARCHIVE_LIMITS } from '../../src/archive/limits.js';
import { loadImages } from '../../src/transfer/load.js';
import { readTags } from '../../src/image/tags.js';
import { repoRoot } from '../helpers/cli.js';
import { buildImageWithInfo, sha256 } from '../helpers/image-builder.js';
import { assertLoadRejected, storeWithOneImage } from '../helpers/load-rejection.js';
import { snapshotTree } from '../helpers/store-snapshot.js';

// Manifests, indexes and configs are parsed whole, so each is refused from its tar
// header or descriptor size before it is read (src/archive/limits.ts).

const layers = [
  [
    { path: 'etc/', type: 'dir' as const },
    { path: 'etc/hostname', content: 'limits\n' },
  ],
];
const MAX_CONFIG = ARCHIVE_LIMITS.maxConfigBytes;
const MAX_JSON = ARCHIVE_LIMITS.maxJsonBytes;
const MiB = 1024 * 1024;

/**
 * A valid config of exactly `size` bytes: the real one with a `"pad"` field of
 * letters, as chunks, so a 1 GiB config never sits in memory.
 */
function* paddedConfig(original: Buffer, size: number): Generator<Buffer> {
  const head = Buffer.concat([original.subarray(0, original.lastIndexOf('}')), Buffer.from(',"pad":"')]);
  const tail = Buffer.from('"}');
  const letters = Buffer.alloc(MiB, 'a');
  yield head;
  for (let left = size - head.length - tail.length; left > 0; left -= letters.length)
    yield letters.subarray(0, Math.min(left, letters.length));
  yield tail;
}

const hex = (digest: string) => digest.slice('sha256:'.length);

interface BigConfig {
  /** The small image the big config replaces the config of. */
  tar: Buffer;
  oldName: string;
  /** `<hex>.json`: docker save names a config by its digest. */
  name: string;
  size: number;
  chunks: () => Iterable<Buffer>;
}

/** A docker-save image whose config is padded to `size` bytes (and named by its digest). */
async function dockerWithConfig(size: number): Promise<BigConfig> {
  const plain = await buildImageWithInfo({ format: 'docker', layers, repoTags: ['big:1'] });
  const original = Buffer.from(JSON.stringify(plain.image.config));
  const hash = createHash('sha256');
  for (const chunk of paddedConfig(original, size)) hash.update(chunk);
  return {
    tar: plain.tar,
    oldName: `${hex(plain.image.configDigest)}.json`,
    name: `${hash.digest('hex')}.json`,
    size,
    chunks: () => paddedConfig(original, size),
  };
}

/** Writes the image to `file` with its config replaced by the padded one, streamed (the test's memory stays small). */
async function writeWithBigConfig(big: BigConfig, file: string, gzip = false): Promise<void> {
  const extract = tar.extract();
  const pack = tar.pack();
  const packed = pack as unknown as Readable;
  const writing = gzip
    ? pipeline(packed, zlib.createGzip({ level: 1 }), fs.createWriteStream(file))
    : pipeline(packed, fs.createWriteStream(file));
  extract.on('entry', (header, stream, next) => {
    void (async () => {
      const content: Buffer[] = [];
      for await (const chunk of stream) content.push(chunk as Buffer);
      if (header.name === big.oldName) {
        const entry = pack.entry({ ...header, name: big.name, size: big.size });
        await pipeline(Readable.from(big.chunks()), entry as unknown as NodeJS.WritableStream);
      } else if (header.name === 'manifest.json') {
        const manifest = JSON.parse(Buffer.concat(content).toString()) as Array<Record<string, unknown>>;
        const bytes = Buffer.from(JSON.stringify([{ ...manifest[0], Config: big.name }]));
        pack.entry({ ...header, size: bytes.length }, bytes);
      } else {
        pack.entry(header, Buffer.concat(content));
      }
    })().then(
      () => next(),
      (err: Error) => next(err),
    );
  });
  await pipeline(Readable.from([big.tar]), extract as unknown as NodeJS.WritableStream);
  pack.finalize();
  await writing;
}

for (const gzip of [false, true]) {
  test(`a config one byte over the limit is refused before it is read (${gzip ? 'gzip, spooled' : 'plain tar, indexed'})`, async (t) => {
    const big = await dockerWithConfig(MAX_CONFIG + 1);
    await assertLoadRejected(t, (file) => writeWithBigConfig(big, file, gzip), gzip ? 'input.tar.gz' : 'input.tar', {
      code: 'ELIMIT',
      message: `ARCHIVE: ${big.name}: image config is ${MAX_CONFIG + 1} bytes (limit ${MAX_CONFIG})`,
    });
  });
}

test('a config of exactly the limit loads', async (t) => {
  const { store, dir } = await storeWithOneImage(t);
  const file = path.join(dir, 'at-limit.tar');
  await writeWithBigConfig(await dockerWithConfig(MAX_CONFIG), file);
  const [loaded] = await loadImages(store, { path: file });
  t.is((await readTags(store))['big:1'], loaded!.id);
  t.is((await fsp.stat(path.join(store.root, 'blobs', 'sha256', hex(loaded!.id)))).size, MAX_CONFIG);
});

test('an OCI config over the limit is refused from its descriptor', async (t) => {
  const plain = await buildImageWithInfo({ format: 'oci', layers, repoTags: ['big:1'] });
  const config = Buffer.from(JSON.stringify({ ...plain.image.config, pad: 'a'.repeat(MAX_CONFIG) }));
  const configDigest = sha256(config);
  let manifestDigest = '';
  const { tar } = await buildImageWithInfo({
    format: 'oci',
    layers,
    repoTags: ['big:1'],
    editEntries: (entries) => {
      const oldManifest = entries.find((e) => e.name === `blobs/sha256/${hex(plain.image.manifestDigest)}`)!;
      const manifest = JSON.parse(String(oldManifest.content)) as Record<string, unknown>;
      const bytes = Buffer.from(
        JSON.stringify({ ...manifest, config: { ...(manifest.config as object), digest: configDigest, size: config.length } }),
      );
      manifestDigest = sha256(bytes);
      return entries.map((e) => {
        if (e === oldManifest) return { name: `blobs/sha256/${hex(manifestDigest)}`, content: bytes };
        if (e.name === `blobs/sha256/${hex(plain.image.configDigest)}`)
          return { name: `blobs/sha256/${hex(configDigest)}`, content: config };
        if (e.name !== 'index.json') return e;
        const index = JSON.parse(String(e.content)) as { manifests: object[] };
        return {
          ...e,
          content: JSON.stringify({ ...index, manifests: [{ ...index.manifests[0], digest: manifestDigest, size: bytes.length }] }),
        };
      });
    },
  });
  await assertLoadRejected(t, tar, 'input.tar', {
    code: 'ELIMIT',
    message: `ARCHIVE: blobs/sha256/${hex(configDigest)}: image config is ${config.length} bytes (limit ${MAX_CONFIG})`,
  });
});

test('an OCI manifest over the limit is refused before it is read', async (t) => {
  const plain = await buildImageWithInfo({ format: 'oci', layers, repoTags: ['big:1'] });
  let manifestDigest = '';
  let manifestSize = 0;
  const { tar } = await buildImageWithInfo({
    format: 'oci',
    layers,
    repoTags: ['big:1'],
    editEntries: (entries) => {
      const old = entries.find((e) => e.name === `blobs/sha256/${hex(plain.image.manifestDigest)}`)!;
      const manifest = JSON.parse(String(old.content)) as Record<string, unknown>;
      const bytes = Buffer.from(JSON.stringify({ ...manifest, annotations: { pad: 'a'.repeat(MAX_JSON) } }));
      [manifestDigest, manifestSize] = [sha256(bytes), bytes.length];
      return entries.map((e) => {
        if (e === old) return { name: `blobs/sha256/${hex(manifestDigest)}`, content: bytes };
        if (e.name !== 'index.json') return e;
        const index = JSON.parse(String(e.content)) as { manifests: object[] };
        return {
          ...e,
          content: JSON.stringify({ ...index, manifests: [{ ...index.manifests[0], digest: manifestDigest, size: bytes.length }] }),
        };
      });
    },
  });
  await assertLoadRejected(t, tar, 'input.tar', {
    code: 'ELIMIT',
    message: `ARCHIVE: blobs/sha256/${hex(manifestDigest)}: JSON entry is ${manifestSize} bytes (limit ${MAX_JSON})`,
  });
});

/** Prints the process's peak RSS (KiB) on stderr as it exits, whatever the exit path. */
const REPORT_MAX_RSS = `data:text/javascript,${encodeURIComponent(
  "import fs from 'node:fs'; process.on('exit', () => fs.writeSync(2, 'maxrss=' + process.resourceUsage().maxRSS + '\\n'));",
)}`;

test('a 1 GiB config (valid JSON, right digest) is refused by `strata load` with peak RSS under 300 MiB', async (t) => {
  const { store, dir, before } = await storeWithOneImage(t);
  const big = await dockerWithConfig(1024 * MiB);
  const file = path.join(dir, 'huge-config.tar');
  await writeWithBigConfig(big, file);

  const child = spawn(
    process.execPath,
    ['--import', REPORT_MAX_RSS, path.join(repoRoot, 'bin', 'strata.js'), '--root', store.root, 'load', '-i', file],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.resume();
  const [code] = (await once(child, 'close')) as [number | null];

  const lines = stderr.trimEnd().split('\n');
  const maxRss = Number(/^maxrss=(\d+)$/.exec(lines.at(-1) ?? '')?.[1]);
  t.true(Number.isFinite(maxRss), `peak RSS reported: ${stderr}`);
  t.true(maxRss < 300 * 1024, `peak RSS ${Math.round(maxRss / 1024)} MiB, limit 300 MiB`);
  t.is(lines.slice(0, -1).join('\n'), `strata: ${file}: ${big.name}: image config is ${1024 * MiB} bytes (limit ${MAX_CONFIG})`);
  t.not(code, 0);
  t.deepEqual(await snapshotTree(store.root), before, 'store left exactly as it was');
});
