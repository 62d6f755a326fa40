import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';

/*
 * Found by the fuzz test: a JSON entry of an archive that is not JSON made an error
 * message of several lines, because V8 quotes the bad input in its SyntaxError text,
 * newlines included — and the CLI prints the message as its one line. The quoted
 * input is now escaped (indexed-source.ts).
 */
test('invalid JSON with a newline in an archive entry is a one-line EINVALIDARCHIVE', async (t) => {
  const { store, dir } = await tmpStore(t);
  const archive = path.join(dir, 'badjson.tar');
  await fs.writeFile(
    archive,
    await buildImage({
      format: 'oci',
      repoTags: ['badjson:1'],
      layers: [[{ path: 'x', content: 'x' }]],
      editEntries: (entries) => entries.map((e) => (e.name === 'oci-layout' ? { ...e, content: 'pwned\n' } : e)),
    }),
  );
  const err = await t.throwsAsync(loadImages(store, { path: archive }));
  t.is((err as { code?: string }).code, 'EINVALIDARCHIVE');
  t.is(err!.message, `${archive}: oci-layout: invalid JSON: Unexpected token 'p', "pwned\\n" is not valid JSON`);
});
