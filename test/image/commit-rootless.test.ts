/**
 * Commit in a rootless store, run as an unprivileged user: owners and devices come
 * from what the store recorded (user.strata.meta), never from the files' real owner,
 * the record itself stays out of the layer, and 0000 files and directories the
 * container copied up are read although they refuse their owner.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildImage } from '../helpers/image-builder.js';
import { testUnless } from '../helpers/skip.js';
import { handOver, sharedTempDir, strataUnprivileged, unprivilegedSkipReason } from '../helpers/unprivileged.js';
import { entryLine, topLayerTar } from '../helpers/layer-listing.js';
import { parseTar } from '../helpers/raw-tar.js';
import { openStore } from '../../src/store/root.js';
import { removeTree } from '../../src/store/atomic.js';

const skip = await unprivilegedSkipReason();

testUnless(skip)('a rootless commit takes owners and devices from the store’s records and reads 0000 entries', async (t) => {
  const dir = await sharedTempDir('strata-commit-rootless-');
  t.teardown(() => removeTree(dir));
  const image = path.join(dir, 'app.tar');
  const layer = [
    { path: 'dev/' },
    { path: 'dev/null', type: 'char' as const, devmajor: 1, devminor: 3, mode: 0o666 },
    { path: 'locked/', mode: 0o000 },
    { path: 'locked/inner', content: 'in', mode: 0o644 },
    { path: 'secret', content: 'classified', mode: 0o000 },
  ];
  await fs.writeFile(image, await buildImage({ format: 'oci', repoTags: ['app:1'], layers: [layer] }), { mode: 0o644 });
  const work = path.join(dir, 'work');
  await fs.mkdir(work);
  await handOver(work);
  const root = path.join(work, 'store');
  const cli = async (...args: string[]) => {
    const result = await strataUnprivileged(root, args, work);
    t.is(result.stderr, '', args.join(' '));
    return result;
  };
  await cli('load', '-i', image);
  await cli('create', '--name', 'c1', 'app:1');
  await cli('fs', 'chown', 'c1', '1000:1000', '/secret');
  await cli('fs', 'chown', 'c1', '7:7', '/locked/inner');
  await cli('fs', 'chown', 'c1', '5:5', '/dev/null');
  await cli('fs', 'touch', 'c1', '/new');
  const committed = await cli('commit', 'c1', 'new:1');
  t.regex(committed.stdout, /^sha256:[0-9a-f]{64}\n$/);

  const store = await openStore({ root });
  t.true(store.info.rootless);
  const entries = parseTar(await topLayerTar(store, 'new:1'));
  t.deepEqual(entries.map(entryLine), [
    'dev/ dir 0755 0:0',
    'dev/null char 0666 5:5 1,3',
    'locked/ dir 0000 0:0',
    'locked/inner file 0644 7:7 "in"',
    'new file 0644 0:0 ""',
    'secret file 0000 1000:1000 "classified"',
  ]);
  t.deepEqual(
    entries.flatMap((e) => [...e.pax.keys()]),
    [],
    'no xattr of the store’s own',
  );
});
