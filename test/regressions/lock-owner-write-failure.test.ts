import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { testUnless } from '../helpers/skip.js';
import { loadImages } from '../../src/transfer/load.js';

const run = promisify(execFile);

/*
 * Found by the full-disk test under load: when writing a lock's owner.json failed
 * (ENOSPC there), the half-made lock instance `locks/.tmp-…-lock/` stayed behind,
 * and the store was no longer byte-for-byte what it was before the failed command.
 * A file-size limit of 0 makes the same write fail every time (EFBIG), on any disk.
 */
const prlimit = await run('prlimit', ['--version']).then(
  () => true,
  () => false,
);

testUnless(prlimit ? null : 'prlimit (util-linux) is not installed')(
  'a lock whose owner file cannot be written leaves nothing in locks/',
  async (t) => {
    const { store } = await tmpStore(t);
    await loadImages(store, { path: path.join(repoRoot, 'fixtures', 'demo.tar') });
    const err = await run('prlimit', [
      '--fsize=0',
      process.execPath,
      path.join(repoRoot, 'bin', 'strata.js'),
      '--root',
      store.paths.root,
      'tag',
      'demo:latest',
      'demo:two',
    ]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    t.is(err?.code, 1);
    t.is(err?.stderr, 'strata: EFBIG: file too large, write\n');
    t.deepEqual(await fs.readdir(path.join(store.paths.root, 'locks')), []);
    t.false((await fs.readFile(path.join(store.paths.root, 'tags.json'), 'utf8')).includes('demo:two'));
  },
);
