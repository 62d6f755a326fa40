/**
 * `check --deep` on a rootless store: a layer file it cannot open, or a directory it
 * cannot list, even after opening up the owner bits it may open, is a problem naming
 * the path and the reason — never skipped, and what lies below an unlistable
 * directory is not reported as "missing". The image's own 0000 files and
 * directories (the store user's) are read as before.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildImage } from '../helpers/image-builder.js';
import { handOver, sharedTempDir, strataUnprivileged, unprivilegedSkipReason } from '../helpers/unprivileged.js';
import { removeTree } from '../../src/store/atomic.js';

const skip =
  (await unprivilegedSkipReason()) ?? (process.geteuid?.() === 0 ? null : 'needs root, to make layer files the store user cannot reach');

(skip === null ? test : test.skip)(
  `check --deep reports a layer file it cannot read and a directory it cannot list${skip === null ? '' : ` [skipped: ${skip}]`}`,
  async (t) => {
    const dir = await sharedTempDir('strata-deep-unreadable-');
    t.teardown(() => removeTree(dir));
    const work = path.join(dir, 'work');
    await fs.mkdir(work);
    await handOver(work);
    const image = path.join(dir, 'app.tar');
    await fs.writeFile(
      image,
      await buildImage({
        format: 'oci',
        repoTags: ['app:1'],
        layers: [
          [
            { path: 'etc/', mode: 0o755 },
            { path: 'etc/shadow', content: 'root:*:1::\n', mode: 0 },
            { path: 'etc/own', content: 'own\n', mode: 0 },
            { path: 'locked/', mode: 0o755 },
            { path: 'locked/file', content: 'below\n', mode: 0o644 },
            { path: 'own/', mode: 0 },
            { path: 'own/file', content: 'below own\n', mode: 0 },
          ],
        ],
      }),
      { mode: 0o644 },
    );
    const root = path.join(work, 'store');
    const load = await strataUnprivileged(root, ['load', '-q', '-i', image], work);
    t.is(load.code, 0, load.stderr);

    const clean = await strataUnprivileged(root, ['check', '--deep'], work);
    t.is(clean.stdout, '', "the image's own 0000 files and directories are read as their owner");
    t.is(clean.code, 0, clean.stderr);

    const [layer] = (await fs.readdir(path.join(root, 'layers'))).filter((n) => /^[0-9a-f]{64}$/.test(n));
    const diff = path.join(root, 'layers', layer!, 'diff');
    // Not the store user's any more: it may not open them up.
    await fs.chown(path.join(diff, 'etc/shadow'), 0, 0);
    await fs.chown(path.join(diff, 'locked'), 0, 0);
    await fs.chmod(path.join(diff, 'locked'), 0o700);

    const result = await strataUnprivileged(root, ['check', '--deep'], work);
    t.is(result.code, 1, result.stderr);
    t.deepEqual(result.stdout.trim().split('\n').sort(), [
      `${path.join(diff, 'etc/shadow')}: cannot be read (EACCES)`,
      `${path.join(diff, 'locked')}: directory cannot be listed (EACCES), so the files below it cannot be verified`,
    ]);
    t.regex(result.stderr, /: 2 problems\n$/);
    // Read only: nothing of the layer changed mode.
    t.is((await fs.lstat(path.join(diff, 'own'))).mode & 0o7777, 0);
    t.is((await fs.lstat(path.join(diff, 'etc/own'))).mode & 0o7777, 0);
  },
);
