import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { loadImages } from '../../src/transfer/load.js';
import { checkStore } from '../../src/check/check.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { entryName, fixChecksum, parseRawTar, setField } from '../helpers/mutate.js';

/*
 * Found by the fuzz test: a gzipped archive whose directory entry has a non-zero size
 * field hung `load` forever. A directory has no data whatever its size says (GNU tar
 * and the in-place index agree), but tar-stream never ends such an entry's stream,
 * and the spool waited for it to drain. spooled-source.ts no longer drains directories.
 */
test('a gzipped archive whose directory entry claims a size loads instead of hanging', async (t) => {
  const { store, dir } = await tmpStore(t);
  const tar = await buildImage({ format: 'oci', repoTags: ['dirsize:1'], layers: [[{ path: 'etc/hostname', content: 'x\n' }]] });
  const bytes = Buffer.from(tar);
  const blobsDir = parseRawTar(bytes).entries.find((e) => entryName(e) === 'blobs/sha256/')!;
  const header = bytes.subarray(blobsDir.offset, blobsDir.offset + 512);
  setField(header, 'size', '00000001777\0'); // 1023 bytes that are not there
  fixChecksum(header);
  const archive = path.join(dir, 'dirsize.tar.gz');
  await fs.writeFile(archive, zlib.gzipSync(bytes));

  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    loadImages(store, { path: archive }).then((images) => images.flatMap((i) => i.repoTags)),
    new Promise<'hang'>((resolve) => {
      timer = setTimeout(() => resolve('hang'), 10_000);
    }),
  ]);
  clearTimeout(timer);
  t.deepEqual(outcome, ['dirsize:1']);
  t.deepEqual((await checkStore(store)).problems, []);
});
