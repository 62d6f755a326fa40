/**
 * xattrs from pax SCHILY.xattr.* records survive byte-exact: set on the file where
 * the store can (security.capability on ping, as root), kept in layer.json as base64
 * where it cannot (rootless), never taken for overlayfs' or strata's own names.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getAttribute } from '@napi-rs/xattr';
import type { LayerRecord } from '../../src/layer/record.js';
import { recordedXattrs } from '../../src/layer/recorded-xattrs.js';
import { deepCheckLayer } from '../../src/check/deep.js';
import { checkStore } from '../../src/check/check.js';
import { diffIdOf, makeTar, paxRecord } from '../helpers/make-tar.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { setprivSkipReason } from '../helpers/tools.js';
import { isRoot, unpack, userXattrSkipReason } from './helpers.js';

const run = promisify(execFile);
const NOBODY = 65534;
const ROOTLESS_UNPACK = fileURLToPath(new URL('./fixtures-rootless.js', import.meta.url));
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
/** Not valid UTF-8, with NULs inside: what tar-stream's text decoding would have mangled. */
const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a, 0x00]);

function hasTool(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

const withUserXattrs = testUnless(await userXattrSkipReason());
const ping = await pingLayer();
const pingSkipReason = typeof ping === 'string' ? ping : null;
const setprivMissing = await setprivSkipReason();

withUserXattrs('binary xattr values are set byte-exact: all 256 byte values, NULs, invalid UTF-8', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await makeTar([
    {
      name: 'all',
      content: 'x',
      paxBytes: Buffer.concat([paxRecord('SCHILY.xattr.user.all', ALL_BYTES), paxRecord('SCHILY.xattr.user.bin', BINARY)]),
    },
    { name: 'dir/', type: 'directory', paxBytes: paxRecord('SCHILY.xattr.user.bin', BINARY) },
    // The last record of a name wins, as in tar-stream and Go.
    {
      name: 'twice',
      content: 'x',
      paxBytes: Buffer.concat([paxRecord('SCHILY.xattr.user.k', 'first'), paxRecord('SCHILY.xattr.user.k', BINARY)]),
    },
  ]);
  const { diff, record } = await unpack(store, tar);
  t.deepEqual(await getAttribute(path.join(diff, 'all'), 'user.all'), ALL_BYTES);
  t.deepEqual(await getAttribute(path.join(diff, 'all'), 'user.bin'), BINARY);
  t.deepEqual(await getAttribute(path.join(diff, 'dir'), 'user.bin'), BINARY);
  t.deepEqual(await getAttribute(path.join(diff, 'twice'), 'user.k'), BINARY);
  t.deepEqual(record.unapplied.xattrs, {});
});

testUnless(isRoot() ? null : 'trusted.* and security.* xattrs need root')(
  'as root, security.* and trusted.* binary values are set on the file',
  async (t) => {
    const { store } = await tmpStore(t);
    const tar = await makeTar([
      {
        name: 'f',
        content: 'x',
        paxBytes: Buffer.concat([paxRecord('SCHILY.xattr.trusted.bin', BINARY), paxRecord('SCHILY.xattr.security.test', ALL_BYTES)]),
      },
    ]);
    const { diff, record } = await unpack(store, tar);
    t.deepEqual(await getAttribute(path.join(diff, 'f'), 'trusted.bin'), BINARY);
    t.deepEqual(await getAttribute(path.join(diff, 'f'), 'security.test'), ALL_BYTES);
    t.deepEqual(record.unapplied.xattrs, {});
  },
);

withUserXattrs("overlayfs' and strata's own xattr names are never set and are recorded with a null value", async (t) => {
  const { store } = await tmpStore(t);
  const reserved = ['trusted.overlay.redirect', 'user.overlay.opaque', 'user.strata.meta'];
  const tar = await makeTar([
    {
      name: 'f',
      content: 'x',
      paxBytes: Buffer.concat([
        ...reserved.map((name) => paxRecord(`SCHILY.xattr.${name}`, 'y')),
        paxRecord('SCHILY.xattr.user.fine', 'ok'),
      ]),
    },
  ]);
  const { diff, record } = await unpack(store, tar);
  for (const name of reserved) t.is(await getAttribute(path.join(diff, 'f'), name), null, name);
  t.is((await getAttribute(path.join(diff, 'f'), 'user.fine'))?.toString(), 'ok');
  t.deepEqual(record.unapplied.xattrs, {
    '/f': { 'trusted.overlay.redirect': null, 'user.overlay.opaque': null, 'user.strata.meta': null },
  });
  t.deepEqual(recordedXattrs(record.unapplied, '/f'), new Map(reserved.map((name) => [name, null])));
});

test('an xattr of a namespace the store does not set is kept in layer.json as base64, not tried', async (t) => {
  const { store } = await tmpStore(t);
  const tar = await makeTar([{ name: 'f', content: 'x', paxBytes: paxRecord('SCHILY.xattr.system.nfs4_acl', BINARY) }]);
  const { record } = await unpack(store, tar);
  t.deepEqual(record.unapplied.xattrs, { '/f': { 'system.nfs4_acl': BINARY.toString('base64') } });
  t.deepEqual(recordedXattrs(record.unapplied, '/f').get('system.nfs4_acl'), BINARY);
});

test('layer records written before values were kept (a list of names) read as names without values', (t) => {
  const old = {
    owners: {},
    devices: {},
    xattrs: { '/f': ['trusted.overlay.redirect', 'security.capability'] },
  } as unknown as LayerRecord['unapplied'];
  t.deepEqual(
    recordedXattrs(old, '/f'),
    new Map([
      ['trusted.overlay.redirect', null],
      ['security.capability', null],
    ]),
  );
  t.deepEqual(recordedXattrs(old, '/missing'), new Map());
  t.deepEqual(recordedXattrs(old, '__proto__'), new Map());
});

test('xattr names and values Linux cannot hold are refused, naming the entry', async (t) => {
  const { store } = await tmpStore(t);
  const long = `user.${'n'.repeat(251)}`;
  let err = await t.throwsAsync(
    unpack(store, await makeTar([{ name: 'f', content: 'x', paxBytes: paxRecord(`SCHILY.xattr.${long}`, 'v') }])),
  );
  t.regex(err!.message, /: entry "f": xattr name "user\.n+" is not one Linux can hold \(1 to 255 bytes\)$/);
  err = await t.throwsAsync(
    unpack(store, await makeTar([{ name: 'f', content: 'x', paxBytes: paxRecord('SCHILY.xattr.user.big', Buffer.alloc(65537)) }])),
  );
  t.regex(err!.message, /: entry "f": xattr user\.big has a 65537-byte value, larger than Linux can hold \(65536 bytes\)$/);
  t.deepEqual(await fs.readdir(store.paths.layersDir), []);
});

test('a flood of xattr values stops at the per-layer limit (ELIMIT), not in an out-of-memory kill', async (t) => {
  const { store } = await tmpStore(t);
  const value = Buffer.alloc(60000, 7);
  const entries = Array.from({ length: 290 }, (_, i) => ({
    name: `f${i}`,
    content: '',
    paxBytes: paxRecord('SCHILY.xattr.security.big', value),
  }));
  const err = (await t.throwsAsync(unpack(store, await makeTar(entries)))) as Error & { code?: string };
  t.is(err.code, 'ELIMIT');
  t.regex(err.message, /layer carries more than the limit of 16777216 bytes of xattr values$/);
  t.deepEqual(await fs.readdir(store.paths.layersDir), []);
});

interface PingLayer {
  tar: Buffer;
  capability: Buffer;
}

/**
 * A file with cap_net_raw+ep packed by GNU tar with its xattrs, as real images carry
 * ping; made once when the file loads. A string is why it cannot be made here.
 */
async function pingLayer(): Promise<PingLayer | string> {
  if (!isRoot()) return 'setting a file capability needs root';
  for (const [cmd, args] of [
    ['setcap', ['-v']],
    ['getcap', ['-v']],
    ['tar', ['--version']],
  ] as const) {
    if (!hasTool(cmd, [...args])) return `${cmd} is not installed`;
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-ping-'));
  try {
    const src = path.join(dir, 'src');
    await fs.mkdir(path.join(src, 'bin'), { recursive: true });
    await fs.writeFile(path.join(src, 'bin/ping'), '#!/bin/sh\necho ping\n', { mode: 0o755 });
    try {
      execFileSync('setcap', ['cap_net_raw+ep', path.join(src, 'bin/ping')], { stdio: 'pipe' });
    } catch (err) {
      return `setcap failed here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`;
    }
    const capability = (await getAttribute(path.join(src, 'bin/ping'), 'security.capability'))!;
    const tarFile = path.join(dir, 'ping.tar');
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--format=posix', '-cf', tarFile, '-C', src, 'bin']);
    const tar = await fs.readFile(tarFile);
    if (!tar.includes('SCHILY.xattr.security.capability')) return 'this GNU tar did not write the capability as a SCHILY.xattr record';
    return { tar, capability };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The ping layer, in a test registered only when it could be made. */
function builtPing(): PingLayer {
  if (typeof ping === 'string') throw new Error(ping);
  return ping;
}

testUnless(pingSkipReason)(
  'a file capability packed by GNU tar --xattrs is on the unpacked file (getcap), and check --deep passes',
  async (t) => {
    const { store } = await tmpStore(t);
    const built = builtPing();
    const { diff, record } = await unpack(store, built.tar);
    const ping = path.join(diff, 'bin/ping');
    t.regex(execFileSync('getcap', [ping]).toString(), /bin\/ping cap_net_raw=ep\n$/);
    t.deepEqual(await getAttribute(ping, 'security.capability'), built.capability);
    t.deepEqual(record.unapplied.xattrs, {});
    t.deepEqual(await deepCheckLayer(store, record.chainId), []);
    const report = await checkStore(store);
    t.deepEqual(
      report.problems.filter((p) => p.kind.startsWith('layer')),
      [],
    );
  },
);

testUnless(firstReason(pingSkipReason, setprivMissing))(
  'rootless, the file capability is kept in layer.json as base64 of its exact bytes',
  async (t) => {
    const { dir } = await tmpStore(t);
    const built = builtPing();
    await fs.chmod(dir, 0o755);
    const home = path.join(dir, 'nobody');
    await fs.mkdir(home);
    await fs.chown(home, NOBODY, NOBODY);
    const tarFile = path.join(dir, 'ping.tar');
    await fs.writeFile(tarFile, built.tar, { mode: 0o644 });
    const { stdout } = await run('setpriv', [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      process.execPath,
      ROOTLESS_UNPACK,
      path.join(home, 'store'),
      tarFile,
      diffIdOf(built.tar),
    ]);
    const { uid, record } = JSON.parse(stdout) as { uid: number; record: LayerRecord };
    t.is(uid, NOBODY);
    t.deepEqual(record.unapplied.xattrs, { '/bin/ping': { 'security.capability': built.capability.toString('base64') } });
    t.deepEqual(recordedXattrs(record.unapplied, '/bin/ping').get('security.capability'), built.capability);
    const onDisk = path.join(home, 'store/layers', record.chainId.slice('sha256:'.length), 'diff/bin/ping');
    t.is(await getAttribute(onDisk, 'security.capability'), null);
  },
);
