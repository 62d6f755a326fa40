/**
 * The rootless path, proven by running the unpack as nobody (uid 65534) from a root
 * test run: ownership and device nodes that an unprivileged user cannot make are
 * recorded in layer.json instead of being dropped, and 000 directories are still
 * filled (umoci#222).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getAttribute, setAttribute } from '@napi-rs/xattr';
import type { LayerRecord } from '../../src/layer/record.js';
import { diffIdOf, makeTar } from '../helpers/make-tar.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { setprivSkipReason } from '../helpers/tools.js';
import { isRoot, listTree } from './helpers.js';

const run = promisify(execFile);
const NOBODY = 65534;
const SCRIPT = fileURLToPath(new URL('./fixtures-rootless.js', import.meta.url));

const skipReason = firstReason(isRoot() ? null : 'becoming an unprivileged user needs root to start with', await setprivSkipReason());

testUnless(skipReason)('rootless unpack records owners and devices in layer.json and still fills 000 directories', async (t) => {
  const { dir } = await tmpStore(t);
  await fs.chmod(dir, 0o755);
  const home = path.join(dir, 'nobody');
  await fs.mkdir(home);
  await fs.chown(home, NOBODY, NOBODY);
  const tar = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/owned', content: 'o', uid: 1000, gid: 1000, mode: 0o640 },
    { name: 'etc/shadow', content: 's', gid: 42, mode: 0o640 },
    { name: 'etc/plain', content: 'p' },
    { name: 'home/', type: 'directory', uid: 1000, gid: 1000 },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
    { name: 'locked/', type: 'directory', mode: 0 },
    { name: 'locked/inner/', type: 'directory', mode: 0 },
    { name: 'locked/inner/file', content: 'deep', mode: 0o400 },
    { name: 'bin/su', content: '#!su', mode: 0o4755 },
    { name: 'etc/readonly', content: 'r', mode: 0o444, pax: { 'SCHILY.xattr.user.note': 'kept' } },
  ]);
  const tarFile = path.join(dir, 'layer.tar');
  await fs.writeFile(tarFile, tar, { mode: 0o644 });
  const storeRoot = path.join(home, 'store');
  const userXattrs = await setAttribute(tarFile, 'user.probe', 'y').then(
    () => true,
    () => false,
  );

  const { stdout } = await run('setpriv', [
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    '--clear-groups',
    process.execPath,
    SCRIPT,
    storeRoot,
    tarFile,
    diffIdOf(tar),
  ]);
  const { uid, record } = JSON.parse(stdout) as { uid: number; record: LayerRecord };
  t.is(uid, NOBODY);
  t.deepEqual(record.unapplied, {
    owners: {
      '/dev/sda': { uid: 0, gid: 6 },
      '/etc/owned': { uid: 1000, gid: 1000 },
      '/etc/shadow': { uid: 0, gid: 42 },
      '/home': { uid: 1000, gid: 1000 },
    },
    devices: {
      '/dev/null': { type: 'char', major: 1, minor: 3, mode: 0o666 },
      '/dev/sda': { type: 'block', major: 8, minor: 0, mode: 0o660 },
    },
    xattrs: userXattrs ? {} : { '/etc/readonly': { 'user.note': Buffer.from('kept').toString('base64') } },
  });
  t.is(record.entries, 12);

  const diff = path.join(storeRoot, 'layers', record.chainId.slice('sha256:'.length), 'diff');
  const entries = await listTree(diff);
  t.deepEqual(
    entries.map((e) => [e.path, e.type, e.mode]),
    [
      ['bin', 'dir', 0o755],
      ['bin/su', 'file', 0o4755],
      ['dev', 'dir', 0o755],
      ['dev/null', 'file', 0o600],
      ['dev/sda', 'file', 0o600],
      ['etc', 'dir', 0o755],
      ['etc/owned', 'file', 0o640],
      ['etc/plain', 'file', 0o644],
      ['etc/readonly', 'file', 0o444],
      ['etc/shadow', 'file', 0o640],
      ['home', 'dir', 0o755],
      ['locked', 'dir', 0],
      ['locked/inner', 'dir', 0],
      ['locked/inner/file', 'file', 0o400],
    ],
  );
  t.is(entries.find((e) => e.path === 'locked/inner/file')?.data, 'deep');
  // user.* xattrs need write access rootless: set before the file became read-only.
  if (userXattrs) t.is((await getAttribute(path.join(diff, 'etc/readonly'), 'user.note'))?.toString(), 'kept');
  else t.log('this file system refuses user.* xattrs: checked that the refusal is recorded instead');
  for (const e of entries) t.is((await fs.lstat(path.join(diff, e.path))).uid, NOBODY, `${e.path} belongs to the unpacking user`);
});
