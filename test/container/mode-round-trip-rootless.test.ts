/**
 * The mode round trip of mode-round-trip.test.ts in a rootless store, run as an
 * unprivileged user (uid 65534, setpriv): all 4096 file modes and the directory set
 * survive export, `cp CONTAINER:PATH -`, `cp CONTAINER:PATH HOSTDIR` and `cp -
 * CONTAINER:DIR`, although the 0000 files and the 0000/0200/0300 directories refuse
 * their owner. (`cp HOSTDIR CONTAINER:PATH` reads the host copy as the user, who
 * cannot read a 0000 file there any more than docker cp could.)
 */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildImage } from '../helpers/image-builder.js';
import { parseTar } from '../helpers/raw-tar.js';
import { DIR_MODES, LAYER, expected, hostModes, tarModes } from '../helpers/all-modes.js';
import { NOBODY, handOver, sharedTempDir, unprivilegedSkipReason } from '../helpers/unprivileged.js';
import { removeTree } from '../../src/store/atomic.js';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('./mode-round-trip-worker.js', import.meta.url));
const skip =
  (await unprivilegedSkipReason()) ?? (process.geteuid?.() === 0 ? null : 'needs root to start as, to drop to an unprivileged user');

(skip === null ? test : test.skip)(
  `a rootless store exports and copies every mode as it is${skip === null ? '' : ` [skipped: ${skip}]`}`,
  async (t) => {
    const dir = await sharedTempDir('strata-modes-rootless-');
    t.teardown(() => removeTree(dir));
    const work = path.join(dir, 'work');
    const out = path.join(work, 'out');
    await fs.mkdir(path.join(out, 'copied'), { recursive: true });
    await handOver(work);
    const image = path.join(dir, 'app.tar');
    await fs.writeFile(image, await buildImage({ format: 'oci', repoTags: ['app:1'], layers: [LAYER] }), { mode: 0o644 });

    const { stdout } = await run(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, WORKER, path.join(work, 'store'), image, out],
      { maxBuffer: 64 << 20 },
    );
    const result = JSON.parse(stdout) as { uid: number; rootless: boolean; view: { f: string[]; d: string[] } };
    t.is(result.uid, NOBODY);
    t.true(result.rootless);

    const exported = await fs.readFile(path.join(out, 'export.tar'));
    t.deepEqual(tarModes(exported, 'f/'), expected());
    t.deepEqual(tarModes(exported, 'd/'), expected(DIR_MODES));
    t.is(
      parseTar(exported)
        .find((e) => e.name === 'f/0000')
        ?.body.toString(),
      '0000\n',
    );
    t.is(
      parseTar(exported)
        .find((e) => e.name === 'd/0000/x')
        ?.body.toString(),
      'x\n',
    );
    t.deepEqual(tarModes(await fs.readFile(path.join(out, 'f.tar')), 'f/'), expected());
    t.deepEqual(tarModes(await fs.readFile(path.join(out, 'd.tar')), 'd/'), expected(DIR_MODES));
    t.deepEqual(await hostModes(path.join(out, 'copied', 'f')), expected());
    t.deepEqual(await hostModes(path.join(out, 'copied', 'd')), expected(DIR_MODES));
    t.is(await fs.readFile(path.join(out, 'copied', 'f', '0000'), 'utf8'), '0000\n');
    t.deepEqual(result.view.f, expected());
    t.deepEqual(result.view.d, expected(DIR_MODES));
  },
);
