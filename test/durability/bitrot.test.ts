import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadImages } from '../../src/transfer/load.js';
import { findImage } from '../../src/image/lookup.js';
import { checkStore } from '../../src/check/check.js';
import { deepCheckLayer } from '../../src/check/deep.js';
import type { Store } from '../../src/store/root.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { strataProcess } from '../helpers/cli.js';
import { buildImageWithInfo, type LayerEntry } from '../helpers/image-builder.js';
import { overlayFormatSkipReason } from '../helpers/both-formats.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { commandSkipReason } from '../helpers/tools.js';

const run = promisify(execFile);

/*
 * Bit rot: one flipped byte anywhere strata keeps content is found. A stored blob is
 * checked against its name by `check`; a file of an unpacked layer against the
 * digest recorded while it was unpacked (files.sha256) by `check --deep`.
 */
const layers: LayerEntry[][] = [
  [
    { path: 'etc/', type: 'dir' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { path: 'etc/hostname', content: 'rot\n' },
    { path: 'bin/', type: 'dir' },
    { path: 'bin/busybox', size: 3 * 1024 * 1024 + 17, seed: 'busybox', mode: 0o755 },
    { path: 'bin/ls', type: 'hardlink', linkname: 'bin/busybox' },
    { path: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { path: 'secret/', type: 'dir', mode: 0o000 },
    { path: 'secret/key', content: 'k', mode: 0o000 },
    { path: 'odd/', type: 'dir' },
    { path: 'odd/new\nline', content: 'a name with a newline\n' },
    { path: 'odd/back\\slash', content: 'and a backslash\n' },
    { path: 'odd/empty', content: '' },
  ],
  [
    { path: 'etc/hostname', type: 'whiteout' },
    { path: 'etc/motd', content: 'hello\n' },
  ],
];

async function loaded(t: ExecutionContext, whiteoutFormat: WhiteoutFormat = 'oci'): Promise<{ store: Store; chain: string[] }> {
  const { store, dir } = await tmpStore(t, { whiteoutFormat });
  const { tar } = await buildImageWithInfo({ format: 'oci', repoTags: ['rot:1'], layers, compression: 'gzip' });
  await fs.writeFile(path.join(dir, 'rot.tar'), tar);
  await loadImages(store, { path: path.join(dir, 'rot.tar') });
  const image = await findImage(store, 'rot:1');
  return { store, chain: image.layers.map((l) => l.chainId) };
}

/** Flips the lowest bit of the byte at `offset` (default: the middle) of a file, whatever its mode. */
async function flipByte(file: string, offset?: number): Promise<void> {
  const st = await fs.stat(file);
  await fs.chmod(file, 0o644);
  const handle = await fs.open(file, 'r+');
  try {
    const at = offset ?? Math.floor(st.size / 2);
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0]! ^= 1;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
  await fs.chmod(file, st.mode & 0o7777);
  await fs.utimes(file, st.atime, st.mtime); // bit rot leaves no trace in the metadata
}

// The by-hand check: secret/ is mode 000, which only root can read.
const byHandSkipReason = firstReason(
  process.geteuid?.() === 0 ? null : 'secret/ is mode 000, which only root can read by hand',
  await commandSkipReason('sha256sum', ['--version'], 'sha256sum is not installed'),
);

test('one flipped byte in a stored blob is reported by check, naming the blob', async (t) => {
  const { store } = await loaded(t);
  t.deepEqual((await checkStore(store)).problems, []);
  const image = await findImage(store, 'rot:1');
  const blob = store.paths.blob(image.layers[0]!.blobDigest);
  await flipByte(blob);

  const { problems } = await checkStore(store);
  const corrupt = problems.filter((p) => p.kind === 'blob-corrupt');
  t.deepEqual(
    corrupt.map((p) => p.path),
    [blob],
  );
  t.regex(corrupt[0]!.message, /content does not match its digest/);
});

test('unpacking records the sha256 of every regular file beside the layer, in sha256sum format', async (t) => {
  const { store, chain } = await loaded(t);
  const sidecar = path.join(store.paths.layerDir(chain[0]!), 'files.sha256');
  const lines = (await fs.readFile(sidecar, 'utf8')).split('\n').filter(Boolean);
  const names = lines.map((l) => l.replace(/^\\?[0-9a-f]{64} {2}/, ''));
  t.deepEqual(names, [
    'bin/busybox',
    'bin/ls',
    'etc/hostname',
    'etc/passwd',
    'odd/back\\\\slash',
    'odd/empty',
    'odd/new\\nline',
    'secret/key',
  ]);
  t.true(lines.includes('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  odd/empty'));
  // The hardlink shares its target's content, and both paths are listed.
  t.is(lines.find((l) => l.endsWith('  bin/ls'))!.slice(0, 64), lines.find((l) => l.endsWith('  bin/busybox'))!.slice(0, 64));
  // The whiteout of the top layer (an empty .wh. file in the oci format) is a file of that layer too.
  const top = (await fs.readFile(path.join(store.paths.layerDir(chain[1]!), 'files.sha256'), 'utf8')).split('\n').filter(Boolean);
  t.deepEqual(
    top.map((l) => l.slice(66)),
    ['etc/.wh.hostname', 'etc/motd'],
  );
});

testUnless(byHandSkipReason)('files.sha256 verifies by hand with sha256sum -c', async (t) => {
  const { store, chain } = await loaded(t);
  const sidecar = path.join(store.paths.layerDir(chain[0]!), 'files.sha256');
  const { stdout } = await run('sha256sum', ['-c', '--strict', sidecar], { cwd: store.paths.layerDiff(chain[0]!) });
  t.is(stdout.split('\n').filter((l) => l.endsWith(': OK')).length, 8);
});

test('deep check passes an intact store and reports one flipped byte in a layer file, naming the file', async (t) => {
  const { store, chain } = await loaded(t);
  for (const chainId of chain) t.deepEqual(await deepCheckLayer(store, chainId), [], 'intact after load');

  const file = path.join(store.paths.layerDiff(chain[0]!), 'etc', 'passwd');
  await flipByte(file, 3);
  const problems = await deepCheckLayer(store, chain[0]!);
  t.deepEqual(
    problems.map((p) => [p.kind, p.path]),
    [['layer-corrupt', file]],
  );
  t.regex(
    problems[0]!.message,
    /content does not match the digest recorded at unpack \(recorded sha256:[0-9a-f]{64}, found sha256:[0-9a-f]{64}\)$/,
  );
  t.true(problems[0]!.message.startsWith(file));
  t.deepEqual(await deepCheckLayer(store, chain[1]!), [], 'the other layer is not blamed');
});

testUnless(overlayFormatSkipReason)(
  'deep check in the kernel (overlay) whiteout format: device whiteouts are not files, rot is still found',
  async (t) => {
    const { store, chain } = await loaded(t, 'overlay');
    const top = (await fs.readFile(path.join(store.paths.layerDir(chain[1]!), 'files.sha256'), 'utf8')).split('\n').filter(Boolean);
    t.deepEqual(
      top.map((l) => l.slice(66)),
      ['etc/motd'],
      'the 0/0 device of the whiteout is not listed',
    );
    for (const chainId of chain) t.deepEqual(await deepCheckLayer(store, chainId), []);
    const file = path.join(store.paths.layerDiff(chain[1]!), 'etc', 'motd');
    await flipByte(file, 0);
    t.deepEqual(
      (await deepCheckLayer(store, chain[1]!)).map((p) => p.path),
      [file],
    );
  },
);

test('deep check finds rot in a big file, a hardlinked inode, an unreadable directory and odd names', async (t) => {
  const { store, chain } = await loaded(t);
  const diff = store.paths.layerDiff(chain[0]!);
  await flipByte(path.join(diff, 'bin', 'busybox'), 3 * 1024 * 1024 + 5); // past the first MiB read
  await fs.chmod(path.join(diff, 'secret'), 0o700);
  await flipByte(path.join(diff, 'secret', 'key'), 0);
  await fs.chmod(path.join(diff, 'secret'), 0o000);
  await flipByte(path.join(diff, 'odd', 'new\nline'));
  const problems = await deepCheckLayer(store, chain[0]!);
  // busybox and ls are one inode: both paths hold the rotten bytes.
  t.deepEqual(
    problems.map((p) => p.path).sort(),
    ['bin/busybox', 'bin/ls', 'odd/new\nline', 'secret/key'].map((p) => path.join(diff, p)).sort(),
  );
  t.is((await fs.stat(path.join(diff, 'secret'))).mode & 0o777, 0, 'the 000 directory is left as it was');
});

test('deep check reports a missing file, an added file, a file turned symlink and a lost files.sha256', async (t) => {
  const { store, chain } = await loaded(t);
  const diff = store.paths.layerDiff(chain[0]!);
  await fs.rm(path.join(diff, 'etc', 'hostname'));
  await fs.writeFile(path.join(diff, 'etc', 'shadow'), 'root::0:0\n');
  await fs.rm(path.join(diff, 'odd', 'empty'));
  await fs.symlink('/etc/passwd', path.join(diff, 'odd', 'empty'));
  const problems = await deepCheckLayer(store, chain[0]!);
  const by = (name: string) => problems.find((p) => p.path === path.join(diff, name))?.message ?? '';
  t.is(problems.length, 3);
  t.regex(by('etc/hostname'), /missing: the file was in the layer when it was unpacked$/);
  t.regex(by('etc/shadow'), /was not in the layer when it was unpacked/);
  t.regex(by('odd/empty'), /was a regular file when unpacked, is now a symlink$/);

  const sidecar = path.join(store.paths.layerDir(chain[1]!), 'files.sha256');
  await fs.rm(sidecar);
  t.deepEqual(
    (await deepCheckLayer(store, chain[1]!)).map((p) => [p.kind, p.path]),
    [['layer-corrupt', sidecar]],
  );
});

test('check --deep on the command line names the rotten file', async (t) => {
  const { store, chain } = await loaded(t);
  const clean = await strataProcess(store.root, ['check', '--deep']);
  t.is(clean.code, 0, clean.stderr);
  const file = path.join(store.paths.layerDiff(chain[1]!), 'etc', 'motd');
  await flipByte(file, 0);
  const result = await strataProcess(store.root, ['check', '--deep']);
  t.is(result.code, 1);
  t.true(
    result.stdout.split('\n').some((l) => l.startsWith(file) && /does not match/.test(l)),
    result.stdout,
  );
});
