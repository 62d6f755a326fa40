import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { strata } from '../helpers/cli.js';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import { dirManifest } from '../helpers/fs-manifest.js';
import { testUnless } from '../helpers/skip.js';
import { kernelMountSkipReason, mountsUnder, unmountAllOnTeardown } from '../helpers/mounts.js';
import { removeTree } from '../../src/store/atomic.js';

const run = promisify(execFile);

/**
 * Layer counts Docker cannot mount (it stops near 125) mount here, up to the kernel's
 * 500 lowers, and the mounted tree is what `export` writes. Past the limits the error
 * names the real cause, not the kernel's "special device overlay does not exist".
 */
const withKernel = testUnless(await kernelMountSkipReason());

/** `count` layers: each adds a file, every 7th deletes an earlier one, every 11th re-creates /opq opaque. */
function manyLayers(count: number): LayerEntry[][] {
  return Array.from({ length: count }, (_, i) => {
    const entries: LayerEntry[] = [
      { path: 'd/', mode: 0o755 },
      { path: `d/f${i}`, content: `layer ${i}\n` },
    ];
    if (i % 7 === 6) entries.push({ path: `d/f${i - 3}`, type: 'whiteout' });
    if (i % 11 === 0) entries.push({ path: 'opq/', type: 'opaque' }, { path: `opq/from-${i}`, content: String(i) });
    else entries.push({ path: 'opq/', mode: 0o755 }, { path: `opq/n${i}`, content: String(i) });
    return entries;
  });
}

async function storeWithLayers(t: ExecutionContext, count: number, root?: string) {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-mount-limits-'));
  t.teardown(() => removeTree(dir));
  const storeRoot = root === undefined ? path.join(dir, 'store') : path.join(dir, root);
  const s = (args: string[]) => strata(storeRoot, args);
  await fsp.mkdir(path.dirname(storeRoot), { recursive: true });
  t.is((await s(['info', '--format', 'json'])).code, 0);
  unmountAllOnTeardown(t, dir);
  await fsp.writeFile(path.join(dir, 'app.tar'), await buildImage({ format: 'oci', repoTags: ['app:1'], layers: manyLayers(count) }));
  const loaded = await s(['load', '-i', path.join(dir, 'app.tar')]);
  t.is(loaded.code, 0, loaded.stderr);
  t.is((await s(['create', '--name', 'c1', 'app:1'])).code, 0);
  return { dir, s };
}

for (const count of [1, 50, 128, 500]) {
  withKernel.serial(`${count} layer${count === 1 ? '' : 's'} mount, and the mounted tree equals export`, async (t) => {
    const { dir, s } = await storeWithLayers(t, count);
    const mounted = await s(['mount', 'c1']);
    t.is(mounted.code, 0, mounted.stderr);
    const merged = mounted.stdout.trim();
    t.is(fs.readFileSync(path.join(merged, 'd', `f${count - 1}`), 'utf8'), `layer ${count - 1}\n`);
    const tar = path.join(dir, 'c1.tar');
    t.is((await s(['export', '-o', tar, 'c1'])).code, 0);
    const out = path.join(dir, 'export');
    await fsp.mkdir(out);
    await run('tar', ['-xpf', tar, '-C', out, '--numeric-owner']);
    t.deepEqual(await dirManifest(merged), await dirManifest(out));
    t.is((await s(['umount', 'c1'])).code, 0);
    t.deepEqual(mountsUnder(dir), []);
  });
}

withKernel.serial('501 layers: the error names the kernel limit of 500 lower directories', async (t) => {
  const { dir, s } = await storeWithLayers(t, 501);
  const refused = await s(['mount', 'c1']);
  t.is(refused.code, 1);
  t.is(refused.stderr, "strata: 501 layers: the kernel's overlayfs stacks at most 500 lower directories\n");
  t.deepEqual(mountsUnder(dir), []);
  // A refused mount holds nothing: check has nothing to report.
  t.is((await s(['check'])).stdout, '');
  t.is((await s(['mount'])).stdout, '');
});

withKernel.serial('options past one page even with fds: the error says how many bytes and what the kernel takes', async (t) => {
  // A store ~2,000 bytes deep: upperdir= and workdir= alone take more than a page.
  const deep = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(98)}`).join('/');
  const { dir, s } = await storeWithLayers(t, 2, path.join(deep, 'store'));
  const refused = await s(['mount', 'c1']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^strata: 2 layers need (\d+) bytes of mount options; the kernel takes 4095\n$/);
  t.true(Number(/need (\d+) bytes/.exec(refused.stderr)?.[1]) > 4095);
  t.deepEqual(mountsUnder(dir), []);
  t.is((await s(['check'])).stdout, '');
});
