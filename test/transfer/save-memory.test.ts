import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadImages } from '../../src/transfer/load.js';
import { saveImages } from '../../src/transfer/save.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { strataPeakRss } from '../helpers/peak-rss.js';
import { writeImage } from '../helpers/image-builder.js';
import { snapshotTree } from '../helpers/store-snapshot.js';
import type { Store } from '../../src/store/root.js';

const MiB = 1024 * 1024;
/** Each layer alone is larger than the RSS limit: a save that held one in memory would fail. */
const LAYER_MIB = 320;
const RSS_LIMIT_MIB = 200;

/** What the library writes for the same save, hashed as it streams (nothing kept). */
async function librarySaveDigest(store: Store, uncompressed: boolean): Promise<string> {
  const hash = createHash('sha256');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done();
    },
  });
  await saveImages(store, ['big:1'], sink, { uncompressed });
  sink.end();
  return hash.digest('hex');
}

test(`save streams, with no temporary copy: an image of two ${LAYER_MIB} MiB layers (one plain blob, one gzip of zeros) saves in both forms with peak RSS under ${RSS_LIMIT_MIB} MiB`, async (t) => {
  const { store, dir } = await tmpStore(t);
  const file = path.join(dir, 'big.tar');
  await writeImage(file, {
    format: 'oci',
    repoTags: ['big:1'],
    layers: [
      { entries: [{ path: 'data/noise.bin', size: LAYER_MIB * MiB, seed: 11 }], compression: 'none' },
      { entries: [{ path: 'data/zeros.bin', content: Buffer.alloc(LAYER_MIB * MiB) }], compression: 'gzip' },
    ],
  });
  await loadImages(store, { path: file });
  await fs.rm(file);
  const before = await snapshotTree(dir);
  for (const uncompressed of [false, true]) {
    const hash = createHash('sha256');
    let bytes = 0;
    const run = await strataPeakRss(store.root, ['save', ...(uncompressed ? ['--uncompressed'] : []), 'big:1'], {
      onStdout: (chunk) => {
        bytes += chunk.length;
        hash.update(chunk);
      },
    });
    const form = uncompressed ? '--uncompressed' : 'default';
    t.log(`${form}: ${(bytes / MiB).toFixed(0)} MiB in ${run.wallS.toFixed(1)} s, peak RSS ${run.peakRssMiB.toFixed(0)} MiB`);
    t.is(run.stderr, '');
    t.is(run.code, 0);
    t.true(bytes > (uncompressed ? 2 : 1) * LAYER_MIB * MiB, `${form}: ${bytes} bytes written`);
    t.true(run.peakRssMiB < RSS_LIMIT_MIB, `${form}: peak RSS ${Math.round(run.peakRssMiB)} MiB, limit ${RSS_LIMIT_MIB} MiB`);
    t.is(hash.digest('hex'), await librarySaveDigest(store, uncompressed), `${form}: the bytes the library writes`);
    t.deepEqual(await snapshotTree(dir), before, `${form}: no temporary copy in or beside the store`);
  }
});
