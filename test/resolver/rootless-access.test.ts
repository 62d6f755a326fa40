/**
 * Rootless stores: the image's 0000 files and 0000/0100/0400 directories are files of
 * the store's own user, and the view still reaches them as root in the container
 * would — read, listed, looked up below, appended to (copy-up keeps mode 0000),
 * written, exported and copied out — while every mode on disk stays what it was.
 * Runs the view as uid 65534 (setpriv) from a root test run.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import { parseTar, type RawEntry } from '../helpers/raw-tar.js';
import { NOBODY, handOver, sharedTempDir, unprivilegedSkipReason } from '../helpers/unprivileged.js';
import { removeTree } from '../../src/store/atomic.js';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('./rootless-access-worker.js', import.meta.url));

/** A version-2 file capability (cap_net_raw+ep): what an unprivileged unpack cannot set and records in layer.json. */
const CAPABILITY = Buffer.from('0100000200200000000000000000000000000000', 'hex');

const LAYER: LayerEntry[] = [
  { path: 'bin/', mode: 0o755 },
  { path: 'bin/ping', content: '#!ping\n', mode: 0o755, xattrs: { 'security.capability': CAPABILITY } },
  { path: 'etc/', mode: 0o755 },
  { path: 'etc/shadow', content: 'root:*:1::\n', mode: 0, gid: 42 },
  { path: 'etc/locked', content: 'lower\n', mode: 0 },
  { path: 'd0000/', mode: 0 },
  { path: 'd0000/file', content: 'in 0000\n', mode: 0o644 },
  { path: 'd0000/link', type: 'symlink', linkname: 'file' },
  { path: 'd0000/sub/', mode: 0o755 },
  { path: 'd0000/sub/deep', content: 'deep\n', mode: 0o644 },
  { path: 'd0100/', mode: 0o100 },
  { path: 'd0100/file', content: 'in 0100\n', mode: 0o644 },
  { path: 'd0400/', mode: 0o400 },
  { path: 'd0400/file', content: 'in 0400\n', mode: 0o644 },
];

const skip =
  (await unprivilegedSkipReason()) ??
  (process.geteuid?.() === 0 ? null : 'needs root to start as, to look at what the unprivileged run left');

interface Outcome {
  ok?: unknown;
  error?: string;
}

function entry(entries: RawEntry[], name: string): RawEntry {
  const found = entries.find((e) => e.name === name);
  if (found === undefined) throw new Error(`${name} is not in the archive: ${entries.map((e) => e.name).join(', ')}`);
  return found;
}

const modeOf = async (p: string) => ((await fs.lstat(p)).mode & 0o7777).toString(8);

(skip === null ? test : test.skip)(
  `a rootless owner reaches its 0000 files and directories through the view${skip === null ? '' : ` [skipped: ${skip}]`}`,
  async (t) => {
    const dir = await sharedTempDir('strata-rootless-access-');
    t.teardown(() => removeTree(dir));
    const work = path.join(dir, 'work');
    const out = path.join(work, 'out');
    await fs.mkdir(out, { recursive: true });
    await handOver(work);
    const image = path.join(dir, 'app.tar');
    await fs.writeFile(image, await buildImage({ format: 'oci', repoTags: ['app:1'], layers: [LAYER] }), { mode: 0o644 });
    const storeRoot = path.join(work, 'store');

    const { stdout } = await run('setpriv', [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      process.execPath,
      WORKER,
      storeRoot,
      image,
      out,
    ]);
    const r = JSON.parse(stdout) as Record<string, Outcome> & { uid: number; rootless: boolean };
    t.is(r.uid, NOBODY);
    t.true(r.rootless);
    const ok = (name: string) => r[name] as Outcome;
    t.deepEqual(ok('read /etc/shadow'), { ok: 'root:*:1::\n' });
    t.deepEqual(ok('mode /etc/shadow'), { ok: '0' });
    t.deepEqual(ok('owner /etc/shadow'), { ok: '0:42' });
    t.deepEqual(ok('list /d0000'), { ok: ['file', 'link', 'sub'] });
    t.deepEqual(ok('list /d0100'), { ok: ['file'] });
    t.deepEqual(ok('list /d0400'), { ok: ['file'] });
    t.deepEqual(ok('read /d0000/sub/deep'), { ok: 'deep\n' });
    t.deepEqual(ok('read /d0100/file'), { ok: 'in 0100\n' });
    t.deepEqual(ok('read /d0400/file'), { ok: 'in 0400\n' });
    t.deepEqual(ok('readlink /d0000/link'), { ok: 'file' });
    t.deepEqual(ok('read through /d0000/link'), { ok: 'in 0000\n' });
    t.deepEqual(ok('append /etc/locked'), { ok: null });
    t.deepEqual(ok('read /etc/locked after append'), { ok: 'lower\nmore\n' });
    t.deepEqual(ok('mode /etc/locked after append'), { ok: '0' });
    t.deepEqual(ok('layer /etc/locked after append'), { ok: 'upper' });
    t.deepEqual(ok('write upper /etc/locked'), { ok: null });
    t.deepEqual(ok('append upper /etc/locked'), { ok: null });
    t.deepEqual(ok('read upper /etc/locked'), { ok: 'rewritten\nagain\n' });
    t.deepEqual(ok('truncate upper /etc/locked'), { ok: 'rewr' });
    t.deepEqual(ok('chown upper /etc/locked'), { ok: '7:8 0' });
    t.deepEqual(ok('chown lower /d0000/file'), { ok: '5:0 644 upper' });
    t.deepEqual(ok('chown lower /etc/shadow'), { ok: '5:42 0 upper' });
    t.deepEqual(ok('lchown lower /d0000/link'), { error: 'EPERM' });
    t.deepEqual(ok('append /d0000/sub/deep'), { ok: 'deep\nmore\n' });
    t.deepEqual(ok('export'), { ok: 14 });
    t.deepEqual(ok('cp /d0000 -'), { ok: 5 });
    t.deepEqual(ok('cp /d0000 HOSTDIR'), { ok: 5 });
    t.deepEqual(ok('cp /etc/shadow HOSTDIR'), { ok: 1 });

    // The export: every mode as in the image, the content behind it, and the capability
    // the unprivileged unpack could only record in layer.json.
    const exported = parseTar(await fs.readFile(path.join(out, 'export.tar')));
    t.deepEqual(
      exported.map((e) => `${e.name} ${e.mode.toString(8)}`),
      [
        'bin/ 755',
        'bin/ping 755',
        'd0000/ 0',
        'd0000/file 644',
        'd0000/link 777',
        'd0000/sub/ 755',
        'd0000/sub/deep 644',
        'd0100/ 100',
        'd0100/file 644',
        'd0400/ 400',
        'd0400/file 644',
        'etc/ 755',
        'etc/locked 0',
        'etc/shadow 0',
      ],
    );
    t.is(entry(exported, 'etc/shadow').body.toString(), 'root:*:1::\n');
    t.is(entry(exported, 'etc/locked').body.toString(), 'rewr');
    t.is(entry(exported, 'etc/locked').uid, 7);
    t.is(entry(exported, 'd0000/file').uid, 5);
    t.is(entry(exported, 'etc/shadow').uid, 5);
    t.is(entry(exported, 'd0000/sub/deep').body.toString(), 'deep\nmore\n');
    t.is(entry(exported, 'd0400/file').body.toString(), 'in 0400\n');
    t.deepEqual([...entry(exported, 'bin/ping').pax.entries()], [['SCHILY.xattr.security.capability', CAPABILITY]]);

    const archived = parseTar(await fs.readFile(path.join(out, 'd0000.tar')));
    t.deepEqual(
      archived.map((e) => `${e.name} ${e.mode.toString(8)} ${e.body.toString()}`),
      ['d0000/ 0 ', 'd0000/file 644 in 0000\n', 'd0000/link 777 ', 'd0000/sub/ 755 ', 'd0000/sub/deep 644 deep\nmore\n'],
    );

    const copied = path.join(out, 'copied');
    t.is(await modeOf(copied), '0');
    t.is(await fs.readFile(path.join(copied, 'file'), 'utf8'), 'in 0000\n');
    t.is(await fs.readFile(path.join(copied, 'sub', 'deep'), 'utf8'), 'deep\nmore\n');
    t.is(await modeOf(path.join(out, 'shadow')), '0');
    t.is(await fs.readFile(path.join(out, 'shadow'), 'utf8'), 'root:*:1::\n');

    // Nothing was left opened up: the layer and the upper dir keep the image's modes.
    const layers = path.join(storeRoot, 'layers');
    const [layer] = (await fs.readdir(layers)).filter((n) => /^[0-9a-f]{64}$/.test(n));
    const diff = path.join(layers, layer!, 'diff');
    t.deepEqual(await Promise.all(['etc/shadow', 'etc/locked', 'd0000', 'd0100', 'd0400'].map((p) => modeOf(path.join(diff, p)))), [
      '0',
      '0',
      '0',
      '100',
      '400',
    ]);
    const [container] = await fs.readdir(path.join(storeRoot, 'containers'));
    const upper = path.join(storeRoot, 'containers', container!, 'upper');
    t.deepEqual(await Promise.all(['etc/locked', 'd0000', 'd0000/sub', 'd0000/sub/deep'].map((p) => modeOf(path.join(upper, p)))), [
      '0',
      '0',
      '755',
      '644',
    ]);
    t.is((await fs.lstat(path.join(upper, 'etc/locked'))).uid, NOBODY);
  },
);
